// Prepaid credits (tokens). The balance lives in credit_accounts and every
// change is also an immutable credit_ledger row with the balance after it,
// written in the same transaction: the balance always equals the ledger's sum.
import { Prisma } from '@chatmeter/db/client';
import type { Tx } from './counters.ts';

/** dispute_hold / dispute_release / dispute_loss: a credit pack's charge disputed (billing/webhook-handler.ts). */
export type CreditKind = 'purchase' | 'refund' | 'adjustment' | 'spend' | 'spend_release' | 'grant' | 'dispute_hold' | 'dispute_release' | 'dispute_loss';

export interface CreditChange {
  userId: string;
  kind: CreditKind;
  reason: string;
  actorId?: string | null;
  sourceEventId?: string | null;
  reservationId?: string | null;
}

async function record(tx: Tx, change: CreditChange, delta: bigint, balanceAfter: bigint): Promise<void> {
  await tx.$executeRaw(Prisma.sql`
    INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason, actor_id, source_event_id, reservation_id)
    VALUES (${change.userId}::uuid, ${delta}::bigint, ${balanceAfter}::bigint, ${change.kind}, ${change.reason},
            ${change.actorId ?? null}::uuid, ${change.sourceEventId ?? null}, ${change.reservationId ?? null}::uuid)`);
}

/** Adds tokens (positive amount). Returns the new balance. */
export async function addCredits(tx: Tx, change: CreditChange, tokens: bigint): Promise<bigint> {
  if (tokens < 0n) throw new Error('addCredits takes a positive amount');
  const rows = await tx.$queryRaw<{ balance_tokens: bigint }[]>(Prisma.sql`
    INSERT INTO credit_accounts (user_id, balance_tokens) VALUES (${change.userId}::uuid, ${tokens}::bigint)
    ON CONFLICT (user_id) DO UPDATE SET balance_tokens = credit_accounts.balance_tokens + EXCLUDED.balance_tokens, updated_at = now()
    RETURNING balance_tokens`);
  const balance = rows[0]!.balance_tokens;
  if (tokens > 0n) await record(tx, change, tokens, balance);
  return balance;
}

/** Takes exactly `tokens` if the balance covers them; returns the new balance or null (nothing taken). */
export async function tryTakeCredits(tx: Tx, change: CreditChange, tokens: bigint): Promise<bigint | null> {
  if (tokens <= 0n) return tokens === 0n ? creditBalance(tx, change.userId) : null;
  const rows = await tx.$queryRaw<{ balance_tokens: bigint }[]>(Prisma.sql`
    UPDATE credit_accounts SET balance_tokens = balance_tokens - ${tokens}::bigint, updated_at = now()
     WHERE user_id = ${change.userId}::uuid AND balance_tokens >= ${tokens}::bigint
    RETURNING balance_tokens`);
  const balance = rows[0]?.balance_tokens;
  if (balance === undefined) return null;
  await record(tx, change, -tokens, balance);
  return balance;
}

/**
 * Takes up to `tokens`, never below zero (refund claw-backs, overruns). Returns
 * what was actually taken; the ledger records exactly that.
 */
export async function takeCreditsUpTo(tx: Tx, change: CreditChange, tokens: bigint): Promise<bigint> {
  if (tokens <= 0n) return 0n;
  const rows = await tx.$queryRaw<{ balance_tokens: bigint; taken: bigint }[]>(Prisma.sql`
    WITH current AS (
      SELECT balance_tokens FROM credit_accounts WHERE user_id = ${change.userId}::uuid FOR UPDATE
    )
    UPDATE credit_accounts c SET balance_tokens = c.balance_tokens - LEAST(c.balance_tokens, ${tokens}::bigint), updated_at = now()
      FROM current
     WHERE c.user_id = ${change.userId}::uuid
    RETURNING c.balance_tokens, current.balance_tokens - c.balance_tokens AS taken`);
  const row = rows[0];
  if (!row || row.taken === 0n) return 0n;
  await record(tx, change, -row.taken, row.balance_tokens);
  return row.taken;
}

export async function creditBalance(tx: Tx, userId: string): Promise<bigint> {
  const rows = await tx.$queryRaw<{ balance_tokens: bigint }[]>(Prisma.sql`
    SELECT balance_tokens FROM credit_accounts WHERE user_id = ${userId}::uuid`);
  return rows[0]?.balance_tokens ?? 0n;
}
