// auth.changePassword and the preferences that follow the account:
// the current password is checked (and guesses limited), a magic-link-only
// account may set its first password, the other sessions end (this one stays),
// a sign-in racing the change does not keep a session opened with the old
// password; preferences.update changes only what is given and a new browser
// reads them back.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SESSION_COOKIE } from '../auth/session.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const OLD = 'correct horse battery staple';
const NEW = 'a brand new passphrase';
let counter = 0;
const freshEmail = () => `settings${++counter}-${Date.now()}@example.com`;
let ipCounter = 0;
const freshIp = () => `10.88.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

async function signedUp(): Promise<{ b: TestBrowser; email: string; userId: string }> {
  const b = server.browser({ ip: freshIp() });
  const email = freshEmail();
  const { user } = await b.trpc.auth.signUp.mutate({ email, password: OLD });
  return { b, email, userId: user.id };
}

async function signIn(email: string, password: string): Promise<TestBrowser> {
  const b = server.browser({ ip: freshIp() });
  await b.trpc.auth.signIn.mutate({ email, password });
  return b;
}

const sessionToken = (b: TestBrowser) => decodeURIComponent(b.cookies.get(SESSION_COOKIE)!.value);

describe('auth.changePassword', () => {
  it('needs the right current password, applies sign-up’s rules, ends the other sessions and keeps this one', async () => {
    const { b, email, userId } = await signedUp();
    const phone = await signIn(email, OLD);
    const laptop = await signIn(email, OLD);
    expect(await b.trpc.auth.passwordStatus.query()).toEqual({ hasPassword: true });

    const missing = await trpcError(b.trpc.auth.changePassword.mutate({ newPassword: NEW }));
    expect(missing).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(missing.data.fieldErrors).toHaveProperty('currentPassword');
    const wrong = await trpcError(b.trpc.auth.changePassword.mutate({ currentPassword: 'not my password', newPassword: NEW }));
    expect(wrong).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(wrong.data.fieldErrors).toHaveProperty('currentPassword');
    const short = await trpcError(b.trpc.auth.changePassword.mutate({ currentPassword: OLD, newPassword: 'short' }));
    expect(short).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(short.data.fieldErrors).toHaveProperty('newPassword');
    // Nothing changed so far.
    expect(await phone.trpc.auth.me.query()).toMatchObject({ id: userId });

    const before = sessionToken(b);
    expect(await b.trpc.auth.changePassword.mutate({ currentPassword: OLD, newPassword: NEW })).toEqual({ ok: true, sessionsEnded: 2 });
    // This browser stays signed in, on a new session: a stolen copy of its old cookie is worthless now.
    expect(await b.trpc.auth.me.query()).toMatchObject({ id: userId });
    expect(sessionToken(b)).not.toBe(before);
    expect(await server.deps.sessions.validate(before)).toBeNull();
    expect(await phone.trpc.auth.me.query()).toBeNull();
    expect(await laptop.trpc.auth.me.query()).toBeNull();
    expect(await server.deps.prisma.session.count({ where: { userId } })).toBe(1);

    expect(await trpcError(signIn(email, OLD))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await (await signIn(email, NEW)).trpc.auth.me.query()).toMatchObject({ id: userId });
    const notice = await server.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email }, orderBy: { id: 'desc' }, select: { subject: true } });
    expect(notice.subject).toMatch(/password was changed/);
  });

  it('limits wrong current passwords per account; a right one does not count', async () => {
    const { b } = await signedUp();
    await b.trpc.auth.changePassword.mutate({ currentPassword: OLD, newPassword: NEW });
    for (let i = 0; i < 5; i++) {
      expect(await trpcError(b.trpc.auth.changePassword.mutate({ currentPassword: `guess number ${i}`, newPassword: OLD }))).toMatchObject({
        reason: 'invalid_input',
      });
    }
    const limited = await trpcError(b.trpc.auth.changePassword.mutate({ currentPassword: NEW, newPassword: OLD }));
    expect(limited).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    expect(limited.data.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('lets an account that only used sign-in links set its first password without a current one', async () => {
    const email = freshEmail();
    const b = server.browser({ ip: freshIp() });
    await b.trpc.auth.requestMagicLink.mutate({ email });
    const mail = await server.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email }, orderBy: { id: 'desc' } });
    const token = decodeURIComponent(/magic-link\?token=([\w%-]+)/.exec(mail.body)![1]!);
    const { user } = await b.trpc.auth.verifyMagicLink.mutate({ token });
    expect(await b.trpc.auth.passwordStatus.query()).toEqual({ hasPassword: false });

    expect(await b.trpc.auth.changePassword.mutate({ newPassword: NEW })).toEqual({ ok: true, sessionsEnded: 0 });
    expect(await b.trpc.auth.passwordStatus.query()).toEqual({ hasPassword: true });
    expect(await (await signIn(email, NEW)).trpc.auth.me.query()).toMatchObject({ id: user.id });
    // From now on the current one is needed.
    expect(await trpcError(b.trpc.auth.changePassword.mutate({ newPassword: OLD }))).toMatchObject({ reason: 'invalid_input' });
  });

  it('refuses guests and visitors', async () => {
    const guest = server.browser({ ip: freshIp() });
    await guest.trpc.auth.guest.mutate();
    expect(await trpcError(guest.trpc.auth.changePassword.mutate({ newPassword: NEW }))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await trpcError(server.browser().trpc.auth.changePassword.mutate({ newPassword: NEW }))).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('a sign-in whose old password was checked just before the change gets no session that survives it', async () => {
    const { b, email, userId } = await signedUp();
    // The race, made certain: the change runs (and ends the other sessions) after the sign-in verified
    // the old password but before it wrote its session.
    const original = server.deps.sessions.create.bind(server.deps.sessions);
    const spy = vi.spyOn(server.deps.sessions, 'create').mockImplementationOnce(async (...args) => {
      expect(await b.trpc.auth.changePassword.mutate({ currentPassword: OLD, newPassword: NEW })).toMatchObject({ ok: true });
      return original(...args);
    });
    try {
      const racer = server.browser({ ip: freshIp() });
      expect(await trpcError(racer.trpc.auth.signIn.mutate({ email, password: OLD }))).toMatchObject({ code: 'UNAUTHORIZED', reason: 'unauthenticated' });
      expect(racer.cookies.has(SESSION_COOKIE)).toBe(false);
    } finally {
      spy.mockRestore();
    }
    const sessions = await server.deps.prisma.session.findMany({ where: { userId }, select: { id: true } });
    // Only the changer's (new) session is left.
    expect(sessions.map((s) => s.id)).toEqual([sessionToken(b).split('.')[0]]);
  });

  it('two changes at once: one wins, the other is told to retry', async () => {
    const { b, email } = await signedUp();
    const results = await Promise.allSettled([
      b.trpc.auth.changePassword.mutate({ currentPassword: OLD, newPassword: 'first new passphrase' }),
      b.trpc.auth.changePassword.mutate({ currentPassword: OLD, newPassword: 'second new passphrase' }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // Whichever committed, exactly one of the two passwords opens the account.
    const opens = await Promise.all(
      ['first new passphrase', 'second new passphrase'].map((p) =>
        signIn(email, p).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(opens.filter(Boolean)).toHaveLength(1);
    if (ok.length === 1) {
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      // Told to retry when both checked the same hash; when the loser starts after the winner has
      // swapped the caller's session, the session it was sent with has ended (the browser holds the new one);
      // when its session was read before the swap but the account after the winner's commit, the password
      // it gives is no longer the current one, and it is told so. Never a 500, never both applied.
      const error = await trpcError(Promise.reject(failed.reason));
      expect([
        { code: 'CONFLICT', reason: 'conflict' },
        { code: 'UNAUTHORIZED', reason: 'unauthenticated' },
        { code: 'BAD_REQUEST', reason: 'invalid_input' },
      ]).toContainEqual({ code: error.code, reason: error.reason });
      if (error.reason === 'invalid_input') expect(error.message).toContain('current password is not correct');
    }
  });
});

describe('preferences kept with the account', () => {
  it('starts from the defaults, changes only the fields given, and a new browser reads them', async () => {
    const { b, email } = await signedUp();
    expect(await b.trpc.preferences.get.query()).toEqual({
      alertEmails: true,
      theme: 'system',
      defaultModel: null,
      voice: null,
      autoPlay: false,
      monthlySpendLimitMicroUsd: null,
      clientPrefsSavedAt: null,
    });

    // The e-mail choice alone does not count as a browser having saved its choices.
    expect(await b.trpc.preferences.update.mutate({ alertEmails: false })).toMatchObject({ alertEmails: false, clientPrefsSavedAt: null });
    const saved = await b.trpc.preferences.update.mutate({ theme: 'dark', defaultModel: 'gpt-4o-mini', voice: 'en-us+f3', autoPlay: true });
    expect(saved).toMatchObject({ alertEmails: false, theme: 'dark', defaultModel: 'gpt-4o-mini', voice: 'en-us+f3', autoPlay: true });
    expect(saved.clientPrefsSavedAt).toBeInstanceOf(Date);
    expect(await b.trpc.preferences.update.mutate({ voice: null })).toMatchObject({ theme: 'dark', voice: null, autoPlay: true });

    const elsewhere = await signIn(email, OLD);
    expect(await elsewhere.trpc.preferences.get.query()).toMatchObject({
      alertEmails: false,
      theme: 'dark',
      defaultModel: 'gpt-4o-mini',
      voice: null,
      autoPlay: true,
    });
  });

  it('refuses values outside the rules as invalid_input', async () => {
    const { b } = await signedUp();
    for (const input of [{ theme: 'neon' }, { voice: '<script>' }, { defaultModel: '' }, { autoPlay: 'yes' }]) {
      expect(await trpcError(b.trpc.preferences.update.mutate(input as never))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    }
    expect(await b.trpc.preferences.get.query()).toMatchObject({ theme: 'system', clientPrefsSavedAt: null });
  });
});
