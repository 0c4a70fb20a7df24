// Outgoing e-mail. Every message is written to the email_outbox table first (a
// record, and the delivery path when no SMTP server is configured); with SMTP_URL
// nodemailer sends it and the row is marked sent.
import nodemailer, { type Transporter } from 'nodemailer';
import type { PrismaClient } from '@chatmeter/db/client';
import type { Logger } from '../lib/logger.ts';

export interface Mail {
  to: string;
  subject: string;
  body: string;
}

export class Mailer {
  private readonly transport: Transporter | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
    private readonly options: { smtpUrl?: string | undefined; from: string },
  ) {
    this.transport = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : undefined;
  }

  async send(mail: Mail): Promise<void> {
    const row = await this.prisma.emailOutbox.create({ data: mail, select: { id: true } });
    if (!this.transport) {
      this.logger.info({ to: mail.to, subject: mail.subject, body: mail.body }, 'e-mail written to the outbox (no SMTP_URL)');
      return;
    }
    try {
      await this.transport.sendMail({ from: this.options.from, to: mail.to, subject: mail.subject, text: mail.body });
      await this.prisma.emailOutbox.update({ where: { id: row.id }, data: { sentAt: new Date() } });
    } catch (error) {
      const message = (error as Error).message;
      this.logger.error({ err: message, to: mail.to }, 'e-mail delivery failed; kept in the outbox');
      await this.prisma.emailOutbox.update({ where: { id: row.id }, data: { error: message.slice(0, 1000) } });
    }
  }
}
