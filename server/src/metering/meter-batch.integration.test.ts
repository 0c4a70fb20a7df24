// Group commit against the real database: concurrent reservations and
// settlements share batches, limits hold exactly, one bad item fails alone, and
// two instances batching over the same users never deadlock.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '@chatmeter/db/client';
import { createTestDatabase, testServerUrl, type TestDatabase } from '@chatmeter/db/testing';
import { DEFAULT_PRICING_TABLE, requireModelPrice } from '@chatmeter/shared/pricing';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { Meter, type ReserveChatInput } from './meter.ts';
import { calendarMonth } from './periods.ts';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.cleanup();
});

const guest = DEFAULT_PLANS.find((p) => p.id === 'guest')!;
function plan(messagesPerDay: number): TPlan {
  const free = DEFAULT_PLANS.find((p) => p.id === 'free')!;
  return { ...free, limits: { ...free.limits, messagesPerDay, messagesPerHour: 1_000_000, tokensPerMonth: 1_000_000_000 } };
}

async function newUser(): Promise<string> {
  const id = randomUUID();
  await tdb.db.prisma.user.create({ data: { id, email: `${id}@example.com` } });
  return id;
}

function reserveInput(userId: string, p: TPlan): ReserveChatInput {
  const now = new Date();
  return {
    user: { id: userId, isGuest: false },
    plan: p,
    guestPlan: guest,
    ipHash: 'batch-test',
    model: 'gpt-4o-mini',
    promptTokens: 30,
    maxTokens: 50,
    month: calendarMonth(now),
    defaultDailyTokenCap: 1_000_000_000,
    requestId: randomUUID(),
    conversation: { id: null, title: 'batch', userContent: 'hello', maxMessages: 100 },
    now,
  };
}

const price = requireModelPrice(DEFAULT_PRICING_TABLE, 'gpt-4o-mini');
function settleInput(reservationId: string) {
  return {
    reservationId,
    isGuest: false,
    ipHash: 'batch-test',
    model: 'gpt-4o-mini',
    price,
    promptTokens: 30,
    completionTokens: 20,
    cachedTokens: 0,
    estimated: false,
    status: 'ok' as const,
    latencyMs: 5,
    assistant: { messageId: randomUUID(), content: 'answer' },
  };
}

async function used(userId: string, kind: string): Promise<number> {
  const rows = await tdb.db.query<{ used: string | bigint }>(`SELECT used FROM quota_counters WHERE subject = $1 AND kind = $2`, [`u:${userId}`, kind]);
  return rows.length ? Number(rows[0]!.used) : 0;
}

describe('meter batches (group commit)', () => {
  it('40 concurrent reservations with 5 messages left: they share batches and exactly 5 are admitted', async () => {
    const meter = new Meter(tdb.db.query);
    const userId = await newUser();
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => meter.reserveChat(reserveInput(userId, plan(5)))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(5);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ reason: 'quota_exhausted' });
    expect(meter.batcher.stats.largest).toBeGreaterThan(1);
    expect(meter.batcher.stats.items).toBe(40);
    expect(meter.batcher.stats.batches).toBeLessThan(40);
    expect(await used(userId, 'messages_day')).toBe(5);
    // Settling them together charges each once, from the provider's figures.
    const settled = await Promise.all(ok.map((r) => meter.settleChat(settleInput((r as PromiseFulfilledResult<{ id: string }>).value.id))));
    expect(settled.every((s) => s !== null)).toBe(true);
    expect(await used(userId, 'tokens_month')).toBe(5 * 50);
    // A second settlement of the same reservation is a no-op.
    expect(await meter.settleChat(settleInput((ok[0] as PromiseFulfilledResult<{ id: string }>).value.id))).toBeNull();
    expect(await used(userId, 'tokens_month')).toBe(5 * 50);
  });

  it('an item that fails (a user that does not exist) fails alone; the rest of its batch is applied', async () => {
    const meter = new Meter(tdb.db.query);
    const users = await Promise.all(Array.from({ length: 6 }, () => newUser()));
    const ghost = randomUUID();
    const results = await Promise.allSettled([...users, ghost, ...users].map((id) => meter.reserveChat(reserveInput(id, plan(100)))));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[6]!.status).toBe('rejected');
    for (const id of users) expect(await used(id, 'messages_day')).toBe(2);
    expect(await used(ghost, 'messages_day')).toBe(0);
  });

  it.skipIf(!testServerUrl())('two instances reserving and settling for the same users at once never deadlock and charge exactly', async () => {
    const other: Database = await openDatabase({ databaseUrl: tdb.url!, dataDir: '', poolMax: 4, migrate: false });
    try {
      const meters = [new Meter(tdb.db.query), new Meter(other.query)];
      const users = await Promise.all(Array.from({ length: 8 }, () => newUser()));
      let n = 0;
      await Promise.all(
        Array.from({ length: 40 }, async (_, worker) => {
          for (let i = 0; i < 10; i++) {
            const meter = meters[(worker + i) % 2]!;
            const userId = users[(worker * 7 + i) % users.length]!;
            const r = await meter.reserveChat(reserveInput(userId, plan(1_000_000)));
            await meters[(worker + i + 1) % 2]!.settleChat(settleInput(r.id));
            n++;
          }
        }),
      );
      expect(n).toBe(400);
      let total = 0;
      for (const id of users) total += await used(id, 'tokens_month');
      expect(total).toBe(400 * 50);
      const events = await tdb.db.query<{ n: string | bigint }>(
        `SELECT count(*) AS n FROM usage_events WHERE ip_hash = 'batch-test' AND user_id = ANY($1::uuid[])`,
        [users],
      );
      expect(Number(events[0]!.n)).toBe(400);
      expect(meters[0]!.batcher.stats.largest + meters[1]!.batcher.stats.largest).toBeGreaterThan(2);
      // Not one deadlock to recover from: the batches took their turns (cm_meter_batch's advisory lock).
      expect(meters[0]!.batcher.stats.retries + meters[1]!.batcher.stats.retries).toBe(0);
    } finally {
      await other.close();
    }
  });

  it.skipIf(!testServerUrl())('a row locked elsewhere holds up only the item that needs it, for at most the lock timeout', async () => {
    const meter = new Meter(tdb.db.query, { lockTimeoutMs: 300 });
    const [stuck, free] = [await newUser(), await newUser()];
    // Both users have a messages_day counter row; another connection holds stuck's in a transaction.
    await Promise.all([stuck, free].map((id) => meter.reserveChat(reserveInput(id, plan(100)))));
    const other: Database = await openDatabase({ databaseUrl: tdb.url!, dataDir: '', poolMax: 1, migrate: false });
    try {
      await other.prisma.$transaction(
        async (tx) => {
          await tx.$queryRawUnsafe(`SELECT used FROM quota_counters WHERE subject = $1 AND kind = 'messages_day' FOR UPDATE`, `u:${stuck}`);
          const started = Date.now();
          const [a, b] = await Promise.allSettled([meter.reserveChat(reserveInput(stuck, plan(100))), meter.reserveChat(reserveInput(free, plan(100)))]);
          expect(b.status).toBe('fulfilled');
          expect(a.status).toBe('rejected');
          expect((a as PromiseRejectedResult).reason).toMatchObject({ code: '55P03' });
          // The batch waited once, then each item alone: well under a second, not forever.
          expect(Date.now() - started).toBeLessThan(3_000);
        },
        { timeout: 10_000 },
      );
    } finally {
      await other.close();
    }
    expect(await used(free, 'messages_day')).toBe(2);
    expect(await used(stuck, 'messages_day')).toBe(1);
  });
});
