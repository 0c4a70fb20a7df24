// Every quota refusal names the limit that refused (`data.limit`) and the real wait
// (`resetAt`, `retryAfterSeconds`): when several limits are exhausted, the one that
// resets last. A guest who had used up the day used to be told "resets in 29 min"
// (the hour) or "send again in 45 seconds" (the minute).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { COUNTER, userSubject } from './counters.ts';
import { dayStart, hourStart, monthStart, nextDay, nextHour, nextMonth } from './periods.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CHAT_MAX_TOKENS: '64' });
});
afterAll(async () => {
  await server?.close();
});

async function setCounter(subject: string, kind: string, period: Date, used: number) {
  await server.deps.prisma.$executeRaw(Prisma.sql`
    INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${subject}, ${kind}, ${period}::timestamptz, ${used}::bigint)
    ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
}

/** The wait the refusal gives, checked against its resetAt. */
function expectWait(data: Record<string, unknown>, resetAt: Date) {
  expect(data.resetAt).toBe(resetAt.toISOString());
  const left = Math.ceil((resetAt.getTime() - Date.now()) / 1000);
  expect(data.retryAfterSeconds).toBeGreaterThanOrEqual(left - 5);
  expect(data.retryAfterSeconds).toBeLessThanOrEqual(left + 1);
}

let n = 0;
async function freeUser() {
  const b = server.browser({ ip: `10.62.1.${++n}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `limits${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  return { b, id: user.id };
}

describe('refusals name the limit and the real wait', () => {
  it('a guest sending a sixth message (5 a minute, 5 an hour, 5 a day): the day, until midnight UTC, not the minute or the hour', async () => {
    const b = server.browser({ ip: '10.62.0.1' });
    let conversationId: string | undefined;
    for (let i = 0; i < 5; i++)
      conversationId = (await send(b, { content: `message ${i + 1}`, ...(conversationId ? { conversationId } : {}) })).start!.conversationId;
    // The per-minute limiter is used up too (5 a minute): it refuses first, but the day is the real wait.
    const refusal = await trpcError(send(b, { content: 'one more', conversationId: conversationId! }));
    expect(refusal).toMatchObject({ reason: 'quota_exhausted', code: 'PAYMENT_REQUIRED', message: "You have used today's 5 messages." });
    expect(refusal.data.limit).toBe('messagesPerDay');
    expectWait(refusal.data, nextDay(new Date()));
  });

  it('only the hour used up: the hour, until the next full hour', async () => {
    const { b, id } = await freeUser();
    await setCounter(userSubject(id), COUNTER.messagesHour, hourStart(new Date()), 10);
    await setCounter(userSubject(id), COUNTER.messagesDay, dayStart(new Date()), 10);
    const refusal = await trpcError(send(b, { content: 'hello' }));
    expect(refusal).toMatchObject({ reason: 'quota_exhausted', message: "You have used this hour's 10 messages." });
    expect(refusal.data.limit).toBe('messagesPerHour');
    expectWait(refusal.data, nextHour(new Date()));
  });

  it("the hour and the month's tokens used up: the tokens, until the period ends", async () => {
    const { b, id } = await freeUser();
    await setCounter(userSubject(id), COUNTER.messagesHour, hourStart(new Date()), 10);
    await setCounter(userSubject(id), COUNTER.tokensMonth, monthStart(new Date()), 100_000);
    const refusal = await trpcError(send(b, { content: 'hello' }));
    expect(refusal.reason).toBe('quota_exhausted');
    expect(refusal.data.limit).toBe('tokensPerMonth');
    expectWait(refusal.data, nextMonth(new Date()));
  });

  it('too many a minute with no quota used up: rate_limited, requestsPerMinute, under a minute', async () => {
    const { b, id } = await freeUser();
    // Pro: 30 requests a minute, 100 messages an hour; a burst of 32 leaves the hour far from used up.
    await server.deps.prisma.user.update({ where: { id }, data: { planId: 'pro' } });
    const results = await Promise.allSettled(Array.from({ length: 32 }, (_, i) => send(b, { content: `burst ${i}` })));
    const refused = await Promise.all(
      results.filter((r) => r.status === 'rejected').map((r) => trpcError(Promise.reject((r as PromiseRejectedResult).reason))),
    );
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expect(r.reason).toBe('rate_limited');
      expect(r.data.limit).toBe('requestsPerMinute');
      expect(r.data.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(new Date(String(r.data.resetAt)).getTime()).toBeLessThanOrEqual(Date.now() + 61_000);
    }
  });

  it("the service's daily cap: global_cap, globalTokensPerDay, until midnight UTC", async () => {
    const { b } = await freeUser();
    await server.deps.prisma.$executeRaw(Prisma.sql`UPDATE app_settings SET max_tokens_per_day = 1 WHERE id = 1`);
    try {
      const refusal = await trpcError(send(b, { content: 'hello' }));
      expect(refusal.reason).toBe('global_cap');
      expect(refusal.data.limit).toBe('globalTokensPerDay');
      expectWait(refusal.data, nextDay(new Date()));
    } finally {
      await server.deps.prisma.$executeRaw(Prisma.sql`UPDATE app_settings SET max_tokens_per_day = NULL WHERE id = 1`);
    }
  });

  it("a guest refused for the day signs up: the conversation is the account's, and the account's own limits apply at once", async () => {
    const b = server.browser({ ip: '10.62.0.9' });
    let conversationId: string | undefined;
    for (let i = 0; i < 5; i++)
      conversationId = (await send(b, { content: `guest ${i + 1}`, ...(conversationId ? { conversationId } : {}) })).start!.conversationId;
    expect((await trpcError(send(b, { content: 'blocked', conversationId: conversationId! }))).data.limit).toBe('messagesPerDay');
    const guestId = (await b.trpc.auth.me.query())!.id;
    const { user } = await b.trpc.auth.signUp.mutate({ email: `from-guest-${Date.now()}@example.com`, password: 'correct horse battery' });
    expect(user.id).toBe(guestId);
    const summary = await b.trpc.usage.summary.query();
    expect(summary.plan).toBe('free');
    expect(summary.limits.messagesPerDay).toBe(20);
    // The guest's hour and day are the account's count too (5 of the free plan's 10 and 20): it may send again.
    const after = await send(b, { content: 'back in the same conversation', conversationId: conversationId! });
    expect(after.done?.status).toBe('ok');
    expect(after.start?.conversationId).toBe(conversationId);
    expect((await b.trpc.chat.messages.query({ conversationId: conversationId! })).items).toHaveLength(12);
  });
});
