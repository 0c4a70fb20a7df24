// A reservation made for a user read from the instance's session cache (issue 17: the streamed
// chats skip the session query) checks the session in its own transaction: it must still open,
// and the user must still be as the checks before the reservation saw them. Otherwise nothing
// is written: the session gone is `unauthenticated`, a changed user a StaleSessionError (the
// server reads the session again and retries, routers/chat.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@chatmeter/db/testing';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
import { Meter, StaleSessionError, type ReserveChatInput, type SessionExpectation } from './meter.ts';
import { calendarMonth } from './periods.ts';

let tdb: TestDatabase;
let meter: Meter;
beforeAll(async () => {
  tdb = await createTestDatabase();
  meter = new Meter(tdb.db.query);
});
afterAll(async () => {
  await tdb?.cleanup();
});

const free = DEFAULT_PLANS.find((p) => p.id === 'free')!;
const guest = DEFAULT_PLANS.find((p) => p.id === 'guest')!;

/** A verified free user with a live session; `expect` is what a cached lookup of it says. */
async function userWithSession(): Promise<{ userId: string; sessionId: string; expect: SessionExpectation }> {
  const userId = randomUUID();
  const verifiedAt = new Date();
  await tdb.db.prisma.user.create({ data: { id: userId, email: `${userId}@example.com`, emailVerifiedAt: verifiedAt } });
  const sessionId = randomUUID().replaceAll('-', '').slice(0, 24);
  await tdb.db.prisma.session.create({
    data: { id: sessionId, secretHash: new Uint8Array(32), userId, expiresAt: new Date(Date.now() + 86_400_000) },
  });
  return { userId, sessionId, expect: { planId: 'free', isGuest: false, emailVerifiedAt: verifiedAt, subscribed: false } };
}

function reserveInput(userId: string, session: ReserveChatInput['session']): ReserveChatInput {
  const now = new Date();
  return {
    user: { id: userId, isGuest: session?.expect.isGuest ?? false },
    plan: free,
    guestPlan: guest,
    ipHash: 'session-check',
    model: 'gpt-4o-mini',
    promptTokens: 30,
    maxTokens: 50,
    month: calendarMonth(now),
    defaultDailyTokenCap: 1_000_000_000,
    requestId: randomUUID(),
    conversation: { id: null, title: 'session check', userContent: 'hello', maxMessages: 100 },
    now,
    session,
  };
}

/** Everything a reservation writes for the user. */
async function footprint(userId: string) {
  const [reservations, messages, conversations, counters] = await Promise.all([
    tdb.db.prisma.reservation.count({ where: { userId } }),
    tdb.db.prisma.message.count({ where: { userId } }),
    tdb.db.prisma.conversation.count({ where: { userId } }),
    tdb.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM quota_counters WHERE subject = $1 AND used > 0`, [`u:${userId}`]),
  ]);
  return { reservations, messages, conversations, counters: Number(counters[0]!.n) };
}
const NOTHING = { reservations: 0, messages: 0, conversations: 0, counters: 0 };

describe('a reservation for a user read from the session cache', () => {
  it('goes through while the session opens and the user is as expected', async () => {
    const { userId, sessionId, expect: expectation } = await userWithSession();
    const reservation = await meter.reserveChat(reserveInput(userId, { id: sessionId, expect: expectation }));
    expect(reservation.fundedBy).toBe('allowance');
    expect((await footprint(userId)).reservations).toBe(1);
  });

  const changes: Array<[string, (userId: string) => Promise<unknown>]> = [
    ['the plan', (id) => tdb.db.prisma.user.update({ where: { id }, data: { planId: 'pro' } })],
    ['guest or not', (id) => tdb.db.prisma.user.update({ where: { id }, data: { isGuest: true } })],
    ['the address proven or not', (id) => tdb.db.prisma.user.update({ where: { id }, data: { emailVerifiedAt: null } })],
    ['a block', (id) => tdb.db.prisma.user.update({ where: { id }, data: { blockedAt: new Date() } })],
    [
      'a live subscription',
      (id) =>
        tdb.db.prisma.subscription.create({
          data: { id: `sub_${randomUUID()}`, userId: id, stripeCustomerId: 'cus_x', status: 'active', effectivePlanId: 'free', stripeStateAt: new Date() },
        }),
    ],
  ];
  for (const [what, change] of changes) {
    it(`is refused as stale, writing nothing, when ${what} changed since`, async () => {
      const { userId, sessionId, expect: expectation } = await userWithSession();
      await change(userId);
      await expect(meter.reserveChat(reserveInput(userId, { id: sessionId, expect: expectation }))).rejects.toBeInstanceOf(StaleSessionError);
      expect(await footprint(userId)).toEqual(NOTHING);
    });
  }

  it('is refused as a subscription ending when the cache said subscribed', async () => {
    const { userId, sessionId, expect: expectation } = await userWithSession();
    await tdb.db.prisma.subscription.create({
      data: { id: `sub_${randomUUID()}`, userId, stripeCustomerId: 'cus_x', status: 'canceled', effectivePlanId: 'free', stripeStateAt: new Date() },
    });
    await expect(meter.reserveChat(reserveInput(userId, { id: sessionId, expect: { ...expectation, subscribed: true } }))).rejects.toBeInstanceOf(
      StaleSessionError,
    );
    expect(await footprint(userId)).toEqual(NOTHING);
  });

  const gone: Array<[string, (userId: string, sessionId: string) => Promise<unknown>]> = [
    ['was signed out elsewhere', (_u, id) => tdb.db.prisma.session.delete({ where: { id } })],
    ['has expired', (_u, id) => tdb.db.prisma.session.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } })],
  ];
  for (const [what, end] of gone) {
    it(`is refused as unauthenticated, writing nothing, when the session ${what}`, async () => {
      const { userId, sessionId, expect: expectation } = await userWithSession();
      await end(userId, sessionId);
      const refusal = await meter.reserveChat(reserveInput(userId, { id: sessionId, expect: expectation })).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(AppError);
      expect(refusal).toMatchObject({ reason: 'unauthenticated' });
      expect(await footprint(userId)).toEqual(NOTHING);
    });
  }

  it("does not take another user's session", async () => {
    const { userId, expect: expectation } = await userWithSession();
    const other = await userWithSession();
    const refusal = await meter.reserveChat(reserveInput(userId, { id: other.sessionId, expect: expectation })).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ reason: 'unauthenticated' });
    expect(await footprint(userId)).toEqual(NOTHING);
  });

  it('names a deleted account as before', async () => {
    const { userId, sessionId, expect: expectation } = await userWithSession();
    await tdb.db.prisma.user.update({ where: { id: userId }, data: { deletedAt: new Date() } });
    const refusal = await meter.reserveChat(reserveInput(userId, { id: sessionId, expect: expectation })).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ reason: 'unauthenticated', message: 'This account has been deleted.' });
  });
});
