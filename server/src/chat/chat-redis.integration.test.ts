// Two server instances on one Postgres database and one Redis: the per-minute
// chat limit is shared; with Redis stopped, answers stay within bounded time
// (the in-memory insurance limiter takes over) and nothing hangs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../../test/helpers/chat.ts';
import { privateRedis, redisServerAvailable, type RedisProcess } from '../../test/helpers/redis-process.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const enabled = Boolean(process.env.TEST_DATABASE_URL) && redisServerAvailable();

describe.skipIf(!enabled)('several instances sharing Redis', () => {
  let redis: RedisProcess;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await privateRedis();
    a = await startTestServer({ REDIS_URL: redis.url });
    b = await startTestServer({ REDIS_URL: redis.url }, { sameDatabaseAs: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it('a session made on one instance works on the other, and the per-minute limit is shared', async () => {
    const onA = a.browser({ ip: '10.50.0.1' });
    const { user } = await onA.trpc.auth.signUp.mutate({ email: `redis-${Date.now()}@example.com`, password: 'correct horse battery' });
    // Same cookie, other instance.
    const onB = b.browser({ ip: '10.50.0.1' });
    for (const [k, v] of onA.cookies) onB.cookies.set(k, v);
    expect(await onB.trpc.auth.me.query()).toMatchObject({ id: user.id });

    // Pro (30 a minute, 100 an hour): the burst uses up the minute, not the hour (a used-up hour would be
    // the real wait, and the refusals would name it instead: limit-refusals.integration.test.ts).
    await a.deps.prisma.user.update({ where: { id: user.id }, data: { planId: 'pro' } });
    const perMinute = a.deps.plans.find((p) => p.id === 'pro')!.limits.requestsPerMinute;
    const results = await Promise.allSettled(Array.from({ length: perMinute + 6 }, (_, i) => send(i % 2 ? onA : onB, { content: `rl ${i}` })));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(results.length - refused.length).toBe(perMinute);
    for (const r of refused) {
      const data = (r as PromiseRejectedResult).reason.data;
      expect(data.reason).toBe('rate_limited');
      expect(data.limit).toBe('requestsPerMinute');
      expect(data.retryAfterSeconds).toBeGreaterThan(0);
    }
  });

  it('with Redis stopped, requests are answered within bounded time; counts are not inflated when it returns', async () => {
    const browser = a.browser({ ip: '10.50.0.2' });
    await browser.trpc.auth.signUp.mutate({ email: `redis-down-${Date.now()}@example.com`, password: 'correct horse battery' });
    await redis.stop();
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => send(browser, { content: `down ${i}` })));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    await redis.start();
    // After Redis is back the user still has the rest of the minute's allowance from Redis's own count.
    for (let i = 0; i < 50 && a.deps.redis!.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    const summary = await browser.trpc.usage.summary.query();
    expect(summary.used.requestsThisMinute).toBeLessThanOrEqual(4);
    await send(browser, { content: 'after redis returned' });
  });
});
