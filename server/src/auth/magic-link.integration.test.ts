// Magic links over HTTP: a link only turns a guest session into the new account
// when it was requested from that same guest session (else someone could have a
// link sent to their own address, get a guest to open it, and walk away with the
// guest's conversations); auth.magicLinkInfo reads a link without using it; and
// in production the link rests neither in email_outbox nor in the log.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from './auth-service.ts';
import { SESSION_COOKIE } from './session.ts';
import { OUTBOX_BODY_DELIVERED } from '../mail/mailer.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { startFakeSmtpServer, type FakeSmtpServer } from '../../test/fakes/smtp-server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

let counter = 0;
const freshEmail = (who = 'user') => `${who}${++counter}-${Date.now()}@example.com`;
let ipCounter = 0;
const freshIp = () => `10.77.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

/** Asks for a link from this browser (its session, if any, is the requester) and reads it from the outbox. */
async function requestLink(b: TestBrowser, email: string): Promise<string> {
  await b.trpc.auth.requestMagicLink.mutate({ email });
  const mail = await server.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email }, orderBy: { id: 'desc' } });
  const match = /magic-link\?token=([\w%-]+)/.exec(mail.body);
  expect(match).not.toBeNull();
  return decodeURIComponent(match![1]!);
}

/** A guest browser that has one conversation. */
async function guestWithConversation(): Promise<{ b: TestBrowser; guestId: string; conversationId: string; cookie: string }> {
  const b = server.browser({ ip: freshIp() });
  const { user } = await b.trpc.auth.guest.mutate();
  const { start } = await send(b, { content: 'Something only this guest said.' });
  expect(start?.conversationId).toBeTruthy();
  return { b, guestId: user.id, conversationId: start!.conversationId, cookie: b.cookies.get(SESSION_COOKIE)!.value };
}

const conversationOwner = async (conversationId: string) =>
  (await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { userId: true } })).userId;

describe('a magic link opened by a guest', () => {
  for (const attackerKind of ['without a session', 'from a guest session of their own'] as const) {
    it(`requested by someone else (${attackerKind}) does not move the guest's conversations into that account`, async () => {
      const victim = await guestWithConversation();
      const attacker = server.browser({ ip: freshIp() });
      if (attackerKind === 'from a guest session of their own') await attacker.trpc.auth.guest.mutate();
      const attackerEmail = freshEmail('attacker');
      const token = await requestLink(attacker, attackerEmail);

      // The victim opens the attacker's link and signs in: into the attacker's new account...
      const { user } = await victim.b.trpc.auth.verifyMagicLink.mutate({ token });
      expect(user.email).toBe(attackerEmail);
      expect(user.id).not.toBe(victim.guestId);
      expect((await victim.b.trpc.chat.conversations.query({})).items).toEqual([]);
      // ...while the guest's conversation stays with the guest user, whose session has ended.
      expect(await conversationOwner(victim.conversationId)).toBe(victim.guestId);
      expect(await server.deps.prisma.user.findUniqueOrThrow({ where: { id: victim.guestId }, select: { isGuest: true, email: true } })).toEqual({
        isGuest: true,
        email: null,
      });
      expect(await server.deps.sessions.validate(decodeURIComponent(victim.cookie))).toBeNull();

      // The attacker signs in to that account later and finds nothing of the victim's.
      const later = server.browser({ ip: freshIp() });
      await later.trpc.auth.verifyMagicLink.mutate({ token: await requestLink(later, attackerEmail) });
      expect((await later.trpc.chat.conversations.query({})).items).toEqual([]);
      const messages = await server.deps.prisma.message.count({ where: { userId: user.id } });
      expect(messages).toBe(0);
    });
  }

  it('requested from the same guest session turns that guest into the new account, conversations and all', async () => {
    const guest = await guestWithConversation();
    const email = freshEmail('keeper');
    const token = await requestLink(guest.b, email);
    const { user } = await guest.b.trpc.auth.verifyMagicLink.mutate({ token });
    expect(user).toMatchObject({ id: guest.guestId, email, isGuest: false, plan: 'free' });
    expect(await conversationOwner(guest.conversationId)).toBe(guest.guestId);
    expect((await guest.b.trpc.chat.conversations.query({})).items.map((c) => c.id)).toEqual([guest.conversationId]);
    // A new session id all the same (no fixation).
    expect(guest.b.cookies.get(SESSION_COOKIE)!.value).not.toBe(guest.cookie);
    expect(await server.deps.sessions.validate(decodeURIComponent(guest.cookie))).toBeNull();
  });

  it('requested from the guest session, for an address that already has an account: signs in, the guest is not merged', async () => {
    const email = freshEmail('existing');
    await server.browser({ ip: freshIp() }).trpc.auth.signUp.mutate({ email, password: 'correct horse battery staple' });
    const guest = await guestWithConversation();
    const { user } = await guest.b.trpc.auth.verifyMagicLink.mutate({ token: await requestLink(guest.b, email) });
    expect(user.email).toBe(email);
    expect(user.id).not.toBe(guest.guestId);
    expect(await conversationOwner(guest.conversationId)).toBe(guest.guestId);
  });

  it('records the requesting session on the link (and none for a request without one)', async () => {
    const guest = await guestWithConversation();
    const withSession = await requestLink(guest.b, freshEmail());
    const sessionId = decodeURIComponent(guest.cookie).split('.')[0];
    const row = await server.deps.prisma.magicLinkToken.findUniqueOrThrow({
      where: { tokenHash: hashToken(withSession) },
      select: { requestedBySessionId: true },
    });
    expect(row.requestedBySessionId).toBe(sessionId);
    const without = await requestLink(server.browser({ ip: freshIp() }), freshEmail());
    expect((await server.deps.prisma.magicLinkToken.findUniqueOrThrow({ where: { tokenHash: hashToken(without) } })).requestedBySessionId).toBeNull();
  });
});

