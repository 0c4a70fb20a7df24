// Sessions as lucia-auth.com's guide describes them (docs/decisions/001-own-sessions.md):
// the token the browser holds is `<id>.<secret>`; the database keeps the id and
// only a SHA-256 hash of the secret, compared in constant time. Expiry slides:
// a session used in the second half of its life is extended.
import { hash } from 'node:crypto';
import { constantTimeEqual } from '@oslojs/crypto/subtle';
import { encodeBase32LowerCaseNoPadding } from '@oslojs/encoding';
import type { PrismaClient, SqlQuery } from '@chatmeter/db/client';
import type { TRole } from '@chatmeter/shared/auth';
import { LIVE_STATUSES } from '../plans/live-statuses.ts';
import { BoundedMap } from '../lib/bounded-map.ts';
import { coarseIp } from '../lib/ip.ts';

export const SESSION_COOKIE = 'cm_session';
const DAY_MS = 24 * 60 * 60 * 1000;
/** lastSeenAt is written at most this often, so reads stay reads. */
const LAST_SEEN_RESOLUTION_MS = 60 * 1000;
/** Sessions an instance keeps in its cache (validateCached). */
const CACHED_SESSIONS = 10_000;

interface CachedSession {
  secretHash: Uint8Array;
  session: Session;
  user: SessionUser;
}

export interface SessionUser {
  id: string;
  email: string | null;
  role: TRole;
  planId: string;
  isGuest: boolean;
  blockedAt: Date | null;
  /** When the e-mail address was proven; null: never (guests, unverified password sign-ups). */
  emailVerifiedAt: Date | null;
  /** Has a live subscription (billing's LIVE_STATUSES), as of the session lookup; unknown when absent. */
  subscribed?: boolean;
}

export interface Session {
  id: string;
  userId: string;
  expiresAt: Date;
  lastSeenAt: Date;
}

export interface SessionMeta {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

function randomString(): string {
  const bytes = new Uint8Array(15); // 120 bits
  crypto.getRandomValues(bytes);
  return encodeBase32LowerCaseNoPadding(bytes);
}

/** SHA-256 of the secret's UTF-8 bytes, node:crypto's one-shot (@oslojs/crypto's JS one cost a streamed chat about 0.7 % of the server's CPU). */
export function hashSecret(secret: string): Uint8Array {
  return new Uint8Array(hash('sha256', secret, 'buffer'));
}

export class SessionService {
  private readonly lifetimeMs: number;
  /** The last lookup of each session on this instance (validateCached); never a blocked user's. */
  private readonly cache = new BoundedMap<string, CachedSession>(CACHED_SESSIONS);

  /** `query` runs the per-request lookup outside Prisma (Database.query): it is on every request's path. */
  constructor(
    private readonly prisma: PrismaClient,
    lifetimeDays: number,
    private readonly query: SqlQuery,
  ) {
    this.lifetimeMs = lifetimeDays * DAY_MS;
  }

  get lifetimeSeconds(): number {
    return Math.floor(this.lifetimeMs / 1000);
  }

  async create(userId: string, meta: SessionMeta = {}, now = new Date()): Promise<{ token: string; session: Session }> {
    const id = randomString();
    const secret = randomString();
    const expiresAt = new Date(now.getTime() + this.lifetimeMs);
    await this.prisma.session.create({
      data: {
        id,
        secretHash: hashSecret(secret) as Uint8Array<ArrayBuffer>,
        userId,
        expiresAt,
        lastSeenAt: now,
        createdAt: now,
        // Only the network (/24, /48): the sessions list shows it; nothing needs the full address.
        ip: coarseIp(meta.ip),
        userAgent: meta.userAgent?.slice(0, 512) ?? null,
      },
      select: { id: true },
    });
    return { token: `${id}.${secret}`, session: { id, userId, expiresAt, lastSeenAt: now } };
  }

