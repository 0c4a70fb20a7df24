// The session of a plain HTTP route (not tRPC): read from the cookie, renewed
// like tRPC's context does, refused for a blocked account.
import type { Request, Response } from 'express';
import type { Deps } from '../deps.ts';
import { expressCookies, readCookie } from './cookies.ts';
import { SESSION_COOKIE, type SessionUser } from './session.ts';

export type RouteSession = { user: SessionUser } | { status: 401 | 403; reason: 'unauthenticated' | 'blocked'; message: string };

export async function routeSession(deps: Pick<Deps, 'sessions' | 'env'>, req: Request, res: Response): Promise<RouteSession> {
  const token = readCookie(req.headers.cookie, SESSION_COOKIE);
  const found = token ? await deps.sessions.validate(token) : null;
  if (!token || !found) return { status: 401, reason: 'unauthenticated', message: 'Please sign in first.' };
  if (found.renewed) expressCookies(res, deps.env.NODE_ENV === 'production').setSession(token, found.session.expiresAt);
  if (found.user.blockedAt) return { status: 403, reason: 'blocked', message: 'This account has been blocked. Contact support.' };
  return { user: found.user };
}
