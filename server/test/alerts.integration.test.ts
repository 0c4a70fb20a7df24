// Alerts: quota thresholds become notifications (and e-mails), once per period;
// the global cap and spend velocity alert the admins and post the webhook once.
// The "two instances" part runs two servers on one Postgres database (needs
// TEST_DATABASE_URL); the notification API part runs on PGlite too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { testServerUrl } from '@chatmeter/db/testing';
import { COUNTER, GLOBAL_SUBJECT, userSubject } from '../src/metering/counters.ts';
import { dayStart } from '../src/metering/periods.ts';
import { send } from './helpers/chat.ts';
import { startTestServer, type TestBrowser, type TestServer } from './helpers/server.ts';

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
    expect(await b.trpc.preferences.get.query()).toEqual({ alertEmails: true });
    expect(await b.trpc.preferences.update.mutate({ alertEmails: false })).toEqual({ alertEmails: false });
    expect(await b.trpc.preferences.get.query()).toEqual({ alertEmails: false });
    await setCounter(server, userSubject(id), COUNTER.messagesDay, dayStart(new Date()), 17);
    await send(b, { content: 'quietly' });
    await server.deps.alerts.idle();
    const kinds = (await b.trpc.notifications.list.query()).items.map((i) => `${i.kind}:${i.threshold}`);
    expect(kinds.sort()).toEqual(['messages_day:80', 'messages_day:90']);
    expect(await server.deps.prisma.emailOutbox.count({ where: { to: email } })).toBe(0);
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
    const env = { ...ENV, ALERT_WEBHOOK_URL: hook.url };
    a = await startTestServer(env, { limits: LIMITS });
    b = await startTestServer(env, { limits: LIMITS, sameDatabaseAs: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await hook?.close();
  });
  const idle = () => Promise.all([a.deps.alerts.idle(), b.deps.alerts.idle()]);

  it('concurrent chats on both instances crossing 80, 90 and 100 %: exactly one notification and one e-mail per threshold', async () => {
    const user = await signUp(a);
    const onB = sameSessionOn(b, user.b);
    // Free plan: 20 messages a day, 10 an hour. From 10 of 20 to 20 of 20 in ten concurrent chats.
    await setCounter(a, userSubject(user.id), COUNTER.messagesDay, dayStart(new Date()), 10);
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => send(i % 2 ? onB : user.b, { content: `race ${i}` })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    await idle();

    const rows = await a.deps.prisma.notification.findMany({ where: { userId: user.id }, orderBy: [{ kind: 'asc' }, { threshold: 'asc' }] });
    expect(rows.map((r) => `${r.kind}:${r.threshold}`)).toEqual([
      'messages_day:80',
      'messages_day:90',
      'messages_day:100',
      // The hour went from 0 to 10 of 10 too: in-app only (no e-mail three times an hour).
      'messages_hour:80',
      'messages_hour:90',
      'messages_hour:100',
    ]);
    const mails = await a.deps.prisma.emailOutbox.findMany({ where: { to: user.email }, orderBy: { id: 'asc' } });
    expect(mails.map((m) => m.subject).sort()).toEqual([
      "ChatMeter: You have used 80% of today's messages",
      "ChatMeter: You have used 90% of today's messages",
      "ChatMeter: You have used all of today's messages",
    ]);
    expect(rows.filter((r) => r.kind === 'messages_day').every((r) => r.emailedAt !== null)).toBe(true);
    expect(rows.filter((r) => r.kind === 'messages_hour').every((r) => r.emailedAt === null)).toBe(true);

    // Checking again on both instances (fresh caches would re-try the insert) fires nothing new.
    const check = { user: { id: user.id, isGuest: false, planId: 'free', emailVerifiedAt: null } };
    await Promise.all([a.deps.alerts.check(check), b.deps.alerts.check(check)]);
    expect(await a.deps.prisma.notification.count({ where: { userId: user.id } })).toBe(6);
    expect(await a.deps.prisma.emailOutbox.count({ where: { to: user.email } })).toBe(3);
    // Each was an ordinary unread notification for the bell.
    expect(await user.b.trpc.notifications.unreadCount.query()).toEqual({ count: 6 });
  });

  it("today's global tokens passing 80 % of the cap: the admins get one e-mail and the webhook one post", async () => {
    const admin = await signUp(a);
    await a.deps.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } });
    const day = dayStart(new Date());
    const before = hook.posts.length;
    try {
      await setCounter(a, GLOBAL_SUBJECT, COUNTER.globalTokensDay, day, 8_500);
      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxTokensPerDay: 10_000n } });
      const user = await signUp(b);
      const onA = sameSessionOn(a, user.b);
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => send(i % 2 ? onA : user.b, { content: `global ${i}` })));
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
      await idle();
    } finally {
      await a.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxTokensPerDay: null } });
    }
    const alerts = await a.deps.prisma.serviceAlert.findMany({ where: { kind: 'global_tokens' } });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ subject: 'global', threshold: 80, periodKey: day.toISOString(), emailsSent: 1, webhookStatus: 200 });
    expect(alerts[0]!.deliveredAt).not.toBeNull();
    const adminMail = await a.deps.prisma.emailOutbox.findMany({ where: { to: admin.email } });
    expect(adminMail.map((m) => m.subject)).toEqual(["[ChatMeter alert] ChatMeter has used 80% of today's global token cap"]);
    const posts = hook.posts.slice(before);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.contentType).toBe('application/json');
    expect(posts[0]!.body).toEqual({ text: expect.stringContaining("80% of today's global token cap") });
  });

  it('spend velocity far above a user’s (and an IP’s) own history alerts once; within its history it does not', async () => {
    const spender = await signUp(a);
    const steady = await signUp(a);
    const now = Date.now();
    const hour = 60 * 60 * 1000;
    const event = (userId: string, ipHash: string, costMicroUsd: bigint, ago: number) => ({ userId, ipHash, kind: 'chat', model: 'demo', status: 'ok', costMicroUsd, createdAt: new Date(now - ago) });
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
});
