// Where a provider's admission gate keeps its shared state: the leases in flight,
// the tokens sent this minute, whether the gate is closed (the provider said 429
// or ran out of requests/tokens) and a concurrency cap learned from a 429. In
// memory for one process; in Redis (keys `cm:gate:{provider}:*`) when REDIS_URL is
// set, so every instance admits against the same counts. A lease has an expiry
// and is renewed while its request streams: an instance that dies holds its slots
// only until its leases expire.
import type { Redis } from 'ioredis';

export interface GateLimits {
  maxConcurrent?: number | undefined;
  tokensPerMinute?: number | undefined;
}

export type AcquireResult =
  | { ok: true; window: number }
  /** `retryAfterMs`: when trying again may succeed (the gate's reopening, the next minute, or a short poll). */
  | { ok: false; retryAfterMs: number; why: 'closed' | 'concurrency' | 'tokens' };

export interface GateStore {
  readonly kind: 'memory' | 'redis';
  acquire(provider: string, leaseId: string, tokens: number, limits: GateLimits, leaseMs: number): Promise<AcquireResult>;
  /** Pushes a lease's expiry forward while its request still runs. */
  renew(provider: string, leaseId: string, leaseMs: number): Promise<void>;
  /** Frees the slot; `tokenCorrection` (used minus admitted) is added to the minute it was admitted in. */
  release(provider: string, leaseId: string, window: number, tokenCorrection: number): Promise<void>;
  /** Closes the gate for `ms` (never shortens a longer closure); `cap` lowers concurrency for `capMs`. */
  close(provider: string, ms: number, cap?: { limit: number; ms: number }): Promise<void>;
  /** Leases held now, all instances together. */
  inFlight(provider: string): Promise<number>;
}

const MINUTE_MS = 60_000;
/** How soon a request refused for concurrency looks again (a slot freed on another instance is not signalled). */
export const CONCURRENCY_POLL_MS = 50;

function minuteOf(now: number): number {
  return Math.floor(now / MINUTE_MS);
}

export class MemoryGateStore implements GateStore {
  readonly kind = 'memory' as const;
  private readonly state = new Map<
    string,
    { leases: Map<string, number>; closedUntil: number; cap?: { limit: number; until: number }; tokens: Map<number, number> }
  >();

  constructor(private readonly now: () => number = Date.now) {}

  private of(provider: string) {
    let s = this.state.get(provider);
    if (!s) {
      s = { leases: new Map(), closedUntil: 0, tokens: new Map() };
      this.state.set(provider, s);
    }
    return s;
  }

  async acquire(provider: string, leaseId: string, tokens: number, limits: GateLimits, leaseMs: number): Promise<AcquireResult> {
    const now = this.now();
    const s = this.of(provider);
    if (s.closedUntil > now) return { ok: false, retryAfterMs: s.closedUntil - now, why: 'closed' };
    for (const [id, expires] of s.leases) if (expires <= now) s.leases.delete(id);
    let limit = limits.maxConcurrent ?? 0;
    if (s.cap && s.cap.until > now && (limit === 0 || s.cap.limit < limit)) limit = s.cap.limit;
    if (limit > 0 && s.leases.size >= limit) return { ok: false, retryAfterMs: CONCURRENCY_POLL_MS, why: 'concurrency' };
    const window = minuteOf(now);
    if (limits.tokensPerMinute) {
      for (const w of s.tokens.keys()) if (w < window - 1) s.tokens.delete(w);
      const used = Math.max(0, s.tokens.get(window) ?? 0);
      // A request larger than the whole budget still goes alone in an empty minute.
      if (used > 0 && used + tokens > limits.tokensPerMinute) return { ok: false, retryAfterMs: MINUTE_MS - (now % MINUTE_MS), why: 'tokens' };
      s.tokens.set(window, (s.tokens.get(window) ?? 0) + tokens);
    }
    s.leases.set(leaseId, now + leaseMs);
    return { ok: true, window };
  }

  async renew(provider: string, leaseId: string, leaseMs: number): Promise<void> {
    const s = this.of(provider);
    if (s.leases.has(leaseId)) s.leases.set(leaseId, this.now() + leaseMs);
  }

  async release(provider: string, leaseId: string, window: number, tokenCorrection: number): Promise<void> {
    const s = this.of(provider);
    s.leases.delete(leaseId);
    if (tokenCorrection !== 0 && s.tokens.has(window)) s.tokens.set(window, s.tokens.get(window)! + tokenCorrection);
  }

  async close(provider: string, ms: number, cap?: { limit: number; ms: number }): Promise<void> {
    const now = this.now();
    const s = this.of(provider);
    s.closedUntil = Math.max(s.closedUntil, now + ms);
    if (cap && (!s.cap || s.cap.until <= now || cap.limit < s.cap.limit)) s.cap = { limit: cap.limit, until: now + cap.ms };
  }

