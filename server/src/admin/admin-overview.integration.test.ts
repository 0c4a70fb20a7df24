// admin.overview against a dataset whose every figure is known: totals for
// today / 7 / 30 days, the series, by model, top users, upgrade candidates
// (from quota_counters), refusals, and the projection next to plan revenue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { centsToMicros } from '@chatmeter/shared/money';
import { OverviewService } from './overview.ts';
import { projectMonthCost } from './projection.ts';
import { insertEvents, person, type Person } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
let admin: Person;
const NOW = new Date('2026-06-20T12:00:00Z');
const at = (daysAgo: number, hour = 10) => new Date(Date.UTC(2026, 5, 20 - daysAgo, hour, 30));
const ids: Record<'a' | 'b' | 'c' | 'g' | 'p2' | 'f2' | 'f3', string> = { a: '', b: '', c: '', g: '', p2: '', f2: '', f3: '' };

beforeAll(async () => {
  server = await startTestServer();
  admin = await person(server, 'admin');
  const prisma = server.deps.prisma;
  ids.a = (await person(server, 'user', { plan: 'free' })).id;
  ids.b = (await person(server, 'user', { plan: 'pro' })).id;
  ids.c = (await person(server, 'user', { plan: 'enterprise' })).id;
  ids.p2 = (await person(server, 'user', { plan: 'pro' })).id;
  ids.f2 = (await person(server, 'user', { plan: 'free' })).id;
  ids.f3 = (await person(server, 'user', { plan: 'free' })).id;
  ids.g = (await prisma.user.create({ data: { isGuest: true, planId: 'guest' }, select: { id: true } })).id;
  // A deleted paid account earns nothing.
  await prisma.user.create({ data: { planId: 'enterprise', deletedAt: new Date() }, select: { id: true } });

  await insertEvents(server, [
    // today
    { userId: ids.a, model: 'gpt-4o-mini', promptTokens: 100, completionTokens: 50, costMicroUsd: 1_000, createdAt: at(0, 1) },
    { userId: ids.a, model: 'gpt-4o-mini', promptTokens: 100, completionTokens: 50, costMicroUsd: 1_000, createdAt: at(0, 11) },
    { userId: ids.g, isGuest: true, model: 'demo', promptTokens: 10, completionTokens: 5, createdAt: at(0) },
    { userId: ids.b, model: 'gpt-4o', status: 'error', createdAt: at(0) },
    { userId: ids.b, kind: 'tts', model: 'espeak-ng', status: 'ok', ttsChars: 300, createdAt: at(0) },
    // yesterday, 5, 20 and 40 days ago
    { userId: ids.c, model: 'gpt-4o', promptTokens: 1_000, completionTokens: 500, costMicroUsd: 20_000, createdAt: at(1, 23) },
    { userId: ids.a, model: 'gpt-4o-mini', promptTokens: 200, completionTokens: 100, costMicroUsd: 3_000, createdAt: at(5) },
    { userId: ids.b, model: 'gpt-4o', promptTokens: 400, completionTokens: 100, costMicroUsd: 9_000, createdAt: at(20) },
    { userId: ids.c, model: 'gpt-4o', promptTokens: 9_999, completionTokens: 9_999, costMicroUsd: 50_000, createdAt: at(40) },
  ]);
  await prisma.$executeRaw(Prisma.sql`
    INSERT INTO refusals_daily (day, reason, count) VALUES
      ('2026-06-20', 'quota_exhausted', 3), ('2026-06-18', 'rate_limited', 2), ('2026-06-01', 'kill_switch', 4), ('2026-05-01', 'kill_switch', 9)`);
  const today = new Date('2026-06-20T00:00:00Z');
  const month = new Date('2026-06-01T00:00:00Z');
  const counters: [string, string, Date, number][] = [
    [`u:${ids.a}`, 'messages_day', today, 18],
    [`u:${ids.a}`, 'tokens_month', month, 1_000],
    [`u:${ids.f2}`, 'tokens_month', month, 85_000],
    [`u:${ids.f2}`, 'messages_day', today, 3],
    [`u:${ids.f3}`, 'messages_day', today, 10],
    [`u:${ids.f3}`, 'messages_day', new Date('2026-06-19T00:00:00Z'), 20],
    [`u:${ids.b}`, 'messages_day', today, 400],
    [`u:${ids.g}`, 'tokens_month', month, 9_000],
    ['ip:0123456789abcdef', 'messages_day', today, 50],
  ];
  for (const [subject, kind, period, used] of counters) {
    await prisma.$executeRaw(
      Prisma.sql`INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${subject}, ${kind}, ${period}::timestamptz, ${used}::bigint)`,
    );
  }
});
afterAll(async () => {
  await server?.close();
});