describe('auth.magicLinkInfo', () => {
  it('answers the masked address without using the link, and says whether the guest would be kept', async () => {
    const guest = await guestWithConversation();
    const email = freshEmail('alice');
    const token = await requestLink(guest.b, email);

    const stranger = server.browser({ ip: freshIp() });
    expect(await stranger.trpc.auth.magicLinkInfo.query({ token })).toEqual({ email: `a…@example.com`, mergesGuest: false });
    expect(await guest.b.trpc.auth.magicLinkInfo.query({ token })).toEqual({ email: `a…@example.com`, mergesGuest: true });
    // Asking twice, from anywhere, leaves the link unused.
    const row = await server.deps.prisma.magicLinkToken.findUniqueOrThrow({ where: { tokenHash: hashToken(token) }, select: { usedAt: true } });
    expect(row.usedAt).toBeNull();
    const { user } = await guest.b.trpc.auth.verifyMagicLink.mutate({ token });
    expect(user).toMatchObject({ id: guest.guestId, email });
  });

  it('is NOT_FOUND for an unknown, used or expired link, with the same message', async () => {
    const unknown = await trpcError(server.browser().trpc.auth.magicLinkInfo.query({ token: 'x'.repeat(43) }));
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });

    const used = await requestLink(server.browser({ ip: freshIp() }), freshEmail());
    await server.browser().trpc.auth.verifyMagicLink.mutate({ token: used });
    const usedError = await trpcError(server.browser().trpc.auth.magicLinkInfo.query({ token: used }));
    expect(usedError).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found', message: unknown.message });

    const expired = await requestLink(server.browser({ ip: freshIp() }), freshEmail());
    await server.deps.prisma.magicLinkToken.updateMany({ where: { tokenHash: hashToken(expired) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await trpcError(server.browser().trpc.auth.magicLinkInfo.query({ token: expired }))).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
  });

  it('refuses malformed tokens as invalid_input', async () => {
    const err = await trpcError(server.browser().trpc.auth.magicLinkInfo.query({ token: 'short' }));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
  });
});

describe('in production', () => {
  const origin = 'https://chat.example.com';
  let smtp: FakeSmtpServer;
  const logLines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  const started: TestServer[] = [];
  afterAll(async () => {
    for (const s of started) await s.close();
    await smtp?.close();
  });

  /** The text part as sent over SMTP, undoing quoted-printable soft breaks and escapes. */
  const sentText = (data: string) => data.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

  it('with SMTP_URL the link reaches the SMTP server and works, but is kept neither in the outbox nor in the log', async () => {
    smtp = await startFakeSmtpServer();
    const prod = await startTestServer({ NODE_ENV: 'production', APP_ORIGIN: origin, SMTP_URL: smtp.url, LOG_LEVEL: 'trace' }, { logger });
    started.push(prod);
    const email = freshEmail('prod');
    const b = prod.browser({ origin, ip: freshIp() });
    const arrived = smtp.nextData();
    await b.trpc.auth.requestMagicLink.mutate({ email });
    const match = new RegExp(`${origin}/magic-link\\?token=([\\w%-]+)`).exec(sentText((await arrived).data));
    expect(match).not.toBeNull();
    const token = decodeURIComponent(match![1]!);

    expect(await b.trpc.auth.magicLinkInfo.query({ token })).toMatchObject({ email: 'p…@example.com' });
    expect((await b.trpc.auth.verifyMagicLink.mutate({ token })).user.email).toBe(email);

    const rows = await prod.deps.prisma.emailOutbox.findMany({ where: { to: email }, select: { body: true, sentAt: true } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).toBe(OUTBOX_BODY_DELIVERED);
    expect(rows[0]!.sentAt).toBeInstanceOf(Date);
    const log = logLines.join('');
    expect(log).toContain('"msg":"request completed"'); // the log was captured
    expect(log).not.toContain(token);
    expect(log).not.toContain(encodeURIComponent(token));
    expect(log).not.toContain('magic-link?token');
  });

  it('without SMTP_URL the link is not delivered, and neither the outbox nor the log has it', async () => {
    logLines.length = 0;
    const prod = await startTestServer({ NODE_ENV: 'production', APP_ORIGIN: origin, LOG_LEVEL: 'trace' }, { logger });
    started.push(prod);
    const email = freshEmail('nosmtp');
    await prod.browser({ origin, ip: freshIp() }).trpc.auth.requestMagicLink.mutate({ email });
    const rows = await prod.deps.prisma.emailOutbox.findMany({ where: { to: email }, select: { body: true, sentAt: true, error: true } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).not.toContain('token');
    expect(rows[0]!.sentAt).toBeNull();
    expect(rows[0]!.error).toMatch(/SMTP_URL/);
    const log = logLines.join('');
    expect(log).not.toContain('token=');
    expect(log).toMatch(/not delivered/);
  });
});
