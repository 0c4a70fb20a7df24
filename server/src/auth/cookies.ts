// The session cookie over HTTP: read from a Cookie header, written on an express
// response. Used by the tRPC context, the guest bootstrap and the plain HTTP routes.
import type { Response } from 'express';
import { SESSION_COOKIE } from './session.ts';

export interface CookieWriter {
  setSession(token: string, expiresAt: Date): void;
  clearSession(): void;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function expressCookies(res: Response, secure: boolean): CookieWriter {
  const base = { httpOnly: true, sameSite: 'lax' as const, path: '/', secure };
  // The last word about the session cookie is the only one sent (e.g. an expired cookie cleared, then a guest session set).
  const dropEarlier = () => {
    const earlier = res.getHeader('Set-Cookie');
    if (Array.isArray(earlier))
      res.setHeader(
        'Set-Cookie',
        earlier.filter((line) => !line.startsWith(`${SESSION_COOKIE}=`)),
      );
    else if (typeof earlier === 'string' && earlier.startsWith(`${SESSION_COOKIE}=`)) res.removeHeader('Set-Cookie');
  };
  return {
    setSession: (token, expiresAt) => {
      if (res.headersSent) return;
      dropEarlier();
      res.cookie(SESSION_COOKIE, token, { ...base, expires: expiresAt });
    },
    clearSession: () => {
      if (res.headersSent) return;
      dropEarlier();
      res.clearCookie(SESSION_COOKIE, base);
    },
  };
}
