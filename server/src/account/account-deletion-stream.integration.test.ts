// Deleting an account while one of its replies is streaming (issue 11: 1,069 tokens
// went unmetered in the review). The reply stops (on this instance), is settled
// anyway, and lands without the person: the global daily counter, the usage
// events and the roll-ups agree to the token. On another instance the reply runs
// to its end and its settlement lands anonymised the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { testServerUrl } from '@chatmeter/db/testing';
import type { TChatEvent } from '@chatmeter/shared/chat';
import { ANONYMOUS_USER_ID } from '../metering/anonymous-user.ts';
import { demoReply } from '../chat/providers/demo.ts';
import { countTextTokens } from '../chat/tokens.ts';
import { RESERVATION_TTL_MS } from '../metering/meter.ts';
import { calendarMonth, dayStart } from '../metering/periods.ts';
import { sweepExpiredReservations } from '../metering/sweeper.ts';
import { SESSION_COOKIE } from '../auth/session.ts';
import { rawAndRollUp } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

const PASSWORD = 'correct horse battery staple';
// A code answer from the demo model: long enough to stream for a couple of seconds.
const PROMPT = 'Write a fibonacci function in python';
let n = 0;

async function signUp(server: TestServer): Promise<{ b: TestBrowser; id: string }> {
  const b = server.browser({ ip: `10.88.0.${++n}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `streaming-${n}-${Date.now()}@example.com`, password: PASSWORD });
  return { b, id: user.id };
}

/** Reads a chat stream to its end, calling `onDelta` with the number of deltas so far. */
async function readStream(b: TestBrowser, content: string, onDelta: (count: number) => void): Promise<{ events: TChatEvent[]; text: string }> {
  const events: TChatEvent[] = [];
  const stream = await b.trpc.chat.send.mutate({ content });
  let deltas = 0;
  for await (const event of stream) {
    events.push(event as TChatEvent);
    if (event.type === 'delta') onDelta(++deltas);
  }
  return { events, text: events.map((e) => (e.type === 'delta' ? e.text : '')).join('') };
}

/** Today's global token counter and the tokens of today's chat events: settled, they are equal. */
async function counterAndUsage(server: TestServer) {
  const [row] = await server.deps.prisma.$queryRaw<{ counter: bigint | null; usage: bigint | null }[]>(Prisma.sql`
    SELECT (SELECT used FROM quota_counters WHERE subject = 'global' AND kind = 'global_tokens_day' AND period_start = ${dayStart(new Date())}::timestamptz) AS counter,
           (SELECT sum(prompt_tokens + completion_tokens) FROM usage_events
             WHERE kind = 'chat' AND created_at >= ${dayStart(new Date())}::timestamptz)::bigint AS usage`);
  return { counter: row!.counter ?? 0n, usage: row!.usage ?? 0n };
}

async function anonymousRollUp(server: TestServer) {
  const [row] = await server.deps.prisma.$queryRaw<{ requests: bigint | null; tokens: bigint | null }[]>(Prisma.sql`
    SELECT sum(requests)::bigint AS requests, sum(prompt_tokens + completion_tokens)::bigint AS tokens
      FROM usage_daily WHERE user_id = ${ANONYMOUS_USER_ID}::uuid AND kind = 'chat'`);
  return { requests: row!.requests ?? 0n, tokens: row!.tokens ?? 0n };
}

/** Nothing of the person is left behind by the reply: no reservation, counter, message or conversation. */
async function expectNothingLeftOf(server: TestServer, userId: string) {
  const prisma = server.deps.prisma;
  expect(await prisma.reservation.count({ where: { userId } })).toBe(0);
  expect(await prisma.quotaCounter.count({ where: { subject: `u:${userId}` } })).toBe(0);
  expect(await prisma.message.count({ where: { userId } })).toBe(0);
  expect(await prisma.conversation.count({ where: { userId } })).toBe(0);
  expect(await prisma.usageEvent.count({ where: { userId } })).toBe(0);
  expect(await prisma.notification.count({ where: { userId } })).toBe(0);
}

describe('one instance', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ DEMO_DELAY_MS: '150' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('deleting the account mid-stream stops the reply and meters it, anonymised: the global counter and the roll-ups include exactly the streamed tokens', async () => {
    const u = await signUp(server);
    await send(u.b, { content: 'Hello there' }); // earlier usage, anonymised by the deletion as before
    const before = await anonymousRollUp(server);

    let deletion: Promise<unknown> | undefined;
    const started = Date.now();
    const { events, text } = await readStream(u.b, PROMPT, (count) => {
      if (count === 3) deletion = u.b.trpc.account.deleteAccount.mutate({ confirm: 'DELETE' });
    });
    expect(await deletion).toMatchObject({ ok: true });

    // The stream ended, early: some text, no 'done'.
    expect(events[0]).toMatchObject({ type: 'start' });
    expect(events.some((e) => e.type === 'done')).toBe(false);
    const full = demoReply([{ role: 'user', content: PROMPT }]);
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(full.length);
    expect(full.startsWith(text)).toBe(true);
    // Stopped, not run to its end (40 chunks, 150 ms apart).
    expect(Date.now() - started).toBeLessThan(40 * 150);

    // Metered, without the person: what was streamed, no more, no less.
    const streamed = await server.deps.prisma.usageEvent.findMany({ where: { kind: 'chat', status: 'aborted' } });
    expect(streamed).toHaveLength(1);
    const event = streamed[0]!;
    expect(event).toMatchObject({ userId: null, ipHash: null, conversationId: null, requestId: null, reservationId: null, model: 'demo' });
    expect(event.completionTokens).toBe(countTextTokens('demo', text));
    expect(event.promptTokens).toBeGreaterThan(0);
    const tokens = BigInt(event.promptTokens + event.completionTokens);

    const { counter, usage } = await counterAndUsage(server);
    expect(counter).toBe(usage);
    const after = await anonymousRollUp(server);
    // The earlier message moved to the anonymous key with the deletion, plus the streamed reply.
    expect(after.requests).toBe(before.requests + 2n);
    const [first] = await server.deps.prisma.usageEvent.findMany({ where: { kind: 'chat', status: 'ok', userId: null } });
    expect(after.tokens).toBe(before.tokens + BigInt(first!.promptTokens + first!.completionTokens) + tokens);
    const { raw, rolled } = await rawAndRollUp(server);
    expect(rolled).toEqual(raw);
    await expectNothingLeftOf(server, u.id);
  });

  it('a reservation that reaches the meter after the deletion is refused, nothing is written for the tombstone', async () => {
    const u = await signUp(server);
    const user = await server.deps.prisma.user.findUniqueOrThrow({
      where: { id: u.id },
      select: { id: true, isGuest: true, planId: true, emailVerifiedAt: true },
    });
    await u.b.trpc.account.deleteAccount.mutate({ confirm: 'DELETE' });
    const plan = server.deps.planResolver.planFor(user);
    const refused = server.deps.meter.reserveChat({
      user,
      plan,
      guestPlan: server.deps.planResolver.guestPlan,
      ipHash: 'x',
      model: 'demo',
      promptTokens: 20,
      maxTokens: 100,
      month: calendarMonth(new Date()),
      defaultDailyTokenCap: 1_000_000,
      requestId: 'late',
      conversation: { id: null, title: 'late', userContent: 'a message sent as the account was deleted', maxMessages: 100 },
    });
    await expect(refused).rejects.toMatchObject({ reason: 'unauthenticated' });
    await expectNothingLeftOf(server, u.id);
  });

  it('a reply whose instance died is swept anonymised after its expiry', async () => {
    const u = await signUp(server);
    const user = await server.deps.prisma.user.findUniqueOrThrow({
      where: { id: u.id },
      select: { id: true, isGuest: true, planId: true, emailVerifiedAt: true },
    });
    // Reserved, then the process "died": nobody streams or settles it.
    const reservation = await server.deps.meter.reserveChat({
      user,
      plan: server.deps.planResolver.planFor(user),
      guestPlan: server.deps.planResolver.guestPlan,
      ipHash: 'x',
      model: 'demo',
      promptTokens: 20,
      maxTokens: 100,
      month: calendarMonth(new Date()),
      defaultDailyTokenCap: 1_000_000,
      requestId: 'orphan',
      conversation: { id: null, title: 'orphan', userContent: 'never answered', maxMessages: 100 },
    });
    await u.b.trpc.account.deleteAccount.mutate({ confirm: 'DELETE' });
    expect(await server.deps.prisma.reservation.findUnique({ where: { id: reservation.id }, select: { anonymised: true, conversationId: true } })).toEqual({
      anonymised: true,
      conversationId: null,
    });

    const swept = await sweepExpiredReservations(server.deps.prisma, server.deps.meter, server.deps.pricing, {
      now: new Date(Date.now() + RESERVATION_TTL_MS + 60_000),
    });
    expect(swept).toBeGreaterThanOrEqual(1);
    const expired = await server.deps.prisma.usageEvent.findMany({ where: { kind: 'chat', status: 'expired' } });
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ userId: null, promptTokens: 20, completionTokens: 100, estimated: true, reservationId: null });
    const { counter, usage } = await counterAndUsage(server);
    expect(counter).toBe(usage);
    await expectNothingLeftOf(server, u.id);
  });
});

describe.skipIf(!testServerUrl())('two instances on one database', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ DEMO_DELAY_MS: '100' });
    b = await startTestServer({ DEMO_DELAY_MS: '100' }, { sameDatabaseAs: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a reply streaming on the other instance runs to its end and its provider usage lands anonymised; counters and roll-ups agree', async () => {
    const u = await signUp(a);
    // The same browser session, served by instance B.
    const onB = b.browser({ ip: '10.88.1.1' });
    onB.cookies.set(SESSION_COOKIE, u.b.cookies.get(SESSION_COOKIE)!);

    let deletion: Promise<unknown> | undefined;
    let deletedAt = Infinity;
    const { events, text } = await readStream(onB, PROMPT, (count) => {
      if (count === 3) deletion = u.b.trpc.account.deleteAccount.mutate({ confirm: 'DELETE' }).finally(() => (deletedAt = Date.now()));
    });
    const endedAt = Date.now();
    expect(await deletion).toMatchObject({ ok: true });
    // The deletion was over while the reply was still streaming.
    expect(deletedAt).toBeLessThan(endedAt);
    // B did not know: the reply went on to its end, metered on the demo model's own usage.
    const done = events.find((e): e is Extract<TChatEvent, { type: 'done' }> => e.type === 'done');
    expect(done).toMatchObject({ status: 'ok', usage: { estimated: false } });
    expect(text).toBe(demoReply([{ role: 'user', content: PROMPT }]));

    const [event] = await a.deps.prisma.usageEvent.findMany({ where: { kind: 'chat' } });
    expect(event).toMatchObject({
      userId: null,
      ipHash: null,
      conversationId: null,
      requestId: null,
      reservationId: null,
      status: 'ok',
      estimated: false,
      promptTokens: done!.usage.promptTokens,
      completionTokens: done!.usage.completionTokens,
    });
    const { counter, usage } = await counterAndUsage(a);
    expect(counter).toBe(usage);
    expect(counter).toBe(BigInt(done!.usage.totalTokens));
    expect(await anonymousRollUp(a)).toEqual({ requests: 1n, tokens: BigInt(done!.usage.totalTokens) });
    const { raw, rolled } = await rawAndRollUp(a);
    expect(rolled).toEqual(raw);
    await expectNothingLeftOf(a, u.id);
    // And the session is gone on B as well.
    expect(await trpcError(onB.trpc.usage.summary.query())).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
