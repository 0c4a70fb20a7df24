// The admission gate shared through Redis (keys cm:gate:{provider}:*): two
// instances admit against one count, a lease a dead instance held expires, a
// closure after a 429 holds for every instance, and a Redis outage falls back to
// the instance's own gate without hanging.
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../lib/app-error.ts';
import { ProviderGate, type GateLease } from './providers/gate.ts';
import { RedisGateStore } from './providers/gate-store.ts';
import { createRedis, waitForRedis } from '../rate-limit/limiters.ts';

const redisUrl = process.env.TEST_REDIS_URL;

describe.skipIf(!redisUrl)('admission gate in Redis', () => {
  const a = createRedis(redisUrl!, undefined, { commandTimeoutMs: 5_000 });
  const b = createRedis(redisUrl!, undefined, { commandTimeoutMs: 5_000 });
  afterAll(() => {
    a.disconnect();
    b.disconnect();
  });
  const provider = () => `test-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const gateOn = (redis: typeof a, id: string, limits = {}, queueTimeoutMs = 10_000) =>
    new ProviderGate({ provider: id, limits, store: new RedisGateStore(redis), queueSize: 10, queueTimeoutMs });

  it('two instances share maxConcurrent, and a slot freed on one admits a waiter on the other', async () => {
    expect(await waitForRedis(a)).toBe(true);
    expect(await waitForRedis(b)).toBe(true);
    const id = provider();
    const one = gateOn(a, id, { maxConcurrent: 2 });
    const two = gateOn(b, id, { maxConcurrent: 2 });
    const l1 = await one.admit({ priority: 0, plan: 'free', tokens: 1 });
    const l2 = await two.admit({ priority: 0, plan: 'free', tokens: 1 });
    expect(await new RedisGateStore(a).inFlight(id)).toBe(2);
    let third: GateLease | undefined;
    const waiting = two.admit({ priority: 0, plan: 'free', tokens: 1 }).then((l) => (third = l));
    await new Promise((r) => setTimeout(r, 150));
    expect(third).toBeUndefined();
    expect(two.stats().queued).toBe(1);
    l1.release();
    await waiting;
    expect(await new RedisGateStore(a).inFlight(id)).toBe(2);
    l2.release();
    third!.release();
    await new Promise((r) => setTimeout(r, 50));
    expect(await new RedisGateStore(a).inFlight(id)).toBe(0);
    expect(await a.exists(`cm:gate:${id}:leases`)).toBe(0);
  });

  it('a lease held by a dead instance expires, so its slot comes back', async () => {
    const id = provider();
    const store = new RedisGateStore(a);
    // "Instance" that takes a slot and dies: never renews, never releases.
    expect((await store.acquire(id, 'dead', 1, { maxConcurrent: 1 }, 300)).ok).toBe(true);
    expect(await store.acquire(id, 'live', 1, { maxConcurrent: 1 }, 300)).toMatchObject({ ok: false, why: 'concurrency' });
    const gate = gateOn(b, id, { maxConcurrent: 1 });
    const lease = await gate.admit({ priority: 0, plan: 'free', tokens: 1 });
    lease.release();
  });

  it('a 429 seen by one instance closes the gate for all of them', async () => {
    const id = provider();
    const one = gateOn(a, id);
    const two = gateOn(b, id);
    const lease = await one.admit({ priority: 1_500, plan: 'pro', tokens: 1 });
    await one.rateLimited(lease, 4_000);
    expect(await a.pttl(`cm:gate:${id}:closed`)).toBeGreaterThan(2_000);
    try {
      await two.admit({ priority: -1, plan: 'guest', tokens: 1, deadline: Date.now() + 500 });
      throw new Error('expected provider_busy');
    } catch (error) {
      expect(isAppError(error) && error.reason).toBe('provider_busy');
      expect(isAppError(error) && error.details.retryAfterSeconds).toBeGreaterThanOrEqual(3);
    }
    expect(Object.fromEntries(two.stats().shed)).toEqual({ guest: 1 });
  });

  it('tokensPerMinute is one budget across instances', async () => {
    const id = provider();
    const one = new RedisGateStore(a);
    const two = new RedisGateStore(b);
    const limits = { tokensPerMinute: 1_000 };
    const first = await one.acquire(id, 'x', 700, limits, 10_000);
    expect(first.ok).toBe(true);
    expect(await two.acquire(id, 'y', 700, limits, 10_000)).toMatchObject({ ok: false, why: 'tokens' });
    // x used only 200: the budget has room again.
    await one.release(id, 'x', first.ok ? first.window : 0, 200 - 700);
    expect((await two.acquire(id, 'y', 700, limits, 10_000)).ok).toBe(true);
    await two.release(id, 'y', 0, 0);
  });

  it('when Redis fails the gate answers from the instance itself, at once', async () => {
    const dead = createRedis('redis://127.0.0.1:1', undefined, { commandTimeoutMs: 200 });
    try {
      const gate = gateOn(dead, provider(), { maxConcurrent: 1 });
      const lease = await gate.admit({ priority: 0, plan: 'free', tokens: 1 });
      lease.release();
    } finally {
      dead.disconnect();
    }
  });
});
