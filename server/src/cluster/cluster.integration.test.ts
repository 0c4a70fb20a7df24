// Three instances on one Postgres database and one Redis, requests spread over
// them in turn: limits enforced in the database or Redis hold across
// instances (one message left today admits exactly one of 200 concurrent
// requests; the per-minute limit counts once), migrations run once however
// many instances start together, a session made on one instance works on the
// others, and the round-robin front of `npm run cluster` spreads and streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { openDatabase } from '@chatmeter/db/client';
import { readMigrations } from '@chatmeter/db/migrate';
import { createEmptyServerDatabase, testServerUrl } from '@chatmeter/db/testing';
import { RoundRobinProxy } from './round-robin-proxy.ts';
import { dayStart } from '../metering/periods.ts';
import { send } from '../../test/helpers/chat.ts';
import { clientFor, plansFile, startCluster, type TestCluster } from '../../test/helpers/cluster.ts';
import { redisServerAvailable } from '../../test/helpers/redis-process.ts';

const enabled = Boolean(testServerUrl()) && redisServerAvailable();
const PRO_PER_MINUTE = 6;

describe.skipIf(!enabled)('three instances, one database, one Redis', () => {
  let cluster: TestCluster;
  let plans: Awaited<ReturnType<typeof plansFile>>;
  beforeAll(async () => {
    // Free: the per-minute limit out of the way (the quota test is about the daily count); Pro: a small per-minute limit.
    plans = await plansFile((p) =>
      p.id === 'free'
        ? { ...p, limits: { ...p.limits, requestsPerMinute: 1_000, messagesPerHour: 1_000, messagesPerDay: 20 } }
        : p.id === 'pro'
          ? { ...p, limits: { ...p.limits, requestsPerMinute: PRO_PER_MINUTE } }
          : p,
    );
    cluster = await startCluster(3, { PLANS_FILE: plans.file, DEMO_DELAY_MS: '2' }, { limits: { signUpIp: { points: 1_000, duration: 60 } } });
  });
  afterAll(async () => {
    await cluster?.close();
    await plans?.cleanup();
  });

  async function signedUp(ip: string) {
    const user = cluster.user(ip);
    const { user: me } = await user.on(0).trpc.auth.signUp.mutate({ email: `cluster-${ip}-${Date.now()}@example.com`, password: 'correct horse battery' });
    user.share();
    return { ...user, id: me.id };
  }

  it('one message left today: of 200 concurrent requests over 3 instances exactly one is admitted, the rest quota_exhausted', async () => {
    const user = await signedUp('10.70.0.1');
    const prisma = cluster.servers[0]!.deps.prisma;
    await prisma.$executeRaw(Prisma.sql`
      INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${`u:${user.id}`}, 'messages_day', ${dayStart(new Date())}::timestamptz, 19)`);
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => send(user.on(i), { content: `last one ${i}` })));
    const admitted = results.filter((r) => r.status === 'fulfilled');
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as { data?: { reason?: string } }).data?.reason)] : []));
    expect(admitted).toHaveLength(1);
    expect(reasons).toHaveLength(199);
    expect(new Set(reasons)).toEqual(new Set(['quota_exhausted']));
    expect((admitted[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof send>>>).value.done?.status).toBe('ok');
    // The books agree: one usage event, one reservation settled, the counter at the limit.
    expect(await prisma.usageEvent.count({ where: { userId: user.id } })).toBe(1);
    expect(await prisma.reservation.count({ where: { userId: user.id, status: 'held' } })).toBe(0);
    expect((await user.on(2).trpc.usage.summary.query()).used.messagesToday).toBe(20);
  });

  it('the per-minute limit acts once across instances (shared in Redis)', async () => {
    const user = await signedUp('10.70.0.2');
    await cluster.servers[1]!.deps.prisma.user.update({ where: { id: user.id }, data: { planId: 'pro' } });
    const results = await Promise.allSettled(Array.from({ length: PRO_PER_MINUTE * 2 }, (_, i) => send(user.on(i), { content: `minute ${i}` })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - refused.length).toBe(PRO_PER_MINUTE);
    for (const r of refused) expect(r.reason.data).toMatchObject({ reason: 'rate_limited' });
    // Every instance reads the same minute's count from Redis: each attempt counted once (refused ones included).
    for (let i = 0; i < 3; i++) expect((await user.on(i).trpc.usage.summary.query()).used.requestsThisMinute).toBe(PRO_PER_MINUTE * 2);
  });

  it('a session made on one instance works on the others; signing out on one ends it everywhere', async () => {
    const user = await signedUp('10.70.0.3');
    for (let i = 0; i < 3; i++) expect(await user.on(i).trpc.auth.me.query()).toMatchObject({ id: user.id, isGuest: false });
    const first = await send(user.on(1), { content: 'hello from instance two' });
    const next = await send(user.on(2), { content: 'and three', conversationId: first.start!.conversationId });
    expect(next.done?.status).toBe('ok');
    const messages = await user.on(0).trpc.chat.messages.query({ conversationId: first.start!.conversationId });
    expect(messages.items).toHaveLength(4);
    await user.on(2).trpc.auth.signOut.mutate();
    expect(await user.on(0).trpc.auth.me.query()).toBeNull();
  });

  it('the round-robin front spreads requests in turn and streams chat through', async () => {
    const front = new RoundRobinProxy({ upstreams: cluster.servers.map((s) => s.url) });
    const url = await front.listen(0);
    try {
      for (let i = 0; i < 6; i++) expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect([...front.counts.values()]).toEqual([2, 2, 2]);
      const browser = clientFor(url, { ip: '10.70.0.4' });
      await browser.trpc.auth.signUp.mutate({ email: `front-${Date.now()}@example.com`, password: 'correct horse battery' });
      const stream = await browser.trpc.chat.send.mutate({ content: 'through the front' });
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      expect(types[0]).toBe('start');
      expect(types.at(-1)).toBe('done');
      expect(types.filter((t) => t === 'delta').length).toBeGreaterThan(1);
      expect(await browser.trpc.auth.me.query()).toMatchObject({ isGuest: false });
    } finally {
      await front.close();
    }
  });
});

describe.skipIf(!testServerUrl())('migrations with several instances starting together', () => {
  it('three concurrent openDatabase calls on a fresh database apply each migration once', async () => {
    const empty = await createEmptyServerDatabase(testServerUrl()!);
    try {
      const dbs = await Promise.all(Array.from({ length: 3 }, () => openDatabase({ databaseUrl: empty.url, dataDir: '', poolMax: 2 })));
      try {
        const rows = await dbs[0]!.prisma.$queryRaw<{ migration_name: string; n: bigint }[]>(Prisma.sql`
          SELECT migration_name, count(*) AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL GROUP BY migration_name ORDER BY migration_name`);
        expect(rows.map((r) => [r.migration_name, Number(r.n)])).toEqual(readMigrations().map((m) => [m.name, 1]));
      } finally {
        await Promise.all(dbs.map((db) => db.close()));
      }
    } finally {
      await empty.drop();
    }
  });
});
