// Quota counters: one row per (subject, kind, period). Every increase is a
// single conditional statement (used + n <= limit) so concurrent requests at a
// limit can never overshoot it; Postgres re-checks the condition on the locked
// row when two transactions race.
import { Prisma } from '@chatmeter/db/client';

export type Tx = Prisma.TransactionClient;

export const COUNTER = {
  messagesHour: 'messages_hour',
  messagesDay: 'messages_day',
  tokensMonth: 'tokens_month',
  ttsCharsDay: 'tts_chars_day',
  globalTokensDay: 'global_tokens_day',
  /** Micro-USD the plan's allowance paid this period (its costPerMonthMicroUsd), held while replies stream. */
  costMonth: 'cost_month',
  /** Micro-USD of all of the user's spend this period (the personal limit), held while replies stream. */
  spendMonth: 'spend_month',
  /** The service's provider cost per UTC day and calendar month (subject global). */
  globalCostDay: 'global_cost_day',
  globalCostMonth: 'global_cost_month',
  /** Tokens a support account adjusted today (absolute values), subject u:<support's id>. */
  supportAdjustDay: 'support_adjust_day',
} as const;
export type CounterKind = (typeof COUNTER)[keyof typeof COUNTER];

export const userSubject = (userId: string) => `u:${userId}`;
export const GLOBAL_SUBJECT = 'global';

/**
 * Adds n if the result stays within limit; returns the new value, or null when
 * refused. The statement is the database's cm_counter_try (migration
 * 20261123040000), the same one the chat reservation uses.
 */
export async function tryIncrement(
  tx: Tx,
  subject: string,
  kind: CounterKind,
  periodStart: Date,
  n: bigint | number,
  limit: bigint | number,
): Promise<bigint | null> {
  const rows = await tx.$queryRaw<{ used: bigint | null }[]>(Prisma.sql`
    SELECT cm_counter_try(${subject}, ${kind}, ${periodStart}::timestamptz, ${BigInt(n)}::bigint, ${BigInt(limit)}::bigint) AS used`);
  return rows[0]?.used ?? null;
}

/** Adds a signed amount without a limit (settling to the provider's truth), never below zero (cm_counter_adjust). */
export async function adjust(tx: Tx, subject: string, kind: CounterKind, periodStart: Date, delta: bigint | number): Promise<void> {
  const amount = BigInt(delta);
  if (amount === 0n) return;
  await tx.$executeRaw(Prisma.sql`SELECT cm_counter_adjust(${subject}, ${kind}, ${periodStart}::timestamptz, ${amount}::bigint)`);
}

export async function read(tx: Tx, subject: string, kind: CounterKind, periodStart: Date): Promise<bigint> {
  const rows = await tx.$queryRaw<{ used: bigint }[]>(Prisma.sql`
    SELECT used FROM quota_counters WHERE subject = ${subject} AND kind = ${kind} AND period_start = ${periodStart}::timestamptz`);
  return rows[0]?.used ?? 0n;
}
