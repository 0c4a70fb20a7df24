// Alerts: quota thresholds become notifications (and e-mails), once per period;
// the global cap and spend velocity alert the admins and post the webhook once.
// The "two instances" part runs two servers on one Postgres database (needs
// TEST_DATABASE_URL); the notification API part runs on PGlite too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { testServerUrl } from '@chatmeter/db/testing';
import { COUNTER, GLOBAL_SUBJECT, userSubject } from '../metering/counters.ts';
import { addCredits } from '../metering/credits.ts';
import { dayStart, monthStart } from '../metering/periods.ts';
import { insertEvents } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

const LIMITS = { chat: { points: 10_000, duration: 60 }, chatIp: { points: 10_000, duration: 60 }, signUpIp: { points: 10_000, duration: 60 } };
const ENV = { CHAT_MAX_TOKENS: '64' };

interface Webhook {
  url: string;
  posts: { contentType: string | undefined; body: unknown }[];
  close(): Promise<void>;
}

/** A local Slack-compatible incoming webhook that records what it was sent. */
async function startWebhook(): Promise<Webhook> {
  const posts: Webhook['posts'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      posts.push({ contentType: req.headers['content-type'], body: JSON.parse(raw) as unknown });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts`,
    posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let n = 0;
async function signUp(server: TestServer): Promise<{ b: TestBrowser; id: string; email: string }> {
  const b = server.browser({ ip: `10.60.${Math.floor(++n / 250)}.${n % 250}` });
  const email = `alerts${n}-${Date.now()}@example.com`;
  const { user } = await b.trpc.auth.signUp.mutate({ email, password: 'correct horse battery' });
  return { b, id: user.id, email };
}

/** The same session in another server's browser (both instances read the same sessions table). */
function sameSessionOn(server: TestServer, from: TestBrowser): TestBrowser {
  const other = server.browser();
  for (const [name, cookie] of from.cookies) other.cookies.set(name, cookie);
  return other;
}

async function setCounter(server: TestServer, subject: string, kind: string, period: Date, used: number) {
  await server.deps.prisma.$executeRaw(Prisma.sql`
    INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${subject}, ${kind}, ${period}::timestamptz, ${used}::bigint)
    ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
}

