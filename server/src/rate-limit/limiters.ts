// Every rate limit in one place (rate-limiter-flexible). In memory for a single
// process; in Redis when REDIS_URL is set so several instances share counts, with
// an in-memory insurance limiter and no offline queue so a Redis outage neither
// hangs a request nor lets it through unlimited.
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';

export interface LimitSpec {
  points: number;
  /** Window in seconds. */
  duration: number;
  /** Once exceeded, refuse for this many seconds. */
  blockDuration?: number;
}

/**
 * Failed sign-ins for one e-mail (from anywhere) after which it is locked for the networks that failed
 * against it; a network with no failures for it may still try, up to the e-mail's ceiling
 * (LIMITS.signInEmail.points). So guessers cannot lock the owner out with a few networks, and many
 * networks together still get a bounded number of guesses.
 */
export const SIGN_IN_EMAIL_LOCK_AFTER = 8;

// Sign-in points are taken before the password is verified (so a parallel burst cannot get more
// guesses evaluated than these numbers) and given back when it was right: they count failures.
export const LIMITS = {
  /** Failed sign-ins from one network (an IPv4 address or an IPv6 /64), whatever the e-mail. */
  signInIp: { points: 30, duration: 15 * 60, blockDuration: 15 * 60 },
  /** Failed sign-ins for one e-mail from anywhere: the ceiling, past which everyone is refused (a sign-in link still works). */
  signInEmail: { points: 20, duration: 15 * 60, blockDuration: 15 * 60 },
  /** Failed sign-ins for one e-mail from one network. */
  signInEmailNetwork: { points: SIGN_IN_EMAIL_LOCK_AFTER, duration: 15 * 60, blockDuration: 15 * 60 },
  /** Sign-in links for one e-mail from anywhere: the ceiling that bounds the mail an address can be sent. */
  magicLinkEmail: { points: 10, duration: 60 * 60 },
  /** Sign-in links for one e-mail asked from one network. */
  magicLinkEmailNetwork: { points: 3, duration: 60 * 60 },
  magicLinkIp: { points: 20, duration: 60 * 60 },
  /** Sign-up attempts per network (an IPv4 address or an IPv6 /64). */
  signUpIp: { points: 20, duration: 60 * 60 },
  /** Accounts made per network and day; the points come from SIGNUPS_PER_IP_PER_DAY (0: no daily limit). */
  signUpIpDay: { points: 3, duration: 24 * 60 * 60 },
  guestIp: { points: 10, duration: 60 * 60 },
  /** New e-mail verification links, per account (sign-up sends the first one). */
  verifyEmailResend: { points: 3, duration: 60 * 60 },
  /** Wrong current passwords on auth.changePassword, per account (points given back when it was right). */
  changePassword: { points: 5, duration: 15 * 60, blockDuration: 15 * 60 },
  /** chat.searchConversations per user: the sidebar searches as the user types (debounced). */
  search: { points: 60, duration: 60 },
  /** The public cost planner (the page asks once per column as the inputs change). */
  planner: { points: 120, duration: 60 },
} satisfies Record<string, LimitSpec>;

export type LimiterName = keyof typeof LIMITS;

export function createRedis(url: string, logger?: Logger, options: { commandTimeoutMs?: number } = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // Past this the insurance limiter answers (per instance): a slow Redis counts as a Redis outage.
    commandTimeout: options.commandTimeoutMs ?? 500,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  redis.on('error', (error: Error) => logger?.warn({ err: error.message }, 'redis error'));
  return redis;
}

/** Waits (bounded) for a first connection, so start-up does not begin on the insurance limiter. */
export async function waitForRedis(redis: Redis, timeoutMs = 3_000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

export class Limiters {
  private readonly cache = new Map<string, RateLimiterAbstract>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly overrides: Partial<Record<string, LimitSpec>> = {},
  ) {}

  get store(): 'redis' | 'memory' {
    return this.redis ? 'redis' : 'memory';
  }

  /** The rule a name resolves to (its override, else LIMITS). */
  spec(name: LimiterName): LimitSpec {
    return this.overrides[name] ?? LIMITS[name];
  }

  /** A limiter for a named rule, or for an ad-hoc spec (e.g. a plan's requests per minute). */
  limiter(name: string, spec?: LimitSpec): RateLimiterAbstract {
    const resolved = this.overrides[name] ?? spec ?? (LIMITS as Record<string, LimitSpec>)[name];
    if (!resolved) throw new Error(`unknown rate limiter ${name}`);
    const cacheKey = `${name}:${resolved.points}:${resolved.duration}:${resolved.blockDuration ?? 0}`;
    let limiter = this.cache.get(cacheKey);
    if (!limiter) {
      const options = { keyPrefix: `rl:${cacheKey}`, ...resolved };
      limiter = this.redis
        ? new RateLimiterRedis({
            ...options,
            storeClient: this.redis,
            insuranceLimiter: new RateLimiterMemory(options),
          })
        : new RateLimiterMemory(options);
      this.cache.set(cacheKey, limiter);
    }
    return limiter;
  }

  /**
   * Consumes points; over the limit throws AppError('rate_limited') with retryAfterSeconds, resetAt
   * and `limit` (options.limit, else the limiter's name).
   */
  async consume(name: string, key: string, options: { points?: number; spec?: LimitSpec; message?: string; limit?: string } = {}): Promise<RateLimiterRes> {
    try {
      return await this.limiter(name, options.spec).consume(key, options.points ?? 1);
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        throw rateLimited(error, options.message, options.limit ?? name);
      }
      throw error;
    }
  }

  /** Gives back points taken by consume() for something that, in the end, does not count. */
  async refund(name: string, key: string, points = 1): Promise<void> {
    await this.limiter(name)
      .reward(key, points)
      .catch(() => {});
  }

  async reset(name: string, key: string): Promise<void> {
    await this.limiter(name)
      .delete(key)
      .catch(() => {});
  }
}

export function rateLimited(res: RateLimiterRes, message = 'Too many requests. Please wait and try again.', limit?: string): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new AppError('rate_limited', message, {
    retryAfterSeconds,
    resetAt: new Date(Date.now() + retryAfterSeconds * 1000),
    ...(limit ? { limit } : {}),
  });
}
