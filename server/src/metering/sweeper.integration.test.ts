// A server killed mid-stream leaves a held reservation; the sweeper settles it
// as estimated once, however many instances sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { calendarMonth } from './periods.ts';
import { sweepExpiredReservations } from './sweeper.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('reservation sweeper', () => {
  it('settles an expired reservation as estimated, exactly once, and frees nothing twice', async () => {
    const { user } = await server.browser().trpc.auth.signUp.mutate({ email: `sweep-${Date.now()}@example.com`, password: 'correct horse battery' });
    const plan = server.deps.plans.find((p) => p.id === 'free')!;
    const now = new Date();
    const reservation = await server.deps.meter.reserveChat({
      user: { id: user.id, isGuest: false },
      plan,
      guestPlan: server.deps.plans.find((p) => p.id === 'guest')!,
      ipHash: 'x',
      model: 'demo',
      promptTokens: 40,
      maxTokens: 100,
      month: calendarMonth(now),
      defaultDailyTokenCap: 1_000_000,
      requestId: 'killed-mid-stream',
      conversation: { id: null, title: 't', userContent: 'hello', maxMessages: 50 },
      now,
    });
    // Not yet expired: nothing to do.
    expect(await sweepExpiredReservations(server.deps.prisma, server.deps.meter, server.deps.pricing)).toBe(0);
    const later = new Date(now.getTime() + 11 * 60 * 1000);
    const swept = await Promise.all([
      sweepExpiredReservations(server.deps.prisma, server.deps.meter, server.deps.pricing, { now: later }),
      sweepExpiredReservations(server.deps.prisma, server.deps.meter, server.deps.pricing, { now: later }),
    ]);
    expect(swept[0]! + swept[1]!).toBe(1);
    const events = await server.deps.prisma.usageEvent.findMany({ where: { reservationId: reservation.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'expired', estimated: true, promptTokens: 40, completionTokens: 100 });
    const [counter] = await server.deps.prisma.$queryRaw<{ used: bigint }[]>(Prisma.sql`
      SELECT used FROM quota_counters WHERE subject = ${`u:${user.id}`} AND kind = 'tokens_month'`);
    expect(counter!.used).toBe(140n);
    const held = await server.deps.prisma.reservation.count({ where: { status: 'held' } });
    expect(held).toBe(0);
  });
});
