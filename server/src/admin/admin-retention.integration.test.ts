// Retention: raw usage events past RETENTION_DAYS go (whole UTC days), their
// roll-ups stay; with MESSAGE_RETENTION_DAYS old messages and idle
// conversations go too. Scheduled on every instance, it acts once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { RetentionJob } from './retention.ts';
import { createLogger } from '../lib/logger.ts';
import { DAY_MS, insertEvents, person } from '../../test/helpers/admin.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
const NOW = new Date('2026-11-23T12:00:00Z');

beforeAll(async () => {
  server = await startTestServer({ RETENTION_DAYS: '400', MESSAGE_RETENTION_DAYS: '30' });
});
afterAll(async () => {
  await server?.close();
});

async function resetJob() {
  await server.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM job_runs`);
}

async function rollUpTotals() {
  const [row] = await server.deps.prisma.$queryRaw<{ requests: bigint; cost: bigint }[]>(Prisma.sql`
    SELECT COALESCE(sum(requests), 0)::bigint AS requests, COALESCE(sum(cost_micro_usd), 0)::bigint AS cost FROM usage_daily`);
  return row!;
}

describe('retention', () => {
  it('deletes raw usage older than RETENTION_DAYS by whole days and keeps the roll-ups', async () => {
    await resetJob();
    const user = await person(server);
    const old = (days: number, extraMs = 0) => new Date(NOW.getTime() - days * DAY_MS + extraMs);
    await insertEvents(server, [
      { userId: user.id, costMicroUsd: 1, createdAt: old(500) },
      { userId: user.id, costMicroUsd: 2, createdAt: old(401) },
      // Day 400 before today starts at 00:00 UTC of that day: older than that goes, that day stays.
      { userId: user.id, costMicroUsd: 4, createdAt: new Date(Date.UTC(2025, 9, 18, 23, 59)) },
      { userId: user.id, costMicroUsd: 8, createdAt: new Date(Date.UTC(2025, 9, 19, 0, 1)) },
      { userId: user.id, costMicroUsd: 16, createdAt: old(10) },
    ]);
    const before = await rollUpTotals();
    const lifetime = (await user.b.trpc.usage.summary.query()).costMicroUsd.lifetime;
    expect(lifetime).toBe(1 + 2 + 4 + 8 + 16);
    const result = await server.deps.retention.run({ now: NOW });
    expect(result).toMatchObject({ ran: true, usageEventsDeleted: 3 });
    if (result.ran) expect(result.usageCutoff.toISOString()).toBe('2025-10-19T00:00:00.000Z');
    const left = await server.deps.prisma.usageEvent.findMany({ where: { userId: user.id }, select: { costMicroUsd: true }, orderBy: { id: 'asc' } });
    expect(left.map((e) => e.costMicroUsd)).toEqual([8n, 16n]);
    expect(await rollUpTotals()).toEqual(before);
    // usage.summary's lifetime cost comes from the roll-up: retention does not change it.
    expect((await user.b.trpc.usage.summary.query()).costMicroUsd.lifetime).toBe(lifetime);
    // The run is recorded; the next one within the hour skips.
    expect(await server.deps.retention.lastRun()).toMatchObject({ result: { ran: true, usageEventsDeleted: 3 } });
    expect(await server.deps.retention.run({ now: new Date(NOW.getTime() + 10 * 60_000) })).toEqual({ ran: false, skipped: 'recent' });
    expect(await server.deps.retention.run({ now: new Date(NOW.getTime() + 61 * 60_000) })).toMatchObject({ ran: true, usageEventsDeleted: 0 });
  });

  it('deletes messages older than MESSAGE_RETENTION_DAYS and conversations left empty and idle', async () => {
    await resetJob();
    const prisma = server.deps.prisma;
    const user = await person(server);
    const idle = await prisma.conversation.create({
      data: { userId: user.id, title: 'old', model: 'demo', updatedAt: new Date(NOW.getTime() - 40 * DAY_MS) },
      select: { id: true },
    });
    const active = await prisma.conversation.create({ data: { userId: user.id, title: 'new', model: 'demo', updatedAt: NOW }, select: { id: true } });
    await prisma.message.createMany({
      data: [
        { conversationId: idle.id, userId: user.id, role: 'user', content: 'ancient', createdAt: new Date(NOW.getTime() - 40 * DAY_MS) },
        { conversationId: active.id, userId: user.id, role: 'user', content: 'older', createdAt: new Date(NOW.getTime() - 31 * DAY_MS) },
        { conversationId: active.id, userId: user.id, role: 'user', content: 'recent', createdAt: new Date(NOW.getTime() - 29 * DAY_MS) },
      ],
    });
    const result = await server.deps.retention.run({ now: NOW });
    expect(result).toMatchObject({ ran: true, messagesDeleted: 2, conversationsDeleted: 1 });
    expect((await prisma.message.findMany({ where: { userId: user.id } })).map((m) => m.content)).toEqual(['recent']);
    expect((await prisma.conversation.findMany({ where: { userId: user.id } })).map((c) => c.id)).toEqual([active.id]);
  });

  it('two instances running it at the same moment act once', async () => {
    await resetJob();
    const user = await person(server);
    await insertEvents(
      server,
      Array.from({ length: 50 }, (_, i) => ({ userId: user.id, costMicroUsd: i, createdAt: new Date(NOW.getTime() - (450 + i) * DAY_MS) })),
    );
    // A second instance: its own job object (and, on Postgres, its own connection pool).
    const other = server.tdb.url
      ? await (async () => {
          const { openDatabase } = await import('@chatmeter/db/client');
          return openDatabase({ databaseUrl: server.tdb.url, dataDir: '', poolMax: 2 });
        })()
      : undefined;
    try {
      const second = new RetentionJob(other?.prisma ?? server.deps.prisma, createLogger('silent'), { retentionDays: 400 });
      const results = await Promise.all([server.deps.retention.run({ now: NOW }), second.run({ now: NOW })]);
      const ran = results.filter((r) => r.ran);
      expect(ran).toHaveLength(1);
      expect(ran[0]).toMatchObject({ usageEventsDeleted: 50 });
      expect(results.find((r) => !r.ran)).toMatchObject({ ran: false, skipped: expect.stringMatching(/^(locked|recent)$/) });
      expect(await server.deps.prisma.usageEvent.count({ where: { userId: user.id } })).toBe(0);
    } finally {
      await other?.close();
    }
  });

  it.runIf(Boolean(process.env.TEST_DATABASE_URL))('skips at once while another instance holds the lock', async () => {
    await resetJob();
    const pg = (await import('pg')).default;
    const holder = new pg.Client({ connectionString: server.tdb.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(72707370)');
      expect(await server.deps.retention.run({ now: NOW })).toEqual({ ran: false, skipped: 'locked' });
      await holder.query('COMMIT');
      expect(await server.deps.retention.run({ now: NOW })).toMatchObject({ ran: true });
    } finally {
      await holder.end();
    }
  });
});