describe('notifications and preferences (one instance)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(ENV, { limits: LIMITS });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('crossing 80 % of today’s messages notifies in-app and by e-mail; the bell counts it; markRead clears it', async () => {
    const { b, id, email } = await signUp(server);
    await setCounter(server, userSubject(id), COUNTER.messagesDay, dayStart(new Date()), 15);
    expect(await b.trpc.notifications.unreadCount.query()).toEqual({ count: 0 });
    await send(b, { content: 'one more' });
    await server.deps.alerts.idle();

    const list = await b.trpc.notifications.list.query();
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({ kind: 'messages_day', threshold: 80, title: "You have used 80% of today's messages", readAt: null });
    expect(list.items[0]!.body).toContain('16 of 20 messages on the Free plan');
    expect(await b.trpc.notifications.unreadCount.query()).toEqual({ count: 1 });
    const mails = await server.deps.prisma.emailOutbox.findMany({ where: { to: email } });
    expect(mails.map((m) => m.subject)).toEqual(["ChatMeter: You have used 80% of today's messages"]);
    expect(mails[0]!.body).toContain('/usage');

    expect(await b.trpc.notifications.markRead.mutate({ ids: [list.items[0]!.id] })).toEqual({ updated: 1 });
    expect(await b.trpc.notifications.unreadCount.query()).toEqual({ count: 0 });
    expect(await b.trpc.notifications.markRead.mutate({ all: true })).toEqual({ updated: 0 });
  });

  it('alert e-mails can be turned off; the notification still comes', async () => {
    const { b, id, email } = await signUp(server);
    expect(await b.trpc.preferences.get.query()).toMatchObject({ alertEmails: true });
    expect(await b.trpc.preferences.update.mutate({ alertEmails: false })).toMatchObject({ alertEmails: false });
    expect(await b.trpc.preferences.get.query()).toMatchObject({ alertEmails: false });
    await setCounter(server, userSubject(id), COUNTER.messagesDay, dayStart(new Date()), 17);
    await send(b, { content: 'quietly' });
    await server.deps.alerts.idle();
    const kinds = (await b.trpc.notifications.list.query()).items.map((i) => `${i.kind}:${i.threshold}`);
    // 17 -> 18 of 20 passes 80 and 90 % at once: one notification, for 90 %.
    expect(kinds).toEqual(['messages_day:90']);
    expect(await server.deps.prisma.emailOutbox.count({ where: { to: email } })).toBe(0);
  });

  it('five guest messages (5 an hour, 5 a day): one notification per threshold crossed, with its real numbers', async () => {
    const b = server.browser({ ip: '10.60.250.1' });
    let conversationId: string | undefined;
    for (let i = 0; i < 5; i++) {
      const result = await send(b, { content: `guest message ${i + 1}`, ...(conversationId ? { conversationId } : {}) });
      conversationId = result.start!.conversationId;
      await server.deps.alerts.idle();
    }
    const { items } = await b.trpc.notifications.list.query();
    const shown = items.map((i) => ({ kind: i.kind, threshold: i.threshold, title: i.title, numbers: /\d+ of \d+/.exec(i.body)?.[0] })).reverse();
    expect(shown).toEqual([
      { kind: 'messages_day', threshold: 80, title: "You have used 80% of today's messages", numbers: '4 of 5' },
      { kind: 'messages_day', threshold: 100, title: "You have used all of today's messages", numbers: '5 of 5' },
    ]);
    // Checking again later (a fresh instance's cache) announces nothing lower than what was announced.
    const me = (await b.trpc.auth.me.query())!;
    await server.deps.alerts.check({ user: { id: me.id, isGuest: true, planId: 'guest', emailVerifiedAt: null } });
    expect(await server.deps.prisma.notification.count({ where: { userId: me.id } })).toBe(2);
  });

  it('checks after chats far from every threshold are skipped on the projection, and the one that reaches 80 % still notifies at once', async () => {
    const { b } = await signUp(server);
    const alerts = server.deps.alerts;
    let conversationId: string | undefined;
    const kinds = async () => (await b.trpc.notifications.list.query()).items.map((i) => `${i.kind}:${i.threshold}`);
    const before = { ...alerts.stats };
    // The free plan: 10 an hour, 20 a day. The first chat reads; the 2nd to the 7th stay below 80 % of the hour.
    for (let i = 1; i <= 7; i++) {
      conversationId = (await send(b, { content: `message ${i}`, ...(conversationId ? { conversationId } : {}) })).start!.conversationId;
      await alerts.idle();
    }
    expect(alerts.stats.reads - before.reads).toBe(1);
    expect(alerts.stats.skipped - before.skipped).toBe(6);
    expect(await kinds()).toEqual([]);
    // The 8th reaches 8 of 10 this hour: read, and announced.
    await send(b, { content: 'message 8', conversationId: conversationId! });
    await alerts.idle();
    expect(alerts.stats.reads - before.reads).toBe(2);
    expect(await kinds()).toEqual(['messages_hour:80']);
  });

  it('pages with a cursor and only ever shows the user’s own notifications', async () => {
    const { b, id } = await signUp(server);
    const other = await signUp(server);
    await server.deps.prisma.notification.createMany({
      data: Array.from({ length: 5 }, (_, i) => ({ userId: id, kind: 'messages_day', threshold: 80, periodKey: `p${i}`, title: `t${i}`, body: 'b' })),
    });
    const first = await b.trpc.notifications.list.query({ limit: 3 });
    expect(first.items.map((i) => i.title)).toEqual(['t4', 't3', 't2']);
    const second = await b.trpc.notifications.list.query({ limit: 3, cursor: first.nextCursor! });
    expect(second.items.map((i) => i.title)).toEqual(['t1', 't0']);
    expect(second.nextCursor).toBeNull();
    // Someone else's ids are ignored.
    expect(await other.b.trpc.notifications.markRead.mutate({ ids: first.items.map((i) => i.id) })).toEqual({ updated: 0 });
    expect((await other.b.trpc.notifications.list.query()).items).toHaveLength(0);
    expect(await b.trpc.notifications.unreadCount.query()).toEqual({ count: 5 });
  });
});

