// usage_daily is kept by a statement-level trigger on usage_events: whatever is
// inserted, one row at a time or many per statement, by the chat settlement or
// by plain SQL, the roll-ups equal the raw events they summarise.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { DAY_MS, insertEvents, person, rawAndRollUp, type RawEvent } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
let users: string[];

beforeAll(async () => {
  server = await startTestServer();
  users = [];
  for (let i = 0; i < 3; i++) users.push((await person(server)).id);
});
afterAll(async () => {
  await server?.close();
});

async function reset() {
  await server.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM usage_events`);
  await server.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM usage_daily`);
}

const base = Date.UTC(2026, 10, 20, 0, 0, 0);

const arbEvent = fc.record({
  user: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
  isGuest: fc.boolean(),
  kind: fc.constantFrom('chat', 'tts'),
  model: fc.constantFrom<string | null>('gpt-4o-mini', 'gpt-4o', 'demo', null),
  status: fc.constantFrom('ok', 'error', 'aborted', 'cached'),
  promptTokens: fc.integer({ min: 0, max: 200_000 }),
  completionTokens: fc.integer({ min: 0, max: 50_000 }),
  cachedTokens: fc.integer({ min: 0, max: 1_000 }),
  costMicroUsd: fc.integer({ min: 0, max: 5_000_000 }),
  creditTokens: fc.integer({ min: 0, max: 10_000 }),
  ttsChars: fc.integer({ min: 0, max: 5_000 }),
  estimated: fc.boolean(),
  latencyMs: fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: null }),
  // Minutes from the base: a few UTC days, midnight edges included.
  minute: fc.oneof(fc.integer({ min: 0, max: 4 * 24 * 60 }), fc.constantFrom(0, 24 * 60 - 1, 24 * 60, 48 * 60 - 1)),
});

describe('usage_daily', () => {
  it('equals the raw events it summarises, for random events inserted one by one and in batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
        async (events, batchSizes) => {
          await reset();
          const rows: RawEvent[] = events.map((e) => ({
            userId: e.user === null ? null : users[e.user]!,
            isGuest: e.isGuest,
            kind: e.kind,
            model: e.model,
            status: e.status,
            promptTokens: e.promptTokens,
            completionTokens: e.completionTokens,
            cachedTokens: e.cachedTokens,
            costMicroUsd: e.costMicroUsd,
            creditTokens: e.creditTokens,
            ttsChars: e.ttsChars,
            estimated: e.estimated,
            latencyMs: e.latencyMs,
            createdAt: new Date(base + e.minute * 60_000 + 123),
          }));
          // Split into statements of the generated sizes (the trigger runs once per statement).
          let i = 0;
          let b = 0;
          while (i < rows.length) {
            const size = batchSizes[b++ % batchSizes.length]!;
            await insertEvents(server, rows.slice(i, i + size));
            i += size;
          }
          const { raw, rolled } = await rawAndRollUp(server);
          expect(rolled).toEqual(raw);
          // And the grand totals, as the overview reads them.
          const sum = (key: string, list: Record<string, unknown>[]) => list.reduce((s, r) => s + BigInt(String(r[key])), 0n);
          expect(sum('requests', rolled)).toBe(BigInt(events.length));
          expect(sum('cost_micro_usd', rolled)).toBe(events.reduce((s, e) => s + BigInt(e.costMicroUsd), 0n));
        },
      ),
      { numRuns: 25 },
    );
  });

  it("an account deletion's move to the anonymous key (cm_usage_daily_anonymise) merges by the same rule: still equal to the events", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbEvent, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 2 }), async (events, who) => {
        await reset();
        const rows: RawEvent[] = events.map((e) => ({
          userId: e.user === null ? null : users[e.user]!,
          isGuest: e.isGuest,
          kind: e.kind,
          model: e.model,
          status: e.status,
          promptTokens: e.promptTokens,
          completionTokens: e.completionTokens,
          cachedTokens: e.cachedTokens,
          costMicroUsd: e.costMicroUsd,
          creditTokens: e.creditTokens,
          ttsChars: e.ttsChars,
          estimated: e.estimated,
          latencyMs: e.latencyMs,
          createdAt: new Date(base + e.minute * 60_000 + 123),
        }));
        await insertEvents(server, rows);
        const gone = users[who]!;
        const before = await server.deps.prisma.usageDaily.count({ where: { userId: gone } });
        // What account-data.ts does in the deletion's transaction.
        const moved = await server.deps.prisma.$transaction(async (tx) => {
          await tx.$executeRaw(Prisma.sql`UPDATE usage_events SET user_id = NULL WHERE user_id = ${gone}::uuid`);
          return tx.$queryRaw<{ moved: number }[]>(Prisma.sql`SELECT cm_usage_daily_anonymise(${gone}::uuid) AS moved`);
        });
        expect(moved[0]?.moved).toBe(before);
        expect(await server.deps.prisma.usageDaily.count({ where: { userId: gone } })).toBe(0);
        const { raw, rolled } = await rawAndRollUp(server);
        expect(rolled).toEqual(raw);
      }),
      { numRuns: 20 },
    );
  });

  it('a bulk INSERT ... SELECT generate_series rolls up in one statement', async () => {
    await reset();
    await server.deps.prisma.$executeRaw(Prisma.sql`
      INSERT INTO usage_events (user_id, kind, model, prompt_tokens, completion_tokens, cost_micro_usd, status, created_at)
      SELECT ${users[0]}::uuid, 'chat', CASE WHEN g % 3 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END, g % 100, g % 7, g, 'ok',
             ${new Date(base)}::timestamptz + (g || ' minutes')::interval
        FROM generate_series(1, 5000) g`);
    const { raw, rolled } = await rawAndRollUp(server);
    expect(rolled).toEqual(raw);
    expect(rolled.length).toBeLessThan(20);
  });

  it('the chat settlement (cm_settle_chat) maintains it too', async () => {
    await reset();
    const someone = await person(server);
    const first = await send(someone.b, { content: 'Hello there' });
    await send(someone.b, { content: 'And again', conversationId: first.start!.conversationId });
    const { raw, rolled } = await rawAndRollUp(server);
    expect(rolled).toEqual(raw);
    const row = await server.deps.prisma.usageDaily.findFirstOrThrow({ where: { userId: someone.id } });
    expect(row).toMatchObject({ requests: 2n, model: 'demo', kind: 'chat', status: 'ok' });
    expect(Number(row.promptTokens) + Number(row.completionTokens)).toBe(
      (await server.deps.prisma.usageEvent.findMany({ where: { userId: someone.id } })).reduce((s, e) => s + e.promptTokens + e.completionTokens, 0),
    );
  });

  it('rolls events up by their UTC day whatever the session time zone', async () => {
    await reset();
    await server.deps.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL TIME ZONE 'Pacific/Auckland'`);
      await tx.$executeRaw(Prisma.sql`
        INSERT INTO usage_events (user_id, kind, status, cost_micro_usd, created_at)
        VALUES (${users[0]}::uuid, 'chat', 'ok', 7, ${new Date(base + DAY_MS - 1000)}::timestamptz)`);
    });
    const rows = await server.deps.prisma.$queryRaw<{ day: string }[]>(Prisma.sql`SELECT to_char(day, 'YYYY-MM-DD') AS day FROM usage_daily`);
    expect(rows).toEqual([{ day: '2026-11-20' }]);
  });
});
