// Chaos, part 2: Redis stopped under load on three instances. Requests are
// answered within bounded time (the in-memory insurance limiter takes over, no
// offline queue), and when Redis returns nothing queued during the outage is
// replayed into it (the per-minute count is not inflated).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { testServerUrl } from '@chatmeter/db/testing';
import { send } from '../../test/helpers/chat.ts';
import { startCluster, type TestCluster } from '../../test/helpers/cluster.ts';
import { redisServerAvailable } from '../../test/helpers/redis-process.ts';

const enabled = Boolean(testServerUrl()) && redisServerAvailable();

describe.skipIf(!enabled)('chaos: Redis stopped under load', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster(3, { DEMO_DELAY_MS: '5' });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('50 concurrent chats over 3 instances while Redis is down: all answered in bounded time, counts sane after it returns', async () => {
    const users = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const user = cluster.user(`10.90.0.${i + 1}`);
        const { user: me } = await user
          .on(0)
          .trpc.auth.signUp.mutate({ email: `redis-load-${i}-${Date.now()}@example.com`, password: 'correct horse battery' });
        user.share();
        return { ...user, id: me.id };
      }),
    );
    await cluster.redis.stop();
    const started = Date.now();
    // 5 each: within the free plan's 10 a minute even for a single instance's insurance limiter.
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => send(users[i % 10]!.on(i), { content: `under load ${i}` })));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(15_000);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason?.data?.reason ?? r.reason));
    expect(failures).toEqual([]);
    for (const r of results) expect((r as PromiseFulfilledResult<Awaited<ReturnType<typeof send>>>).value.done?.status).toBe('ok');

    await cluster.redis.start();
    for (const server of cluster.servers) {
      for (let i = 0; i < 100 && server.deps.redis!.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
      expect(server.deps.redis!.status).toBe('ready');
    }
    // One more request each, now through Redis: its count is that one request, not the outage's 5 replayed.
    for (const [i, user] of users.entries()) {
      await send(user.on(i), { content: 'after redis returned' });
      expect((await user.on(i + 1).trpc.usage.summary.query()).used.requestsThisMinute).toBe(1);
    }
    // The database side never depended on Redis: 6 messages and 6 usage events per user.
    const prisma = cluster.servers[0]!.deps.prisma;
    const rows = await prisma.$queryRaw<{ n: bigint }[]>(Prisma.sql`
      SELECT count(*) AS n FROM usage_events WHERE user_id = ANY(${users.map((u) => u.id)}::uuid[])`);
    expect(Number(rows[0]!.n)).toBe(60);
    for (const user of users) expect((await user.on(0).trpc.usage.summary.query()).used.messagesToday).toBe(6);
  });
});
