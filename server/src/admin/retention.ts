// Retention: raw usage events older than RETENTION_DAYS are deleted (their
// daily roll-ups, written by the insert trigger, stay), and with
// MESSAGE_RETENTION_DAYS so are old chat messages and idle conversations (with
// the access to audio spoken from them).
//
// Every instance schedules it hourly; it runs once across them. One
// transaction takes a transaction-level advisory lock (pg_try_advisory_xact_lock:
// an instance that finds it taken skips at once) and then claims the run in
// job_runs by moving started_at forward only if the last run is older than the
// interval (an instance that comes later in the same hour skips too).
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { Logger } from '../lib/logger.ts';
import { dayStartOf, addDays, utcDay } from '../lib/days.ts';

export const RETENTION_JOB = 'retention';
/** pg advisory lock key of the retention job (any constant the other jobs do not use). */
export const RETENTION_LOCK_KEY = 72707370;
export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export interface RetentionOptions {
  retentionDays: number;
  messageRetentionDays?: number | undefined;
}

export type RetentionResult =
  | { ran: true; usageEventsDeleted: number; messagesDeleted: number; conversationsDeleted: number; usageCutoff: Date; messageCutoff: Date | null }
  | { ran: false; skipped: 'locked' | 'recent' };

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {}

  /**
   * One run. `force` ignores the interval (not the lock). Usage events are
   * deleted by whole UTC days, so a day is either all raw or all roll-up.
   */
  async run(opts: { now?: Date; force?: boolean } = {}): Promise<RetentionResult> {
    const now = opts.now ?? new Date();
    const usageCutoff = dayStartOf(addDays(utcDay(now), -this.options.retentionDays));
    const messageCutoff = this.options.messageRetentionDays ? new Date(now.getTime() - this.options.messageRetentionDays * 24 * 60 * 60 * 1000) : null;
    const claimBefore = opts.force ? now : new Date(now.getTime() - RETENTION_INTERVAL_MS + 60_000);
    return this.prisma.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<{ ok: boolean }[]>(Prisma.sql`SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}::bigint) AS ok`);
        if (!locked[0]?.ok) return { ran: false, skipped: 'locked' } as const;
        const claimed = await tx.$queryRaw<{ job: string }[]>(Prisma.sql`
          INSERT INTO job_runs (job, started_at) VALUES (${RETENTION_JOB}, ${now}::timestamptz)
          ON CONFLICT (job) DO UPDATE SET started_at = EXCLUDED.started_at, finished_at = NULL
           WHERE job_runs.started_at <= ${claimBefore}::timestamptz
          RETURNING job`);
        if (claimed.length === 0) return { ran: false, skipped: 'recent' } as const;

        const usageEventsDeleted = await tx.$executeRaw(Prisma.sql`DELETE FROM usage_events WHERE created_at < ${usageCutoff}::timestamptz`);
        let messagesDeleted = 0;
        let conversationsDeleted = 0;
        if (messageCutoff) {
          messagesDeleted = await tx.$executeRaw(Prisma.sql`DELETE FROM messages WHERE created_at < ${messageCutoff}::timestamptz`);
          // Sentence clips of replies read aloud as they streamed have no foreign key to their message
          // (written before it): they go with it, and so do those of a reply that was never stored.
          await tx.$executeRaw(Prisma.sql`
            DELETE FROM sentence_clips s WHERE s.created_at < ${messageCutoff}::timestamptz
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = s.message_id)`);
          conversationsDeleted = await tx.$executeRaw(Prisma.sql`
            DELETE FROM conversations c WHERE c.updated_at < ${messageCutoff}::timestamptz
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)`);
        }
        const result = { ran: true as const, usageEventsDeleted, messagesDeleted, conversationsDeleted, usageCutoff, messageCutoff };
        await tx.$executeRaw(Prisma.sql`
          UPDATE job_runs SET finished_at = now(), result = ${JSON.stringify(result)}::jsonb WHERE job = ${RETENTION_JOB}`);
        return result;
      },
      { timeout: 30 * 60_000, maxWait: 60_000 },
    );
  }

  /** When the job last ran and what it did (the Admin tab shows it). */
  async lastRun(): Promise<{ startedAt: Date; finishedAt: Date | null; result: unknown } | null> {
    return this.prisma.jobRun.findUnique({ where: { job: RETENTION_JOB }, select: { startedAt: true, finishedAt: true, result: true } });
  }

  /** Hourly on every instance (the first run a minute after start); the claim makes it once across them. */
  start(): void {
    if (this.timer) return;
    const tick = () =>
      void this.run()
        .then((r) => {
          if (r.ran) this.logger.info(r, 'retention ran');
        })
        .catch((error: Error) => this.logger.warn({ err: error.message }, 'retention failed'));
    this.first = setTimeout(tick, 60_000);
    this.first.unref();
    this.timer = setInterval(tick, RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.first);
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
