// Outgoing e-mail. Every message gets an email_outbox row (a record of what was
// sent to whom, and the delivery path when no SMTP server is configured); with
// SMTP_URL nodemailer sends it and the row is marked sent.
//
// Mail carries secrets (sign-in and verification links), so where a body may
// rest depends on NODE_ENV:
// - outside production the row keeps the body until it is delivered, and
//   without SMTP_URL the row and the log are how a developer gets the link;
// - in production the body is never written to the table or to the log: the row
//   keeps the recipient, the subject and what became of the message. Without
//   SMTP_URL mail cannot be delivered there at all, and a warning says so.
// Once delivered by SMTP, a row's body is replaced with OUTBOX_BODY_DELIVERED.
import nodemailer, { type Transporter } from 'nodemailer';
import type { PrismaClient } from '@chatmeter/db/client';
import type { Logger } from '../lib/logger.ts';

export interface Mail {
  to: string;
  subject: string;
  body: string;
}

export interface MailerOptions {
  smtpUrl?: string | undefined;
  from: string;
  /** NODE_ENV=production: bodies are never kept in the outbox or logged. */
  production: boolean;
}

/** The body of an outbox row once the message was handed to the SMTP server. */
export const OUTBOX_BODY_DELIVERED = '[delivered]';
/** The body of an outbox row in production, where bodies (sign-in links) are not kept. */
export const OUTBOX_BODY_NOT_KEPT = '[not kept in production]';
const NO_SMTP_ERROR = 'not delivered: SMTP_URL is not set';

export class Mailer {
  private readonly transport: Transporter | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
    private readonly options: MailerOptions,
  ) {
    this.transport = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : undefined;
    if (options.production && !this.transport) {
      logger.warn('SMTP_URL is not set: e-mail (sign-in links, alerts) cannot be delivered; mail is recorded in email_outbox without its body');
    }
  }

  async send(mail: Mail): Promise<void> {
    const keepBody = !this.options.production;
    const undeliverable = !this.transport && !keepBody;
    const row = await this.prisma.emailOutbox.create({
      data: { to: mail.to, subject: mail.subject, body: keepBody ? mail.body : OUTBOX_BODY_NOT_KEPT, error: undeliverable ? NO_SMTP_ERROR : null },
      select: { id: true },
    });
    if (!this.transport) {
      if (keepBody) this.logger.info({ to: mail.to, subject: mail.subject, body: mail.body }, 'e-mail written to the outbox (no SMTP_URL)');
      else this.logger.warn({ to: mail.to, subject: mail.subject }, 'e-mail not delivered: SMTP_URL is not set (the body is not kept in production)');
      return;
    }
    try {
      await this.transport.sendMail({ from: this.options.from, to: mail.to, subject: mail.subject, text: mail.body });
      await this.prisma.emailOutbox.update({ where: { id: row.id }, data: { sentAt: new Date(), body: OUTBOX_BODY_DELIVERED }, select: { id: true } });
    } catch (error) {
      const message = (error as Error).message;
      this.logger.error({ err: message, to: mail.to }, keepBody ? 'e-mail delivery failed; kept in the outbox' : 'e-mail delivery failed');
      await this.prisma.emailOutbox.update({ where: { id: row.id }, data: { error: message.slice(0, 1000) }, select: { id: true } });
    }
  }
}
