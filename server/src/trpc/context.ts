// Two-layer context: createContextInner for tests (no HTTP), createContext for
// express, which reads the session cookie and request facts.
import type { Request, Response } from 'express';
import type { Deps } from '../deps.ts';
import type { Session, SessionUser } from '../auth/session.ts';
import { expressCookies, type CookieWriter } from '../auth/cookies.ts';
import { readRequestSession, type RequestSession } from '../auth/request-auth.ts';
import { isAllowedOrigin } from './csrf.ts';
import { GUEST_ERROR } from './guest-bootstrap.ts';

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
  /**
   * Set when `user` came from the instance's session cache (the streamed chats only,
   * auth/request-auth.ts): reads the session again from the database.
   */
  recheck?: () => Promise<RequestSession | null>;
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
    const found = await readRequestSession(deps, req, res);
    const guestError = (req as Request & { [GUEST_ERROR]?: unknown })[GUEST_ERROR];
    return {
      deps,
      user: found?.user ?? null,
      session: found?.session ?? null,
      meta,
      cookies,
      originOk: isAllowedOrigin(req, deps.env.APP_ORIGIN),
      guestError,
      ...(found?.cached ? { recheck: () => readRequestSession(deps, req, res, { fresh: true }) } : {}),
    };
  };
}
