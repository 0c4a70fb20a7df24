// E-mail verification over HTTP (issue 11, part B): an unverified password
// account has the guest plan's limits until it follows the link mailed to it;
// links are hashed, single use and expire; a magic link verifies too, and takes
// an unverified account away from whoever registered the address first.
import { Writable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteRunner, pgRunner } from '@chatmeter/db/client';
import { readMigrations, runMigrations, type SqlRunner } from '@chatmeter/db/migrate';
import { createEmptyServerDatabase, testServerUrl } from '@chatmeter/db/testing';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { hashToken } from './auth-service.ts';
import { SESSION_COOKIE } from './session.ts';
import { parseEnv } from '../env.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

const PASSWORD = 'correct horse battery staple';
const GUEST = DEFAULT_PLANS.find((p) => p.id === 'guest')!;
const FREE = DEFAULT_PLANS.find((p) => p.id === 'free')!;

let server: TestServer;
beforeAll(async () => {
  // The per-minute chat limiter is lifted so that the plans' message quotas are what refuses.
  server = await startTestServer({ EMAIL_VERIFICATION: 'required' }, { limits: { chat: { points: 1_000, duration: 60 } } });
});
afterAll(async () => {
  await server?.close();
});

let counter = 0;
const freshEmail = () => `verify${++counter}-${Date.now()}@example.com`;
const browser = () => server.browser({ ip: `10.9.${Math.floor(counter / 200)}.${(counter % 200) + 1}` });

async function signUp(email = freshEmail()): Promise<{ b: TestBrowser; email: string; userId: string }> {
  const b = browser();
  const { user } = await b.trpc.auth.signUp.mutate({ email, password: PASSWORD });
  return { b, email, userId: user.id };
}

/** The newest verification link mailed to `email` (the outbox: no SMTP_URL here). */
async function linkFor(email: string, s = server): Promise<{ url: string; token: string }> {
  const mail = await s.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email, subject: { contains: 'Confirm' } }, orderBy: { id: 'desc' } });
  const match = /(\S+\/verify-email\?token=([\w%-]+))/.exec(mail.body);
  expect(match, mail.body).not.toBeNull();
  return { url: match![1]!, token: decodeURIComponent(match![2]!) };
}

async function requestMagicLink(email: string): Promise<string> {
  await browser().trpc.auth.requestMagicLink.mutate({ email });
  const mail = await server.deps.prisma.emailOutbox.findFirstOrThrow({
    where: { to: email, body: { contains: '/magic-link?token=' } },
    orderBy: { id: 'desc' },
  });
  return decodeURIComponent(/magic-link\?token=([\w%-]+)/.exec(mail.body)![1]!);
}

