// The mailer against a real database, a fake SMTP server on loopback (spoken to
// by the real nodemailer transport) and a captured log: a sign-in link must not
// rest in email_outbox or reach the log in production, and outside production it
// rests only until it is delivered.
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@chatmeter/db/testing';
import type { PrismaClient } from '@chatmeter/db/client';
import { startFakeSmtpServer, type FakeSmtpServer } from '../../test/fakes/smtp-server.ts';
import { Mailer, OUTBOX_BODY_DELIVERED } from './mailer.ts';

let tdb: TestDatabase;
let prisma: PrismaClient;
let smtp: FakeSmtpServer;

beforeAll(async () => {
  tdb = await createTestDatabase();
  prisma = tdb.db.prisma;
  smtp = await startFakeSmtpServer();
});
afterAll(async () => {
  await smtp?.close();
  await tdb?.cleanup();
});
afterEach(() => {
  smtp.holdDelivery = null;
  smtp.refuse.clear();
});

let counter = 0;
/** A mail like the magic-link one, with a fresh secret token in its body. */
function linkMail() {
  counter += 1;
  const token = `secret-token-${counter}-${Math.random().toString(36).slice(2)}`;
  return {
    token,
    mail: {
      to: `mail${counter}@example.com`,
      subject: 'Your ChatMeter sign-in link',
      body: `Sign in with this link:\n\nhttp://localhost:3000/magic-link?token=${token}\n`,
    },
  };
}

function capturedLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  return { logger, text: () => lines.join(''), entries: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string }) };
}

function mailer(options: { production: boolean; smtp: boolean }) {
  const log = capturedLogger();
  const m = new Mailer(prisma, log.logger, {
    smtpUrl: options.smtp ? smtp.url : undefined,
    from: 'ChatMeter <no-reply@chatmeter.test>',
    production: options.production,
  });
  return { m, log };
}

const outboxRow = (to: string) => prisma.emailOutbox.findFirstOrThrow({ where: { to }, select: { body: true, sentAt: true, error: true } });

/** The text part as sent over SMTP, undoing quoted-printable soft breaks and escapes. */
function sentText(data: string): string {
  return data.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe('mailer in production', () => {
  it('without SMTP_URL: neither the outbox nor the log holds the body; a warning says mail is not delivered', async () => {
    const { m, log } = mailer({ production: true, smtp: false });
    const { token, mail } = linkMail();
    await m.send(mail);
    const row = await outboxRow(mail.to);
    expect(row.body).not.toContain(token);
    expect(row.sentAt).toBeNull();
    expect(row.error).toMatch(/SMTP_URL/);
    expect(log.text()).not.toContain(token);
    expect(log.entries().some((entry) => entry.level === 40 && /not delivered/i.test(entry.msg))).toBe(true);
  });

  it('with SMTP: the link reaches the SMTP server, but never rests in the outbox, not even during delivery', async () => {
    const { m, log } = mailer({ production: true, smtp: true });
    const { token, mail } = linkMail();
    let release!: () => void;
    smtp.holdDelivery = new Promise((resolve) => (release = resolve));
    const arrived = smtp.nextData();
    const sending = m.send(mail);
    const received = await arrived;
    expect(sentText(received.data)).toContain(token);
    // Mid-delivery: the row exists, without the body.
    expect((await outboxRow(mail.to)).body).not.toContain(token);
    release();
    await sending;
    const row = await outboxRow(mail.to);
    expect(row).toMatchObject({ body: OUTBOX_BODY_DELIVERED, error: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(log.text()).not.toContain(token);
  });

  it('with SMTP, a refused delivery keeps neither the body in the outbox nor in the log', async () => {
    const { m, log } = mailer({ production: true, smtp: true });
    const { token, mail } = linkMail();
    smtp.refuse.add(mail.to);
    await m.send(mail);
    const row = await outboxRow(mail.to);
    expect(row.body).not.toContain(token);
    expect(row.sentAt).toBeNull();
    expect(row.error).toMatch(/550|reject/i);
    expect(log.text()).not.toContain(token);
    expect(log.entries().some((entry) => entry.level === 50 && /delivery failed/.test(entry.msg))).toBe(true);
  });
});

describe('mailer outside production', () => {
  it('without SMTP_URL: the outbox row and the log carry the link (the developer’s delivery path)', async () => {
    const { m, log } = mailer({ production: false, smtp: false });
    const { token, mail } = linkMail();
    await m.send(mail);
    expect((await outboxRow(mail.to)).body).toBe(mail.body);
    expect(log.text()).toContain(token);
  });

  it('with SMTP: the body rests in the outbox only until it is delivered, and is not logged', async () => {
    const { m, log } = mailer({ production: false, smtp: true });
    const { token, mail } = linkMail();
    let release!: () => void;
    smtp.holdDelivery = new Promise((resolve) => (release = resolve));
    const arrived = smtp.nextData();
    const sending = m.send(mail);
    await arrived;
    expect((await outboxRow(mail.to)).body).toBe(mail.body);
    release();
    await sending;
    const row = await outboxRow(mail.to);
    expect(row).toMatchObject({ body: OUTBOX_BODY_DELIVERED, error: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(smtp.received.some((r) => r.to.includes(mail.to) && sentText(r.data).includes(token))).toBe(true);
    expect(log.text()).not.toContain(token);
  });

  it('with SMTP, a refused delivery keeps the body (outside production) and records the error', async () => {
    const { m } = mailer({ production: false, smtp: true });
    const { mail } = linkMail();
    smtp.refuse.add(mail.to);
    await m.send(mail);
    const row = await outboxRow(mail.to);
    expect(row.body).toBe(mail.body);
    expect(row.sentAt).toBeNull();
    expect(row.error).toMatch(/550|reject/i);
  });
});
