// The one place a request's session is read and a guest session is started, for the tRPC
// context, the guest bootstrap in front of tRPC and the plain HTTP routes alike: the cookie
// is validated once per request (renewed when due, cleared when it no longer opens a
// session), and a guest is created only after a solved captcha.
import type { Request, Response } from 'express';
import type { Deps } from '../deps.ts';
import { AppError } from '../lib/app-error.ts';
import type { RequestInfo, SignedIn } from './auth-service.ts';
import { expressCookies, readCookie } from './cookies.ts';
import { SESSION_COOKIE, type Session, type SessionUser } from './session.ts';

export interface RequestSession {
  session: Session;
  user: SessionUser;
  /** Read from this instance's session cache (a streamed chat's; SessionService.validateCached). */
  cached?: boolean;
}

/**
 * The procedures whose session may come from the instance's cache: the streamed chats, whose
 * reservation checks it again in the database (routers/chat.ts), each alone in its request.
 */
const CACHED_SESSION_PATHS = new Set(['/chat.send', '/chat.regenerate', '/chat.edit']);

function cachedSessionAllowed(req: Request): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url;
  const q = url.indexOf('?');
  return CACHED_SESSION_PATHS.has(q === -1 ? url : url.slice(0, q));
}

/** What this request's cookie was found to open, kept on the request so later readers do not query again. */
const READ = Symbol('requestSession');
type Read = { token: string; found: RequestSession | null };

/**
 * The session the request's cookie opens, or null. Validated once per request and token (the guest
 * bootstrap, then the tRPC context, read the same answer); a renewed session's cookie is written once,
 * and a cookie that opens nothing is cleared.
 */
export async function readRequestSession(
  deps: Pick<Deps, 'sessions' | 'env'>,
  req: Request,
  res: Response,
  /** `fresh`: from the database even if already read (a cached session was refused or is in doubt). */
  options: { fresh?: boolean } = {},
): Promise<RequestSession | null> {
  const token = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (!token) return null;
  const holder = req as Request & { [READ]?: Read };
  const read = holder[READ];
  if (read?.token === token && !options.fresh) return read.found;
  const found = !options.fresh && cachedSessionAllowed(req) ? await deps.sessions.validateCached(token) : await deps.sessions.validate(token);
  holder[READ] = { token, found: found ? { session: found.session, user: found.user, ...('cached' in found && found.cached ? { cached: true } : {}) } : null };
  const cookies = expressCookies(res, deps.env.NODE_ENV === 'production');
  if (!found) cookies.clearSession();
  else if (found.renewed) cookies.setSession(token, found.session.expiresAt);
  return holder[READ].found;
}

/** Refuses with `captcha_required` unless the captcha is solved (or CAPTCHA=off); a solution is accepted once. */
export async function requireCaptcha(deps: Pick<Deps, 'captcha'>, captcha: string | undefined): Promise<void> {
  if (!(await deps.captcha.verify(captcha))) {
    throw new AppError('captcha_required', 'Please complete the check that you are human first.');
  }
}

/** A bounded guest session for a visitor who solved the captcha (the guest limit per network applies). */
export async function startGuest(deps: Pick<Deps, 'captcha' | 'auth'>, captcha: string | undefined, info: RequestInfo): Promise<SignedIn> {
  await requireCaptcha(deps, captcha);
  return deps.auth.createGuest(info);
}

export type RouteSession = { user: SessionUser } | { status: 401 | 403; reason: 'unauthenticated' | 'blocked'; message: string };

/** The session of a plain HTTP route (not tRPC): as tRPC's, and refused for a blocked account. */
export async function routeSession(deps: Pick<Deps, 'sessions' | 'env'>, req: Request, res: Response): Promise<RouteSession> {
  const found = await readRequestSession(deps, req, res);
  if (!found) return { status: 401, reason: 'unauthenticated', message: 'Please sign in first.' };
  if (found.user.blockedAt) return { status: 403, reason: 'blocked', message: 'This account has been blocked. Contact support.' };
  return { user: found.user };
}