describe('admin.overview on a known dataset', () => {
  it('totals for today, 7 and 30 days', async () => {
    const o = await server.deps.overview.overview(7, NOW);
    expect(o.today).toBe('2026-06-20');
    expect(o.totals.today).toEqual({
      requests: 5,
      promptTokens: 210,
      completionTokens: 105,
      tokens: 315,
      costMicroUsd: 2_000,
      ttsChars: 300,
      activeUsers: 2,
      guests: 1,
      guestRequests: 1,
      providerErrors: 1,
      refusals: { total: 3, byReason: { quota_exhausted: 3 } },
    });
    expect(o.totals.last7).toEqual({
      requests: 7,
      promptTokens: 1_410,
      completionTokens: 705,
      tokens: 2_115,
      costMicroUsd: 25_000,
      ttsChars: 300,
      activeUsers: 3,
      guests: 1,
      guestRequests: 1,
      providerErrors: 1,
      refusals: { total: 5, byReason: { quota_exhausted: 3, rate_limited: 2 } },
    });
    expect(o.totals.last30).toEqual({
      requests: 8,
      promptTokens: 1_810,
      completionTokens: 805,
      tokens: 2_615,
      costMicroUsd: 34_000,
      ttsChars: 300,
      activeUsers: 3,
      guests: 1,
      guestRequests: 1,
      providerErrors: 1,
      refusals: { total: 9, byReason: { quota_exhausted: 3, rate_limited: 2, kill_switch: 4 } },
    });
  });

  it('a zero-filled daily series for the chosen window', async () => {
    const week = await server.deps.overview.overview(7, NOW);
    expect(week.series.map((p) => p.day)).toEqual(['2026-06-14', '2026-06-15', '2026-06-16', '2026-06-17', '2026-06-18', '2026-06-19', '2026-06-20']);
    expect(week.series.map((p) => p.costMicroUsd)).toEqual([0, 3_000, 0, 0, 0, 20_000, 2_000]);
    expect(week.series.map((p) => p.tokens)).toEqual([0, 300, 0, 0, 0, 1_500, 315]);
    expect(week.series.map((p) => p.refusals)).toEqual([0, 0, 0, 0, 2, 0, 3]);
    expect(week.series[6]).toMatchObject({ requests: 5, providerErrors: 1, ttsChars: 300 });
    expect((await server.deps.overview.overview(1, NOW)).series.map((p) => p.day)).toEqual(['2026-06-20']);
    const month = await server.deps.overview.overview(30, NOW);
    expect(month.series).toHaveLength(30);
    expect(month.series[0]!.day).toBe('2026-05-22');
    expect(month.series.find((p) => p.day === '2026-05-31')?.costMicroUsd).toBe(9_000);
  });

  it('by model and top users over the chosen window', async () => {
    const o = await server.deps.overview.overview(7, NOW);
    expect(o.byModel.slice(0, 2)).toEqual([
      {
        model: 'gpt-4o',
        provider: '',
        kind: 'chat',
        requests: 2,
        promptTokens: 1_000,
        completionTokens: 500,
        tokens: 1_500,
        costMicroUsd: 20_000,
        ttsChars: 0,
        errors: 1,
      },
      {
        model: 'gpt-4o-mini',
        provider: '',
        kind: 'chat',
        requests: 3,
        promptTokens: 400,
        completionTokens: 200,
        tokens: 600,
        costMicroUsd: 5_000,
        ttsChars: 0,
        errors: 0,
      },
    ]);
    expect(
      o.byModel
        .slice(2)
        .map((m) => `${m.kind}:${m.model}:${m.requests}:${m.ttsChars}`)
        .sort(),
    ).toEqual(['chat:demo:1:0', 'tts:espeak-ng:1:300']);
    expect(o.topUsers.map((u) => [u.userId, u.requests, u.tokens, u.costMicroUsd])).toEqual([
      [ids.c, 1, 1_500, 20_000],
      [ids.a, 3, 600, 5_000],
      [ids.g, 1, 15, 0],
      [ids.b, 2, 0, 0],
    ]);
    expect(o.topUsers[0]).toMatchObject({ plan: 'enterprise', isGuest: false, deleted: false });
    expect(o.topUsers[2]).toMatchObject({ isGuest: true, email: null });
    const today = await server.deps.overview.overview(1, NOW);
    expect(today.topUsers.map((u) => u.userId)).toEqual([ids.a, ids.g, ids.b]);
  });

  it('free accounts at 80 % of a limit are upgrade candidates', async () => {
    const o = await server.deps.overview.overview(30, NOW);
    expect(o.upgradeCandidates).toEqual([
      {
        userId: ids.a,
        email: expect.any(String),
        messagesToday: 18,
        messagesPerDay: 20,
        tokensThisMonth: 1_000,
        tokensPerMonth: 100_000,
        fraction: 0.9,
        limits: ['messagesPerDay'],
      },
      {
        userId: ids.f2,
        email: expect.any(String),
        messagesToday: 3,
        messagesPerDay: 20,
        tokensThisMonth: 85_000,
        tokensPerMonth: 100_000,
        fraction: 0.85,
        limits: ['tokensPerMonth'],
      },
    ]);
  });

  it('a yearly subscriber counts at a twelfth of the yearly price, not at the monthly price', async () => {
    const prisma = server.deps.prisma;
    const sub = (id: string, userId: string, priceId: string, status: string) => ({
      id,
      userId,
      stripeCustomerId: `cus_${id}`,
      priceId,
      planId: 'pro',
      status,
      effectivePlanId: 'pro',
      stripeStateAt: NOW,
    });
    await prisma.subscription.createMany({
      data: [
        sub('sub_year_pro', ids.b, 'price_pro_year', 'active'),
        sub('sub_old_month', ids.p2, 'price_pro_year', 'canceled'),
        sub('sub_month_pro', ids.p2, 'price_pro', 'active'),
      ],
    });
    try {
      const service = new OverviewService(
        prisma,
        server.deps.plans,
        new Map([
          ['price_pro', 'month'],
          ['price_pro_year', 'year'],
        ]),
      );
      const o = await service.overview(30, NOW);
      const pro = o.projection.paidPlans.find((p) => p.plan === 'pro')!;
      expect(pro).toMatchObject({ users: 2, yearlyUsers: 1 });
      // Pro: 1,500 cents a month or 15,000 cents a year (1,250 a month).
      expect(pro.revenueMicroUsd).toBe(centsToMicros(1_500) + Math.round(centsToMicros(15_000) / 12));
      expect(o.projection.revenueMicroUsd).toBe(pro.revenueMicroUsd + centsToMicros(9_900));
    } finally {
      await prisma.subscription.deleteMany({ where: { id: { in: ['sub_year_pro', 'sub_old_month', 'sub_month_pro'] } } });
    }
  });

  it('projects the month from the trend, beside the revenue of the paid plans', async () => {
    const o = await server.deps.overview.overview(30, NOW);
    const revenue = 2 * centsToMicros(1_500) + centsToMicros(9_900);
    expect(o.projection.revenueMicroUsd).toBe(revenue);
    expect(o.projection.paidPlans).toEqual([
      { plan: 'pro', name: 'Pro', users: 2, yearlyUsers: 0, priceMonthlyCents: 1_500, revenueMicroUsd: 2 * centsToMicros(1_500) },
      { plan: 'enterprise', name: 'Enterprise', users: 1, yearlyUsers: 0, priceMonthlyCents: 9_900, revenueMicroUsd: centsToMicros(9_900) },
    ]);
    expect(o.projection.costToDateMicroUsd).toBe(25_000);
    // The 30-day series covers every day the projection reads (05-22 .. 06-20).
    const daily = new Map(o.series.map((p) => [p.day, p.costMicroUsd]));
    const expected = projectMonthCost({ now: NOW, dailyCost: daily, firstDay: '2026-05-31' });
    expect(o.projection.projectedCostMicroUsd).toBe(expected.projectedCostMicroUsd);
    expect(o.projection.projectedCostMicroUsd).toBeGreaterThanOrEqual(25_000);
    expect(o.projection.marginMicroUsd).toBe(revenue - o.projection.projectedCostMicroUsd);
    expect(o.projection.monthStart.toISOString()).toBe('2026-06-01T00:00:00.000Z');
  });

  it('refusals on chat.send are counted as they happen', async () => {
    const user = await person(server);
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: true } });
    try {
      expect(await trpcError(send(user.b, { content: 'anyone?' }))).toMatchObject({ reason: 'kill_switch' });
      expect(await trpcError(send(user.b, { content: 'anyone at all?' }))).toMatchObject({ reason: 'kill_switch' });
      expect(await trpcError(send(user.b, { content: 'x', model: 'gpt-99' }))).toMatchObject({ reason: 'model_not_in_plan' });
    } finally {
      await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: false } });
    }
    const o = await admin.b.trpc.admin.overview.query({ days: 1 });
    expect(o.totals.today.refusals.byReason).toMatchObject({ kill_switch: 2, model_not_in_plan: 1 });
    expect(o.series).toHaveLength(1);
    expect(o.days).toBe(1);
  });

  it("today's usage shows at once; closed days are read once per day", async () => {
    const user = await person(server);
    const now = new Date();
    const before = await server.deps.overview.overview(7, now);
    await insertEvents(server, [{ userId: user.id, costMicroUsd: 4_242, promptTokens: 7, createdAt: now }]);
    const after = await server.deps.overview.overview(7, now);
    expect(after.totals.today.requests).toBe(before.totals.today.requests + 1);
    expect(after.totals.last7.costMicroUsd).toBe(before.totals.last7.costMicroUsd + 4_242);
    expect(after.topUsers.find((u) => u.userId === user.id)).toMatchObject({ requests: 1, tokens: 7, costMicroUsd: 4_242 });
    // A past-dated insert waits for the next day (or an invalidation, as account deletion does).
    await insertEvents(server, [{ userId: user.id, costMicroUsd: 1, createdAt: new Date(now.getTime() - 2 * 24 * 60 * 60 * 1000) }]);
    expect((await server.deps.overview.overview(7, now)).totals.last7.costMicroUsd).toBe(after.totals.last7.costMicroUsd);
    server.deps.overview.invalidate();
    expect((await server.deps.overview.overview(7, now)).totals.last7.costMicroUsd).toBe(after.totals.last7.costMicroUsd + 1);
  });

  it('just after midnight, a late commit to the day before is picked up within a minute', async () => {
    const user = await person(server);
    const midnight = new Date('2026-07-01T00:05:00Z');
    const first = await server.deps.overview.overview(7, midnight);
    await insertEvents(server, [{ userId: user.id, costMicroUsd: 999, createdAt: new Date('2026-06-30T23:59:59Z') }]);
    expect((await server.deps.overview.overview(7, new Date(midnight.getTime() + 30_000))).totals.last7.costMicroUsd).toBe(first.totals.last7.costMicroUsd);
    expect((await server.deps.overview.overview(7, new Date(midnight.getTime() + 120_000))).totals.last7.costMicroUsd).toBe(
      first.totals.last7.costMicroUsd + 999,
    );
  });

  it('over tRPC: days defaults to 30 and must be 1, 7 or 30', async () => {
    const o = await admin.b.trpc.admin.overview.query();
    expect(o.days).toBe(30);
    expect(o.series).toHaveLength(30);
    expect(await trpcError(admin.b.trpc.admin.overview.query({ days: 14 as 7 }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
  });
});