describe.skipIf(!testServerUrl())('alerts with two instances on one Postgres database', () => {
  let a: TestServer;
  let b: TestServer;
  let hook: Webhook;
  beforeAll(async () => {
    hook = await startWebhook();
    // Spending alerts far above what the other tests spend; the last test passes them.
    const env = { ...ENV, ALERT_WEBHOOK_URL: hook.url, ALERT_COST_PER_DAY_USD: '100000', ALERT_COST_PER_MONTH_USD: '250000.5' };
    a = await startTestServer(env, { limits: LIMITS });
    b = await startTestServer(env, { limits: LIMITS, sameDatabaseAs: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await hook?.close();
  });
  const idle = () => Promise.all([a.deps.alerts.idle(), b.deps.alerts.idle()]);

  it('concurrent chats on both instances from 50 % to 100 %: each threshold announced at most once, rising, with its real numbers; one e-mail each', async () => {
    const user = await signUp(a);
    const onB = sameSessionOn(b, user.b);
    // Free plan: 20 messages a day, 10 an hour. From 10 of 20 to 20 of 20 in ten concurrent chats.
    await setCounter(a, userSubject(user.id), COUNTER.messagesDay, dayStart(new Date()), 10);
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => send(i % 2 ? onB : user.b, { content: `race ${i}` })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    await idle();

    const rows = await a.deps.prisma.notification.findMany({ where: { userId: user.id }, orderBy: { id: 'asc' } });
    // However the checks interleaved: per kind, each threshold at most once, always rising, the day's 100 % among them,
    // and every notification's numbers at or past its threshold.
    for (const kind of ['messages_day', 'messages_hour']) {
      const thresholds = rows.filter((r) => r.kind === kind).map((r) => r.threshold);
      expect(thresholds).toEqual([...new Set(thresholds)].sort((x, y) => x - y));
    }
    expect(rows.filter((r) => r.kind === 'messages_day').at(-1)?.threshold).toBe(100);
    for (const row of rows) {
      const [used, limit] = /(\d+) of (\d+)/.exec(row.body)!.slice(1).map(Number) as [number, number];
      expect(used * 100).toBeGreaterThanOrEqual(limit * row.threshold);
      if (row.threshold < 100) expect(used).toBeLessThan(limit);
    }
    const dayRows = rows.filter((r) => r.kind === 'messages_day');
    const mails = await a.deps.prisma.emailOutbox.findMany({ where: { to: user.email }, orderBy: { id: 'asc' } });
    expect(mails.map((m) => m.subject).sort()).toEqual(
      dayRows
        .map((r) => (r.threshold === 100 ? "ChatMeter: You have used all of today's messages" : `ChatMeter: You have used ${r.threshold}% of today's messages`))
        .sort(),
    );
    expect(dayRows.every((r) => r.emailedAt !== null)).toBe(true);
    // The hourly ones are in-app only (no e-mail three times an hour).
    expect(rows.filter((r) => r.kind === 'messages_hour').every((r) => r.emailedAt === null)).toBe(true);

    // Checking again on both instances (fresh caches would re-try the insert) fires nothing new.
    const check = { user: { id: user.id, isGuest: false, planId: 'free', emailVerifiedAt: null } };
    await Promise.all([a.deps.alerts.check(check), b.deps.alerts.check(check)]);
    expect(await a.deps.prisma.notification.count({ where: { userId: user.id } })).toBe(rows.length);
    expect(await a.deps.prisma.emailOutbox.count({ where: { to: user.email } })).toBe(dayRows.length);
    // Each was an ordinary unread notification for the bell.
    expect(await user.b.trpc.notifications.unreadCount.query()).toEqual({ count: rows.length });
  });

  /** Today's settled chat tokens and cost, and this month's cost (what the global checks read). */
  async function settled(): Promise<{ tokens: number; cost: number; month: number }> {
    const day = dayStart(new Date()).toISOString().slice(0, 10);
    const month = monthStart(new Date()).toISOString().slice(0, 10);
    const [row] = await a.deps.prisma.$queryRaw<{ tokens: bigint; cost: bigint; month: bigint }[]>(Prisma.sql`
      SELECT (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage_daily WHERE day = ${day}::date AND kind = 'chat')::bigint AS tokens,
             (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_daily WHERE day = ${day}::date)::bigint AS cost,
             (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_daily WHERE day >= ${month}::date)::bigint AS month`);
    return { tokens: Number(row!.tokens), cost: Number(row!.cost), month: Number(row!.month) };
  }
  /** Two alert runs on each instance, concurrently. */
  const runGlobal = async () => {
    for (let i = 0; i < 2; i++) await Promise.all([a.deps.alerts.checkGlobal(), b.deps.alerts.checkGlobal()]);
  };
  const serviceAlerts = (kind: string) => a.deps.prisma.serviceAlert.findMany({ where: { kind }, orderBy: { id: 'asc' } });
  async function makeAdmin(): Promise<{ id: string; email: string }> {
    const admin = await signUp(a);
    await a.deps.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } });
    return admin;
  }

  it("today's settled tokens at 80 % and then 100 % of the global token cap: each once across two instances and repeated runs", async () => {
    const admin = await makeAdmin();
    const user = await signUp(b);
    const day = dayStart(new Date());
    const before = hook.posts.length;
    // A cap whose 80 % is above what is settled today (other tests' chats): 80 % at +3x+8,000 tokens, 100 % at +4x+10,000.
    const base = (await settled()).tokens;
    const cap = (base + 2_000) * 5;
    try {
      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxTokensPerDay: BigInt(cap) } });
      // Reserved but unsettled tokens do not count: a full counter alone alerts nothing.
      await setCounter(a, GLOBAL_SUBJECT, COUNTER.globalTokensDay, day, cap);
      await runGlobal();
      expect(await serviceAlerts('global_tokens')).toHaveLength(0);
      await setCounter(a, GLOBAL_SUBJECT, COUNTER.globalTokensDay, day, 0);

      await insertEvents(a, [{ userId: user.id, promptTokens: 3 * base + 7_999, createdAt: new Date() }]);
      await runGlobal();
      expect(await serviceAlerts('global_tokens')).toHaveLength(0);
      // A real chat settles the token that was missing (and more).
      const chat = await send(user.b, { content: 'past 80 %' });
      expect(chat.done).toBeDefined();
      await idle();
      await runGlobal();
      expect((await serviceAlerts('global_tokens')).map((x) => x.threshold)).toEqual([80]);

      await insertEvents(a, [{ userId: user.id, promptTokens: base + 2_000, createdAt: new Date() }]);
      await runGlobal();
    } finally {
      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxTokensPerDay: null } });
    }
    const alerts = await serviceAlerts('global_tokens');
    expect(alerts.map((x) => x.threshold)).toEqual([80, 100]);
    expect(alerts[0]).toMatchObject({ subject: 'global', periodKey: day.toISOString(), webhookStatus: 200 });
    expect(alerts.every((x) => x.deliveredAt !== null && x.emailsSent >= 1)).toBe(true);
    const adminMail = await a.deps.prisma.emailOutbox.findMany({ where: { to: admin.email }, orderBy: { id: 'asc' } });
    expect(adminMail.map((m) => m.subject)).toEqual([
      "[ChatMeter alert] ChatMeter has used 80% of today's global token cap",
      "[ChatMeter alert] ChatMeter has reached today's global token cap",
    ]);
    const posts = hook.posts.slice(before);
    expect(posts).toHaveLength(2);
    expect(posts[0]!.contentType).toBe('application/json');
    expect(posts[0]!.body).toEqual({ text: expect.stringContaining("80% of today's global token cap") });
  });

  it('the dollar caps (app_settings over the environment): 80 % and 100 % of the day, a jump straight to 100 % of the month, once each', async () => {
    const admin = await makeAdmin();
    const user = await signUp(a);
    const day = dayStart(new Date());
    const base = await settled();
    const dayCap = (base.cost + 2_000_000) * 5;
    // The month's cap, set before the second step, is what the month will have cost: past 80 % and 100 % at once.
    const monthCap = base.month + 4 * base.cost + 10_000_000;
    const before = hook.posts.length;
    try {
      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerDayMicroUsd: BigInt(dayCap) } });
      await insertEvents(a, [{ userId: user.id, costMicroUsd: 3 * base.cost + 8_000_000, createdAt: new Date() }]);
      await runGlobal();
      expect((await serviceAlerts('global_cost_day')).map((x) => x.threshold)).toEqual([80]);
      expect((await serviceAlerts('global_cost_month')).map((x) => x.threshold)).toEqual([]);

      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerMonthMicroUsd: BigInt(monthCap) } });
      await insertEvents(a, [{ userId: user.id, kind: 'tts', model: 'tts-1', costMicroUsd: base.cost + 2_000_000, createdAt: new Date() }]);
      await runGlobal();
    } finally {
      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null } });
    }
    const dayAlerts = await serviceAlerts('global_cost_day');
    expect(dayAlerts.map((x) => [x.threshold, x.periodKey])).toEqual([
      [80, day.toISOString()],
      [100, day.toISOString()],
    ]);
    expect(dayAlerts[1]!.details).toEqual({ usedMicroUsd: base.cost * 5 + 10_000_000, capMicroUsd: dayCap });
    const monthAlerts = await serviceAlerts('global_cost_month');
    // Never "80 %" after "reached".
    expect(monthAlerts.map((x) => [x.threshold, x.periodKey])).toEqual([[100, monthStart(new Date()).toISOString()]]);
    const mail = await a.deps.prisma.emailOutbox.findMany({ where: { to: admin.email }, orderBy: { id: 'asc' } });
    expect(mail.map((m) => m.subject)).toEqual([
      expect.stringMatching(/^\[ChatMeter alert\] ChatMeter has used 80% of today's provider-cost cap \(\$[\d.,]+ of \$[\d.,]+\)$/),
      expect.stringMatching(/^\[ChatMeter alert\] ChatMeter has reached (today's|this month's) provider-cost cap/),
      expect.stringMatching(/^\[ChatMeter alert\] ChatMeter has reached (today's|this month's) provider-cost cap/),
    ]);
    expect(hook.posts.length - before).toBe(3);
  });

  it("a user's plan cost cap and personal limit: 80, 90, 100 % of the period's settled cost, once each across instances", async () => {
    // Free plan: $0.10 of provider cost a period; its period is the calendar month.
    const user = await signUp(a);
    const check = { user: { id: user.id, isGuest: false, planId: 'free', emailVerifiedAt: null } };
    const twice = async () => {
      for (let i = 0; i < 2; i++) await Promise.all([a.deps.alerts.check(check), b.deps.alerts.check(check)]);
    };
    const rows = () => a.deps.prisma.notification.findMany({ where: { userId: user.id }, orderBy: { id: 'asc' } });
    // Last month's spending is another period.
    await insertEvents(a, [{ userId: user.id, costMicroUsd: 90_000, createdAt: new Date(monthStart(new Date()).getTime() - 1000) }]);
    await insertEvents(a, [{ userId: user.id, costMicroUsd: 79_999, createdAt: new Date() }]);
    await twice();
    expect(await rows()).toHaveLength(0);
    await insertEvents(a, [{ userId: user.id, costMicroUsd: 1, createdAt: new Date() }]);
    await twice();
    expect((await rows()).map((r) => `${r.kind}:${r.threshold}`)).toEqual(['cost_month:80']);
    expect((await rows())[0]).toMatchObject({
      title: "You have used 80% of this period's spending allowance",
      periodKey: monthStart(new Date()).toISOString(),
    });
    expect((await rows())[0]!.body).toContain('$0.08 of $0.10 in provider cost on the Free plan');

    // A personal limit of $0.085, below the plan's: 80 % of it passed already, 100 % at $0.085.
    await user.b.trpc.preferences.update.mutate({ monthlySpendLimitMicroUsd: 85_000 });
    await twice();
    expect((await rows()).map((r) => `${r.kind}:${r.threshold}`)).toEqual(['cost_month:80', 'spend_limit:90']);
    await insertEvents(a, [{ userId: user.id, kind: 'tts', model: 'tts-1', costMicroUsd: 20_000, createdAt: new Date() }]);
    await twice();
    expect((await rows()).map((r) => `${r.kind}:${r.threshold}`).sort()).toEqual(['cost_month:100', 'cost_month:80', 'spend_limit:100', 'spend_limit:90']);
    const mails = await a.deps.prisma.emailOutbox.findMany({ where: { to: user.email }, orderBy: { id: 'asc' } });
    expect(mails.map((m) => m.subject).sort()).toEqual(
      [
        "ChatMeter: You have used 80% of this period's spending allowance",
        'ChatMeter: You have used 90% of your monthly spending limit',
        "ChatMeter: You have used all of this period's spending allowance",
        'ChatMeter: You have used all of your monthly spending limit',
      ].sort(),
    );
  });

  it('the 100 % monthly-token notice fires when credits take over (the counter stops short of the limit), once', async () => {
    const user = await signUp(a);
    const onB = sameSessionOn(b, user.b);
    // Free plan: 100,000 tokens a period. 10 left cannot cover a message (its prompt alone is more): credits pay for it.
    await setCounter(a, userSubject(user.id), COUNTER.tokensMonth, monthStart(new Date()), 99_990);
    await a.deps.prisma.$transaction((tx) => addCredits(tx, { userId: user.id, kind: 'grant', reason: 'test credits' }, 10_000n));
    const first = await send(user.b, { content: 'paid by credits' });
    expect(first.done).toBeDefined();
    await send(onB, { content: 'paid by credits again', conversationId: first.start!.conversationId });
    await idle();
    const used = await a.deps.prisma.quotaCounter.findFirst({ where: { subject: userSubject(user.id), kind: COUNTER.tokensMonth } });
    expect(Number(used!.used)).toBeLessThan(100_000);
    const check = { user: { id: user.id, isGuest: false, planId: 'free', emailVerifiedAt: null } };
    await Promise.all([a.deps.alerts.check(check), b.deps.alerts.check(check)]);
    const rows = await a.deps.prisma.notification.findMany({ where: { userId: user.id, kind: 'tokens_month' } });
    expect(rows.map((r) => r.threshold)).toEqual([100]);
    expect(rows[0]!.title).toBe("You have used this period's tokens: credits now pay for your messages");
    expect(rows[0]!.body).toContain('99,990 of 100,000 tokens on the Free plan');
    const mails = await a.deps.prisma.emailOutbox.findMany({ where: { to: user.email, subject: { contains: 'tokens' } } });
    expect(mails).toHaveLength(1);
  });

  it('the weekly spend report: once per ISO week across instances, the week against the one before, top users, plans, the projection', async () => {
    const admin = await makeAdmin();
    const pro = await signUp(a);
    const free = await signUp(a);
    await a.deps.prisma.user.update({ where: { id: pro.id }, data: { planId: 'pro' } });
    // Week 2025-W10 is 3-9 March 2025; the week before, 24 February - 2 March.
    await insertEvents(a, [
      { userId: pro.id, promptTokens: 1_000, completionTokens: 500, costMicroUsd: 3_000_000, createdAt: new Date('2025-03-04T10:00:00Z') },
      { userId: free.id, promptTokens: 100, completionTokens: 100, costMicroUsd: 1_000_000, createdAt: new Date('2025-03-09T23:00:00Z') },
      { userId: free.id, promptTokens: 100, completionTokens: 100, costMicroUsd: 999_999, createdAt: new Date('2025-03-10T00:30:00Z') },
      { userId: pro.id, promptTokens: 2_000, costMicroUsd: 2_000_000, createdAt: new Date('2025-02-26T10:00:00Z') },
    ]);
    const before = hook.posts.length;
    // Monday before 01:00 UTC: not yet.
    expect(await a.deps.alerts.weeklyReport(new Date('2025-03-10T00:45:00Z'))).toBe(false);
    const at = new Date('2025-03-10T02:00:00Z');
    const sent = await Promise.all([a.deps.alerts.weeklyReport(at), b.deps.alerts.weeklyReport(at), a.deps.alerts.weeklyReport(at)]);
    expect(sent.filter(Boolean)).toHaveLength(1);
    expect(await b.deps.alerts.weeklyReport(new Date('2025-03-12T09:00:00Z'))).toBe(false);

    const reports = await serviceAlerts('spend_report');
    expect(reports.map((r) => r.periodKey)).toEqual(['2025-W10']);
    expect(reports[0]!.title).toBe('Weekly spend report 2025-W10: $4.00 (+100 % on the week before)');
    const body = reports[0]!.body;
    expect(body).toMatch(/Provider cost\s+\$4\.00\s+\$2\.00\s+\+100 %/);
    expect(body).toMatch(/Tokens\s+1,700\s+2,000\s+−15 %/);
    expect(body).toMatch(/Requests\s+2\s+1\s+\+100 %/);
    // March's first 9 days cost $4: $13.78 for the month at that pace (the 10th is after the week).
    expect(body).toContain('March 2025: $4.00 in its first 9 days; at that pace, $13.78 for the month.');
    expect(body).toContain(`  1. ${pro.email} (pro): $3.00, 1,500 tokens, 1 request`);
    expect(body).toContain(`  2. ${free.email} (free): $1.00, 200 tokens, 1 request`);
    expect(body).toMatch(/pro\s+1\s+\$3\.00\s+1,500\s+1/);
    const mail = await a.deps.prisma.emailOutbox.findMany({ where: { to: admin.email, subject: { contains: 'Weekly spend report' } } });
    expect(mail).toHaveLength(1);
    expect(mail[0]!.body).toContain('Top users by cost');
    const posts = hook.posts.slice(before);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({ text: expect.stringMatching(/^:bar_chart: Weekly spend report 2025-W10/) });
  });

  it('spend velocity far above a user’s (and an IP’s) own history alerts once; within its history it does not', async () => {
    const spender = await signUp(a);
    const steady = await signUp(a);
    const now = Date.now();
    const hour = 60 * 60 * 1000;
    const event = (userId: string, ipHash: string, costMicroUsd: bigint, ago: number) => ({
      userId,
      ipHash,
      kind: 'chat',
      model: 'demo',
      status: 'ok',
      costMicroUsd,
      createdAt: new Date(now - ago),
    });
    await a.deps.prisma.usageEvent.createMany({
      data: [
        // The spender: $0.168 over the last week (0.1 cents an hour), then $5 in the last hour.
        event(spender.id, 'ip-spender', 168_000n, 3 * 24 * hour),
        event(spender.id, 'ip-spender', 5_000_000n, 10 * 60 * 1000),
        // The steady one: $1 an hour all week ($168), $5 in the last hour: under 10 x its average.
        event(steady.id, 'ip-steady', 168_000_000n, 2 * 24 * hour),
        event(steady.id, 'ip-steady', 5_000_000n, 10 * 60 * 1000),
      ],
    });
    const before = hook.posts.length;
    const check = (user: { id: string }, ipHash: string) => ({ user: { id: user.id, isGuest: false, planId: 'free', emailVerifiedAt: null }, ipHash });
    await Promise.all([
      a.deps.alerts.check(check(spender, 'ip-spender')),
      b.deps.alerts.check(check(spender, 'ip-spender')),
      a.deps.alerts.check(check(steady, 'ip-steady')),
      b.deps.alerts.check(check(steady, 'ip-steady')),
    ]);
    const alerts = await a.deps.prisma.serviceAlert.findMany({ where: { kind: 'spend_velocity' }, orderBy: { subject: 'asc' } });
    expect(alerts.map((x) => x.subject)).toEqual(['ip:ip-spender', `user:${spender.id}`]);
    expect(alerts[1]!.title).toBe('Unusual spend: a user spent $5.00 in the last hour');
    expect(alerts[1]!.details).toMatchObject({ lastHourMicroUsd: 5_000_000, hourlyAverageMicroUsd: 1_000, thresholdMicroUsd: 1_000_000 });
    expect(hook.posts.length - before).toBe(2);
  });

  it('ALERT_COST_PER_DAY_USD and ALERT_COST_PER_MONTH_USD (no caps set): each once when the settled cost passes it', async () => {
    const admin = await makeAdmin();
    const user = await signUp(a);
    const base = await settled();
    await insertEvents(a, [{ userId: user.id, costMicroUsd: 100_000_000_000 - base.cost - 1, createdAt: new Date() }]);
    await runGlobal();
    expect(await serviceAlerts('cost_alert_day')).toHaveLength(0);
    await insertEvents(a, [{ userId: user.id, costMicroUsd: 1, createdAt: new Date() }]);
    await runGlobal();
    const month = await settled();
    await insertEvents(a, [{ userId: user.id, costMicroUsd: 250_000_500_000 - month.month, createdAt: new Date() }]);
    await runGlobal();
    const day = await serviceAlerts('cost_alert_day');
    expect(day.map((x) => [x.threshold, x.periodKey, x.title])).toEqual([
      [0, dayStart(new Date()).toISOString(), 'Provider cost today has passed $100,000.00: $100,000.00'],
    ]);
    const monthly = await serviceAlerts('cost_alert_month');
    expect(monthly.map((x) => x.periodKey)).toEqual([monthStart(new Date()).toISOString()]);
    expect(monthly[0]!.body).toContain('ALERT_COST_PER_MONTH_USD alerts at $250,000.50');
    const mail = await a.deps.prisma.emailOutbox.findMany({ where: { to: admin.email }, orderBy: { id: 'asc' } });
    expect(mail.map((m) => m.subject)).toEqual([
      '[ChatMeter alert] Provider cost today has passed $100,000.00: $100,000.00',
      expect.stringMatching(/^\[ChatMeter alert\] Provider cost this month has passed \$250,000\.50: /),
    ]);
  });
});