  async inFlight(provider: string): Promise<number> {
    const now = this.now();
    return [...this.of(provider).leases.values()].filter((e) => e > now).length;
  }
}

// One script per operation, so each is atomic across instances. Time is Redis's
// own (TIME), so instances with skewed clocks agree on expiries and minutes.
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS[1] leases (zset id -> expiry), KEYS[2] closed, KEYS[3] cap; ARGV: prefix, leaseId, leaseMs, maxConcurrent, tpm, tokens
const ACQUIRE = `${NOW}
local closed = redis.call('PTTL', KEYS[2])
if closed > 0 then return {0, closed, 'closed', 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[4])
local cap = tonumber(redis.call('GET', KEYS[3]) or '0')
if cap > 0 and (limit == 0 or cap < limit) then limit = cap end
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then return {0, ${CONCURRENCY_POLL_MS}, 'concurrency', 0} end
local window = math.floor(now / ${MINUTE_MS})
local tpm = tonumber(ARGV[5])
if tpm > 0 then
  local key = ARGV[1] .. ':tpm:' .. window
  local used = math.max(0, tonumber(redis.call('GET', key) or '0'))
  local tokens = tonumber(ARGV[6])
  if used > 0 and used + tokens > tpm then return {0, ${MINUTE_MS} - (now % ${MINUTE_MS}), 'tokens', 0} end
  redis.call('INCRBY', key, tokens)
  redis.call('PEXPIRE', key, ${2 * MINUTE_MS})
end
local leaseMs = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + leaseMs, ARGV[2])
redis.call('PEXPIRE', KEYS[1], leaseMs * 2)
return {1, 0, 'ok', window}`;

// KEYS[1] leases; ARGV: leaseId, leaseMs
const RENEW = `${NOW}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
end
return 1`;

// KEYS[1] leases; ARGV: prefix, leaseId, window, correction
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[2])
local correction = tonumber(ARGV[4])
if correction ~= 0 then
  local key = ARGV[1] .. ':tpm:' .. ARGV[3]
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, correction) end
end
return 1`;

// KEYS[1] closed, KEYS[2] cap; ARGV: ms, capLimit (0: none), capMs
const CLOSE = `
local ms = tonumber(ARGV[1])
if ms > 0 and redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
local limit = tonumber(ARGV[2])
if limit > 0 then
  local current = tonumber(redis.call('GET', KEYS[2]) or '0')
  if current == 0 or limit < current then redis.call('SET', KEYS[2], limit, 'PX', tonumber(ARGV[3])) end
end
return 1`;

// KEYS[1] leases
const IN_FLIGHT = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

export class RedisGateStore implements GateStore {
  readonly kind = 'redis' as const;

  constructor(private readonly redis: Redis) {}

  private keys(provider: string) {
    const prefix = `cm:gate:${provider}`;
    return { prefix, leases: `${prefix}:leases`, closed: `${prefix}:closed`, cap: `${prefix}:cap` };
  }

  async acquire(provider: string, leaseId: string, tokens: number, limits: GateLimits, leaseMs: number): Promise<AcquireResult> {
    const k = this.keys(provider);
    const [ok, retry, why, window] = (await this.redis.eval(
      ACQUIRE,
      3,
      k.leases,
      k.closed,
      k.cap,
      k.prefix,
      leaseId,
      leaseMs,
      limits.maxConcurrent ?? 0,
      limits.tokensPerMinute ?? 0,
      tokens,
    )) as [number, number, string, number];
    if (ok === 1) return { ok: true, window: Number(window) };
    return { ok: false, retryAfterMs: Math.max(1, Number(retry)), why: why as 'closed' | 'concurrency' | 'tokens' };
  }

  async renew(provider: string, leaseId: string, leaseMs: number): Promise<void> {
    await this.redis.eval(RENEW, 1, this.keys(provider).leases, leaseId, leaseMs);
  }

  async release(provider: string, leaseId: string, window: number, tokenCorrection: number): Promise<void> {
    const k = this.keys(provider);
    await this.redis.eval(RELEASE, 1, k.leases, k.prefix, leaseId, window, Math.round(tokenCorrection));
  }

  async close(provider: string, ms: number, cap?: { limit: number; ms: number }): Promise<void> {
    const k = this.keys(provider);
    await this.redis.eval(CLOSE, 2, k.closed, k.cap, Math.max(0, Math.ceil(ms)), cap?.limit ?? 0, cap?.ms ?? 0);
  }

  async inFlight(provider: string): Promise<number> {
    return Number(await this.redis.eval(IN_FLIGHT, 1, this.keys(provider).leases));
  }
}
