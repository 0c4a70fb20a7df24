// Counts refusals on the metered paths per UTC day and reason (admin.overview
// reads them). Recording is best effort: a failure here is logged and never
// changes the answer the request gets.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { Logger } from '../lib/logger.ts';
import { utcDay } from '../lib/days.ts';

/** The procedures that stream a metered chat reply: a message, a regenerated reply, an edited message. */
export const CHAT_REPLY_PATHS: ReadonlySet<string> = new Set(['chat.send', 'chat.regenerate', 'chat.edit']);

/** The procedures whose refusals are counted. */
export const REFUSAL_PATHS: ReadonlySet<string> = new Set([...CHAT_REPLY_PATHS, 'tts.speak']);

export class RefusalRecorder {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {}

  /** Counts `reason` for today when `path` is a metered procedure and the refusal is not an internal error. */
  async record(path: string, reason: string, now = new Date()): Promise<void> {
    if (!REFUSAL_PATHS.has(path) || reason === 'internal') return;
    try {
      await this.prisma.$executeRaw(Prisma.sql`
        INSERT INTO refusals_daily (day, reason, count) VALUES (${utcDay(now)}::date, ${reason}, 1)
        ON CONFLICT (day, reason) DO UPDATE SET count = refusals_daily.count + 1`);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message, reason }, 'could not record a refusal');
    }
  }
}
