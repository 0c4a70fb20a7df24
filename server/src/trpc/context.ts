// Two-layer context: createContextInner for tests (no HTTP), createContext for
// express, which reads the session cookie and request facts.
import type { Request, Response } from 'express';
import type { Deps } from '../deps.ts';
import { SESSION_COOKIE, type Session, type SessionUser } from '../auth/session.ts';
import { expressCookies, readCookie, type CookieWriter } from '../auth/cookies.ts';
import { isAllowedOrigin } from './csrf.ts';
import { GUEST_ERROR, VALIDATED_SESSION } from './guest-bootstrap.ts';

export interface CookieOptions {
  maxAgeSeconds?: number;
}

export interface RequestMeta {
  ip: string;
  userAgent?: string | undefined;
  requestId: string;
}

export interface Context {
  deps: Deps;
  user: SessionUser | null;
  session: Session | null;
  meta: RequestMeta;
  cookies: CookieWriter;
  /** False when a state-changing request came from a foreign Origin. */
  originOk: boolean;
  /** Why a guest session could not be created in front of tRPC (e.g. the guest limit). */
  guestError?: unknown;
}

export const noopCookies: CookieWriter = { setSession: () => {}, clearSession: () => {} };

export function createContextInner(opts: {
  deps: Deps;
  user?: SessionUser | null;
  session?: Session | null;
  meta?: Partial<RequestMeta>;
  cookies?: CookieWriter;
  originOk?: boolean;
}): Context {
  return {
    deps: opts.deps,
    user: opts.user ?? null,
    session: opts.session ?? null,
    meta: { ip: opts.meta?.ip ?? '127.0.0.1', userAgent: opts.meta?.userAgent, requestId: opts.meta?.requestId ?? 'test' },
    cookies: opts.cookies ?? noopCookies,
    originOk: opts.originOk ?? true,
  };
}

export function contextFactory(deps: Deps) {
  const secure = deps.env.NODE_ENV === 'production';
  return async ({ req, res }: { req: Request; res: Response }): Promise<Context> => {
    const cookies = expressCookies(res, secure);
    const meta: RequestMeta = {
      ip: req.ip ?? req.socket.remoteAddress ?? 'unknown',
      userAgent: req.get('user-agent'),
      requestId: String((req as { id?: unknown }).id ?? ''),
    };
    let user: SessionUser | null = null;
    let session: Session | null = null;
    const token = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (token) {
      const validated = (req as Request & { [VALIDATED_SESSION]?: { token: string; found: Awaited<ReturnType<Deps['sessions']['validate']>> } })[
        VALIDATED_SESSION
      ];
      const found = validated?.token === token ? validated.found : await deps.sessions.validate(token);
      if (found) {
        user = found.user;
        session = found.session;
        if (found.renewed) cookies.setSession(token, found.session.expiresAt);
      } else {
        cookies.clearSession();
      }
    }
    const guestError = (req as Request & { [GUEST_ERROR]?: unknown })[GUEST_ERROR];
    return { deps, user, session, meta, cookies, originOk: isAllowedOrigin(req, deps.env.APP_ORIGIN), guestError };
  };
}