  /**
   * Looks a token up with one indexed query (session joined to its user). Returns
   * null for a malformed, unknown, expired or forged token. `renewed` tells the
   * caller to send the cookie again with the new expiry.
   */
  async validate(token: string, now = new Date()): Promise<{ session: Session; user: SessionUser; renewed: boolean } | null> {
    const parts = token.split('.');
    if (parts.length !== 2) return null;
    const [id, secret] = parts as [string, string];
    if (!/^[a-z2-7]{24}$/.test(id) || !/^[a-z2-7]{24}$/.test(secret)) return null;
    const rows = await this.query<{
      id: string;
      secret_hash: Uint8Array;
      expires_at: Date;
      last_seen_at: Date;
      user_id: string;
      email: string | null;
      role: TRole;
      plan_id: string;
      is_guest: boolean;
      blocked_at: Date | null;
      email_verified_at: Date | null;
      subscribed: boolean;
    }>(
      `SELECT s.id, s.secret_hash, s.expires_at, s.last_seen_at, u.id AS user_id, u.email,
              u.role::text AS role, u.plan_id, u.is_guest, u.blocked_at, u.email_verified_at,
              EXISTS (SELECT 1 FROM subscriptions b WHERE b.user_id = u.id AND b.status = ANY($2::text[])) AS subscribed
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $1`,
      [id, LIVE_STATUSES],
      { name: 'session_validate' },
    );
    const row = rows[0];
    this.cache.delete(id);
    if (!row) return null;
    const secretHash = new Uint8Array(row.secret_hash);
    if (!constantTimeEqual(hashSecret(secret), secretHash)) return null;
    const expiresAt = new Date(row.expires_at);
    if (expiresAt.getTime() <= now.getTime()) {
      await this.prisma.session.deleteMany({ where: { id } });
      return null;
    }
    let session: Session = { id, userId: row.user_id, expiresAt, lastSeenAt: new Date(row.last_seen_at) };
    let renewed = false;
    const renew = expiresAt.getTime() - now.getTime() < this.lifetimeMs / 2;
    if (this.needsWrite(session, now)) {
      const data: { lastSeenAt: Date; expiresAt?: Date } = { lastSeenAt: now };
      if (renew) {
        data.expiresAt = new Date(now.getTime() + this.lifetimeMs);
        renewed = true;
      }
      await this.prisma.session.updateMany({ where: { id }, data });
      session = { ...session, ...data };
    }
    const user: SessionUser = {
      id: row.user_id,
      email: row.email,
      role: row.role,
      planId: row.plan_id,
      isGuest: row.is_guest,
      blockedAt: row.blocked_at ? new Date(row.blocked_at) : null,
      emailVerifiedAt: row.email_verified_at ? new Date(row.email_verified_at) : null,
      subscribed: row.subscribed,
    };
    if (!user.blockedAt) this.cache.set(id, { secretHash, session, user });
    return { session, renewed, user };
  }

  /**
   * As validate, answered from this instance's last lookup of the session when that needs no
   * write (neither a lastSeenAt touch nor a renewal is due) and the session has not expired;
   * `cached` says which. Only for requests that check the session again in the database before
   * anything they do counts: the streamed chats, whose reservation does (Meter.reserveChat's
   * `session`), with the caller reading the session afresh when it refuses (routers/chat.ts).
   * A session ended elsewhere is therefore never served, only found out one step later.
   */
  async validateCached(token: string, now = new Date()): Promise<{ session: Session; user: SessionUser; renewed: boolean; cached: boolean } | null> {
    const dot = token.indexOf('.');
    const hit = dot > 0 ? this.cache.get(token.slice(0, dot)) : undefined;
    if (
      hit &&
      hit.session.expiresAt.getTime() > now.getTime() &&
      !this.needsWrite(hit.session, now) &&
      constantTimeEqual(hashSecret(token.slice(dot + 1)), hit.secretHash)
    ) {
      return { session: hit.session, user: hit.user, renewed: false, cached: true };
    }
    const found = await this.validate(token, now);
    return found && { ...found, cached: false };
  }

  private needsWrite(session: Session, now: Date): boolean {
    return session.expiresAt.getTime() - now.getTime() < this.lifetimeMs / 2 || now.getTime() - session.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS;
  }

  async invalidate(sessionId: string): Promise<void> {
    this.cache.delete(sessionId);
    await this.prisma.session.deleteMany({ where: { id: sessionId } });
  }

  async invalidateAllForUser(userId: string): Promise<number> {
    for (const [id, hit] of this.cache) if (hit.user.id === userId) this.cache.delete(id);
    const { count } = await this.prisma.session.deleteMany({ where: { userId } });
    return count;
  }

  async listForUser(userId: string, now = new Date()) {
    return this.prisma.session.findMany({
      where: { userId, expiresAt: { gt: now } },
      select: { id: true, createdAt: true, lastSeenAt: true, expiresAt: true, ip: true, userAgent: true },
      orderBy: { lastSeenAt: 'desc' },
    });
  }

  /** Removes expired rows; run from time to time. */
  async deleteExpired(now = new Date()): Promise<number> {
    const { count } = await this.prisma.session.deleteMany({ where: { expiresAt: { lte: now } } });
    return count;
  }
}
