// Prepaid credits (tokens). Every rule of the balance lives in SQL functions
// (prisma/sql/functions/cm_credit_add.sql, cm_credit_take.sql; ADR 010 and 011):
// credit_accounts holds the balance, and every change is also an append-only
// credit_ledger row with the balance after it, written by the same function in the
// caller's transaction, so the balance always equals the ledger's sum and never goes
// below zero. This file only calls them with typed arguments.
import { Prisma } from '@chatmeter/db/client';
import type { Tx } from './counters.ts';

/** Changes that add credits (cm_credit_add refuses any other kind). spend_release: a chat settlement gives back what it did not use. */
export type CreditAddKind = 'purchase' | 'grant' | 'adjustment' | 'spend_release' | 'dispute_release';
/** Changes that take credits (cm_credit_take refuses any other kind). dispute_*: a credit pack's charge disputed (billing/webhook-handler.ts). */
export type CreditTakeKind = 'spend' | 'refund' | 'adjustment' | 'dispute_hold' | 'dispute_loss';
export type CreditKind = CreditAddKind | CreditTakeKind;

export interface CreditChange<K extends CreditKind = CreditKind> {
  userId: string;
  kind: K;
  reason: string;
  actorId?: string | null;
  sourceEventId?: string | null;
  reservationId?: string | null;
}

export interface CreditAdded {
  /** The balance after the change. */
  balance: bigint;
  /** The credit_ledger row written; null when nothing was added (0 tokens). */
  entryId: bigint | null;
}

export interface CreditTaken extends CreditAdded {
  /** What was taken; the ledger row records exactly this. */
  taken: bigint;
}

/** Adds `tokens` (0 or more; cm_credit_add refuses a negative amount). */
export async function addCredits(tx: Tx, change: CreditChange<CreditAddKind>, tokens: bigint): Promise<CreditAdded> {
  const rows = await tx.$queryRaw<{ balance: bigint; entry_id: bigint | null }[]>(Prisma.sql`
    SELECT balance, entry_id
      FROM cm_credit_add(${change.userId}::uuid, ${tokens}::bigint, ${change.kind}, ${change.reason},
                         ${change.actorId ?? null}::uuid, ${change.sourceEventId ?? null}::text, ${change.reservationId ?? null}::uuid)`);
  const row = rows[0]!;
  return { balance: row.balance, entryId: row.entry_id };
}

async function take(tx: Tx, change: CreditChange<CreditTakeKind>, tokens: bigint, exact: boolean): Promise<CreditTaken> {
  const rows = await tx.$queryRaw<{ taken: bigint; balance: bigint; entry_id: bigint | null }[]>(Prisma.sql`
    SELECT taken, balance, entry_id
      FROM cm_credit_take(${change.userId}::uuid, ${tokens}::bigint, ${change.kind}, ${change.reason},
                          ${change.actorId ?? null}::uuid, ${change.sourceEventId ?? null}::text, ${change.reservationId ?? null}::uuid,
                          ${exact}::boolean)`);
  const row = rows[0]!;
  return { taken: row.taken, balance: row.balance, entryId: row.entry_id };
}

/** Takes exactly `tokens` if the balance covers them; null when it does not (nothing taken). */
export async function tryTakeCredits(tx: Tx, change: CreditChange<CreditTakeKind>, tokens: bigint): Promise<CreditTaken | null> {
  const result = await take(tx, change, tokens, true);
  return result.taken === tokens ? result : null;
}

/**
 * Takes up to `tokens`, never below zero (refund claw-backs, dispute holds, a
 * negative adjustment). `taken` is what was actually taken.
 */
export function takeCreditsUpTo(tx: Tx, change: CreditChange<CreditTakeKind>, tokens: bigint): Promise<CreditTaken> {
  return take(tx, change, tokens, false);
}

/** The balance (0 for a user who never had credits). A read by key: Prisma's typed client (ADR 011). */
export async function creditBalance(tx: Tx, userId: string): Promise<bigint> {
  const account = await tx.creditAccount.findUnique({ where: { userId }, select: { balanceTokens: true } });
  return account?.balanceTokens ?? 0n;
}