describe('EMAIL_VERIFICATION=required', () => {
  it('a new account is unverified, held to the guest plan everywhere, and gets its full plan once the mailed link is used', async () => {
    const { b, email } = await signUp();
    const me = await b.trpc.auth.me.query();
    expect(me).toMatchObject({ email, isGuest: false, emailVerified: false, limitedUntilVerified: true, plan: 'guest' });

    // Every display of the plan agrees with what the quotas enforce.
    const summary = await b.trpc.usage.summary.query();
    expect(summary.plan).toBe('guest');
    expect(summary.limits.messagesPerDay).toBe(GUEST.limits.messagesPerDay);
    expect((await b.trpc.billing.status.query()).plan).toBe('guest');

    // The guest plan's messages, then a refusal (the free plan would allow more).
    expect(GUEST.limits.messagesPerHour).toBeLessThan(FREE.limits.messagesPerHour);
    let conversationId: string | undefined;
    for (let i = 0; i < GUEST.limits.messagesPerDay; i++) {
      const result = await send(b, { content: `message ${i}`, ...(conversationId ? { conversationId } : {}) });
      expect(result.done).toBeDefined();
      conversationId = result.start!.conversationId;
    }
    const refused = await trpcError(send(b, { content: 'one more', conversationId }));
    expect(refused).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'quota_exhausted' });

    // The link is in the mail; only its hash is stored.
    const { url, token } = await linkFor(email);
    expect(url.startsWith(`${server.deps.env.APP_ORIGIN[0] ?? 'http://localhost:'}`)).toBe(true);
    const stored = await server.deps.prisma.emailVerificationToken.findMany({ where: { email } });
    expect(stored).toHaveLength(1);
    expect(stored[0]!.tokenHash).toBe(hashToken(token));
    expect(JSON.stringify(stored)).not.toContain(token);

    // Opened on another device, without a session: it verifies but signs nobody in.
    const elsewhere = browser();
    expect(await elsewhere.trpc.auth.verifyEmail.mutate({ token })).toEqual({ ok: true, email });
    expect(elsewhere.cookies.has(SESSION_COOKIE)).toBe(false);

    expect(await b.trpc.auth.me.query()).toMatchObject({ emailVerified: true, limitedUntilVerified: false, plan: 'free' });
    const after = await b.trpc.usage.summary.query();
    expect(after).toMatchObject({ plan: 'free', limits: { messagesPerDay: FREE.limits.messagesPerDay } });
    // The history stays: the same counters, now under the free plan's limits.
    expect(after.used.messagesToday).toBe(GUEST.limits.messagesPerDay);
    expect((await b.trpc.billing.status.query()).plan).toBe('free');
    expect((await send(b, { content: 'one more', conversationId })).done).toBeDefined();
  });

  it('a link works once; a used, expired or wrong token is refused with a clear message', async () => {
    const { b, email } = await signUp();
    const { token } = await linkFor(email);

    const wrong = await trpcError(b.trpc.auth.verifyEmail.mutate({ token: `${token.slice(0, -4)}AAAA` }));
    expect(wrong).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(wrong.message).toMatch(/not valid/);

    await server.deps.prisma.emailVerificationToken.updateMany({ where: { tokenHash: hashToken(token) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await trpcError(b.trpc.auth.verifyEmail.mutate({ token }));
    expect(expired).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(expired.message).toMatch(/expired/);
    expect(await b.trpc.auth.me.query()).toMatchObject({ emailVerified: false });

    // A fresh link; two tabs press the button at once: one wins, the other is told it was used.
    await b.trpc.auth.resendVerification.mutate();
    const { token: fresh } = await linkFor(email);
    const results = await Promise.allSettled([b.trpc.auth.verifyEmail.mutate({ token: fresh }), browser().trpc.auth.verifyEmail.mutate({ token: fresh })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const used = await trpcError(b.trpc.auth.verifyEmail.mutate({ token: fresh }));
    expect(used).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(used.message).toMatch(/already been used/);
    expect(await b.trpc.auth.me.query()).toMatchObject({ emailVerified: true });
  });

  it('resending is for accounts, rate limited per account, and a no-op once verified', async () => {
    const { b, email } = await signUp();
    for (let i = 0; i < 3; i++) expect(await b.trpc.auth.resendVerification.mutate()).toEqual({ sent: true, alreadyVerified: false });
    const limited = await trpcError(b.trpc.auth.resendVerification.mutate());
    expect(limited).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    expect(limited.data.retryAfterSeconds).toBeGreaterThan(0);
    // The sign-up's mail and three more.
    expect(await server.deps.prisma.emailOutbox.count({ where: { to: email, subject: { contains: 'Confirm' } } })).toBe(4);

    // Any of the links still works; then there is nothing to resend.
    await browser().trpc.auth.verifyEmail.mutate({ token: (await linkFor(email)).token });
    expect(await b.trpc.auth.resendVerification.mutate()).toEqual({ sent: false, alreadyVerified: true });

    const guest = browser();
    await guest.trpc.auth.guest.mutate();
    expect((await trpcError(guest.trpc.auth.resendVerification.mutate())).code).toBe('UNAUTHORIZED');
    expect((await trpcError(browser().trpc.auth.resendVerification.mutate())).code).toBe('UNAUTHORIZED');
  });

  it('a guest who signs up keeps its history, is held to the guest plan and is mailed a link', async () => {
    const b = browser();
    const { user: guest } = await b.trpc.auth.guest.mutate();
    await send(b, { content: 'hello as a guest' });
    const email = freshEmail();
    const { user } = await b.trpc.auth.signUp.mutate({ email, password: PASSWORD });
    expect(user).toMatchObject({ id: guest.id, isGuest: false, plan: 'guest', emailVerified: false, limitedUntilVerified: true });
    expect((await b.trpc.usage.summary.query()).used.messagesToday).toBe(1);
    await browser().trpc.auth.verifyEmail.mutate({ token: (await linkFor(email)).token });
    expect(await b.trpc.auth.me.query()).toMatchObject({ id: guest.id, plan: 'free', emailVerified: true });
  });

  it('a paid plan is not held back (it comes from a payment or an admin, not a made-up address)', async () => {
    const { b, userId } = await signUp();
    await server.deps.prisma.user.update({ where: { id: userId }, data: { planId: 'pro' }, select: { id: true } });
    expect(await b.trpc.auth.me.query()).toMatchObject({ plan: 'pro', emailVerified: false, limitedUntilVerified: false });
    expect((await b.trpc.usage.summary.query()).plan).toBe('pro');
  });
});

describe('magic links and unverified accounts', () => {
  it('a magic-link sign-in verifies the account', async () => {
    const { email } = await signUp();
    const b = browser();
    const { user } = await b.trpc.auth.verifyMagicLink.mutate({ token: await requestMagicLink(email) });
    expect(user).toMatchObject({ email, emailVerified: true, limitedUntilVerified: false, plan: 'free' });
    // A new address signing in by link is verified from the start.
    const newcomer = freshEmail();
    const { user: created } = await browser().trpc.auth.verifyMagicLink.mutate({ token: await requestMagicLink(newcomer) });
    expect(created).toMatchObject({ email: newcomer, emailVerified: true, plan: 'free' });
  });

  it('pre-registration: the mailbox owner wins; the squatter loses the password and every session', async () => {
    // Someone registers the victim's address with a password of their own, on two devices.
    const victimEmail = freshEmail();
    const { b: squatter } = await signUp(victimEmail);
    const squatter2 = browser();
    await squatter2.trpc.auth.signIn.mutate({ email: victimEmail, password: PASSWORD });

    const owner = browser();
    const { user } = await owner.trpc.auth.verifyMagicLink.mutate({ token: await requestMagicLink(victimEmail) });
    expect(user).toMatchObject({ email: victimEmail, emailVerified: true });

    expect(await squatter.trpc.auth.me.query()).toBeNull();
    expect(await squatter2.trpc.auth.me.query()).toBeNull();
    const signIn = await trpcError(browser().trpc.auth.signIn.mutate({ email: victimEmail, password: PASSWORD }));
    expect(signIn).toMatchObject({ code: 'UNAUTHORIZED', reason: 'unauthenticated' });
    expect(await owner.trpc.auth.me.query()).toMatchObject({ email: victimEmail, emailVerified: true });
    expect(await owner.trpc.auth.sessions.query()).toHaveLength(1);
  });

  it('a verified account signing in by link keeps its password and its other sessions', async () => {
    const { b, email } = await signUp();
    await browser().trpc.auth.verifyEmail.mutate({ token: (await linkFor(email)).token });
    await browser().trpc.auth.verifyMagicLink.mutate({ token: await requestMagicLink(email) });
    expect(await b.trpc.auth.me.query()).toMatchObject({ email });
    await browser().trpc.auth.signIn.mutate({ email, password: PASSWORD });
  });
});

describe('EMAIL_VERIFICATION defaults', () => {
  it('is required with SMTP_URL and off without it; an explicit value wins', () => {
    expect(parseEnv({}).EMAIL_VERIFICATION).toBe('off');
    expect(parseEnv({ SMTP_URL: 'smtp://mail.example.com:587' }).EMAIL_VERIFICATION).toBe('required');
    expect(parseEnv({ SMTP_URL: 'smtp://mail.example.com:587', EMAIL_VERIFICATION: 'off' }).EMAIL_VERIFICATION).toBe('off');
    expect(parseEnv({ EMAIL_VERIFICATION: 'required' }).EMAIL_VERIFICATION).toBe('required');
    expect(() => parseEnv({ EMAIL_VERIFICATION: 'sometimes' })).toThrow(/EMAIL_VERIFICATION/);
  });

  it('without SMTP_URL accounts are not held back (no link is mailed), and auth.me tells the stored fact', async () => {
    const off = await startTestServer();
    try {
      expect(off.deps.env.EMAIL_VERIFICATION).toBe('off');
      const b = off.browser();
      const email = freshEmail();
      const { user } = await b.trpc.auth.signUp.mutate({ email, password: PASSWORD });
      expect(user).toMatchObject({ plan: 'free', emailVerified: false, limitedUntilVerified: false });
      expect((await b.trpc.usage.summary.query()).plan).toBe('free');
      expect(await off.deps.prisma.emailOutbox.count({ where: { to: email } })).toBe(0);
    } finally {
      await off.close();
    }
  });

  it('a production start without SMTP_URL logs a warning that names the risk', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    const prod = await startTestServer({ NODE_ENV: 'production', APP_ORIGIN: 'https://chat.example.com' }, { logger });
    try {
      expect(prod.deps.env.EMAIL_VERIFICATION).toBe('off');
      const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      expect(warnings.map((w) => w.msg).join('\n')).toMatch(/SMTP_URL is not set.*not verified.*farm free-plan accounts/);
    } finally {
      await prod.close();
    }
  });
});

describe('the migration', () => {
  /** An empty database on the test Postgres server when there is one, else an in-memory PGlite (slow to start). */
  async function emptyDatabase(): Promise<{ runner: SqlRunner; cleanup(): Promise<void> }> {
    const url = testServerUrl();
    if (url) {
      const empty = await createEmptyServerDatabase(url);
      const runner = await pgRunner(empty.url);
      return {
        runner,
        cleanup: async () => {
          await runner.release();
          await empty.drop();
        },
      };
    }
    const lite = await PGlite.create('memory://');
    return { runner: pgliteRunner(lite), cleanup: () => lite.close() };
  }

  it('counts the accounts that exist when it runs as verified (they predate the rule); guests and deleted accounts stay unverified', {
    timeout: 180_000,
  }, async () => {
    const { runner, cleanup } = await emptyDatabase();
    try {
      const all = readMigrations();
      const at = all.findIndex((m) => m.name.endsWith('_email_verification'));
      expect(at).toBeGreaterThan(0);
      await runMigrations(runner, { migrations: all.slice(0, at) });
      await runner.exec(`
        INSERT INTO users (id, email, password_hash) VALUES ('00000000-0000-4000-8000-000000000001', 'old@example.com', 'x');
        INSERT INTO users (id, is_guest, plan_id) VALUES ('00000000-0000-4000-8000-000000000002', true, 'guest');
        INSERT INTO users (id, deleted_at, blocked_at) VALUES ('00000000-0000-4000-8000-000000000003', now(), now());`);
      await runMigrations(runner, { migrations: all });
      const rows = await runner.query('SELECT id::text AS id, email_verified_at IS NOT NULL AS verified FROM users ORDER BY id');
      expect(rows).toEqual([
        { id: '00000000-0000-4000-8000-000000000001', verified: true },
        { id: '00000000-0000-4000-8000-000000000002', verified: false },
        { id: '00000000-0000-4000-8000-000000000003', verified: false },
      ]);
    } finally {
      await cleanup();
    }
  });
});
