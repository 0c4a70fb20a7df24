// A visitor's first chat message creates a guest session. chat.send streams
// (httpBatchStreamLink), and a streamed response's headers go out before any
// procedure runs, so the session cookie is set here, in front of tRPC: the
// request then reaches createContext with the new session. A refusal (captcha,
// guest limit) is left for the procedure to report in the contract's shape.
import type { NextFunction, Request, Response } from 'express';
import type { Deps } from '../deps.ts';
import { isAppError } from '../lib/app-error.ts';
import { SESSION_COOKIE } from '../auth/session.ts';
import { expressCookies } from '../auth/cookies.ts';
import { readRequestSession, startGuest } from '../auth/request-auth.ts';

export const GUEST_ERROR = Symbol('guestBootstrapError');

function captchaFrom(raw: unknown): string | undefined {
  // trpc/body.ts leaves the body as text for tRPC to parse; JSON.parse takes any depth, and only three keys are read.
  let body = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  if (!body || typeof body !== 'object') return undefined;
  const first = (body as Record<string, unknown>)['0'] ?? body;
  const json = (first as { json?: unknown } | undefined)?.json ?? first;
  const captcha = (json as { captcha?: unknown } | undefined)?.captcha;
  return typeof captcha === 'string' ? captcha : undefined;
}

export function guestBootstrap(deps: Deps) {
  const secure = deps.env.NODE_ENV === 'production';
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (req.method !== 'POST' || req.path !== '/chat.send') return next();
      // Read once here; createContext gets the same answer without a second query.
      if (await readRequestSession(deps, req, res)) return next();
      const signedIn = await startGuest(deps, captchaFrom(req.body), { ip: req.ip ?? 'unknown', userAgent: req.get('user-agent') });
      expressCookies(res, secure).setSession(signedIn.token, signedIn.expiresAt);
      const others = (req.headers.cookie ?? '').split(';').filter((part) => part.trim() && part.split('=')[0]!.trim() !== SESSION_COOKIE);
      req.headers.cookie = [...others, `${SESSION_COOKIE}=${encodeURIComponent(signedIn.token)}`].join('; ');
      next();
    } catch (error) {
      if (isAppError(error)) {
        (req as Request & { [GUEST_ERROR]?: unknown })[GUEST_ERROR] = error;
        return next();
      }
      next(error);
    }
  };
}
