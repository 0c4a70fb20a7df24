// Rate limits in Redis are shared by every server instance, and a Redis outage
// falls back to the in-memory insurance limiter without hanging.
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../lib/app-error.ts';
import { createRedis, Limiters, waitForRedis } from './limiters.ts';

const redisUrl = process.env.TEST_REDIS_URL;

describe.skipIf(!redisUrl)('Redis-backed limiters', () => {
  const a = createRedis(redisUrl!);
  const b = createRedis(redisUrl!);
  afterAll(() => {
    a.disconnect();
    b.disconnect();
  });
  const spec = { points: 5, duration: 60 };

  it('two instances share one count', async () => {
    expect(await waitForRedis(a)).toBe(true);
    expect(await waitForRedis(b)).toBe(true);
    const one = new Limiters(a);
    const two = new Limiters(b);
    const key = `shared-${Date.now()}-${Math.random()}`;
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 ? one : two).consume('test', key, { spec })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(AppError);
    expect((refused.reason as AppError).reason).toBe('rate_limited');
  });

  it('answers quickly from the insurance limiter when Redis is unreachable', async () => {
    const dead = createRedis('redis://127.0.0.1:1'); // nothing listens on port 1
    const limiters = new Limiters(dead);
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => limiters.consume('test', 'k', { spec })));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    dead.disconnect();
  });
});
