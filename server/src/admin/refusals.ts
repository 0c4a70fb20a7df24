// Counts refusals on the metered paths per UTC day and reason. Recording is
// best effort: a failure here is logged and never changes the answer the
// request gets.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { Logger } from '../lib/logger.ts';
import { utcDay } from './days.ts';

/** The procedures whose AppErrors count as refusals. */
export const REFUSAL_PATHS: ReadonlySet<string> = new Set(['chat.send', 'tts.speak']);

export async function recordRefusal(prisma: PrismaClient, logger: Logger, reason: string, now = new Date()): Promise<void> {
  try {
    await prisma.$executeRaw(Prisma.sql`
      INSERT INTO refusals_daily (day, reason, count) VALUES (${utcDay(now)}::date, ${reason}, 1)
      ON CONFLICT (day, reason) DO UPDATE SET count = refusals_daily.count + 1`);
  } catch (error) {
    logger.warn({ err: (error as Error).message, reason }, 'could not record a refusal');
  }
}
