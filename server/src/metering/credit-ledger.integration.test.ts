// The credit rules live in two SQL functions (cm_credit_add, cm_credit_take; ADR 010 and
// 011), called through metering/credits.ts. Whatever sequence of changes runs, one at a
// time or concurrently: the balance equals the ledger's sum, each row's balance_after
// follows from the one before, nothing goes below zero, and concurrent takes never
// overdraw. Bad arguments are refused by the functions themselves.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { createTestDatabase, type TestDatabase } from '@chatmeter/db/testing';
import { addCredits, type CreditAddKind, type CreditChange, creditBalance, type CreditTakeKind, takeCreditsUpTo, tryTakeCredits } from './credits.ts';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.cleanup();
});

async function newUser(): Promise<string> {
  const id = randomUUID();
  await tdb.db.prisma.user.create({ data: { id, email: `${id}@example.com` }, select: { id: true } });
  return id;
}

/** 40 transactions wait for 10 connections and one row lock: let them queue on a busy machine. */
const QUEUED = { maxWait: 60_000, timeout: 60_000 };

const add = (userId: string, kind: CreditAddKind = 'grant'): CreditChange<CreditAddKind> => ({ userId, kind, reason: 'test' });
const takeChange = (userId: string, kind: CreditTakeKind = 'spend'): CreditChange<CreditTakeKind> => ({ userId, kind, reason: 'test' });

/** The account's balance, the ledger's sum, and the rows of the ledger whose balance_after does not follow from the row before. */
async function books(userId: string) {
  const rows = await tdb.db.prisma.$queryRaw<{ balance: bigint; ledger: bigint; broken: bigint; negative: bigint }[]>(Prisma.sql`
    SELECT COALESCE((SELECT balance_tokens FROM credit_accounts WHERE user_id = ${userId}::uuid), 0)::bigint AS balance,
           COALESCE((SELECT sum(delta_tokens) FROM credit_ledger WHERE user_id = ${userId}::uuid), 0)::bigint AS ledger,
           (SELECT count(*) FROM (
              SELECT balance_after, delta_tokens, COALESCE(lag(balance_after) OVER (ORDER BY id), 0) AS prev
                FROM credit_ledger WHERE user_id = ${userId}::uuid) x
             WHERE x.balance_after <> x.prev + x.delta_tokens)::bigint AS broken,
           (SELECT count(*) FROM credit_ledger WHERE user_id = ${userId}::uuid AND (balance_after < 0 OR delta_tokens = 0))::bigint AS negative`);
  return rows[0]!;
}

describe('cm_credit_add / cm_credit_take', () => {
  it('add returns the new balance and its ledger row; a take of more than the balance takes what is there', async () => {
    const userId = await newUser();
    const added = await tdb.db.prisma.$transaction((tx) => addCredits(tx, { ...add(userId, 'purchase'), sourceEventId: 'evt_1' }, 1_000n));
    expect(added.balance).toBe(1_000n);
    const entry = await tdb.db.prisma.creditLedgerEntry.findUniqueOrThrow({
      where: { id: added.entryId! },
      select: { userId: true, deltaTokens: true, balanceAfter: true, kind: true, sourceEventId: true },
    });
    expect(entry).toEqual({ userId, deltaTokens: 1_000n, balanceAfter: 1_000n, kind: 'purchase', sourceEventId: 'evt_1' });

    const refused = await tdb.db.prisma.$transaction((tx) => tryTakeCredits(tx, takeChange(userId), 1_001n));
    expect(refused).toBeNull();
    const exact = await tdb.db.prisma.$transaction((tx) => tryTakeCredits(tx, takeChange(userId), 400n));
    expect(exact).toMatchObject({ taken: 400n, balance: 600n });
    const upTo = await tdb.db.prisma.$transaction((tx) => takeCreditsUpTo(tx, takeChange(userId, 'refund'), 5_000n));
    expect(upTo).toMatchObject({ taken: 600n, balance: 0n });
    const nothing = await tdb.db.prisma.$transaction((tx) => takeCreditsUpTo(tx, takeChange(userId, 'dispute_hold'), 10n));
    expect(nothing).toEqual({ taken: 0n, balance: 0n, entryId: null });
    expect(await creditBalance(tdb.db.prisma, userId)).toBe(0n);
    // Three changes, no row for the ones that changed nothing.
    expect(await tdb.db.prisma.creditLedgerEntry.count({ where: { userId } })).toBe(3);
    expect(await books(userId)).toEqual({ balance: 0n, ledger: 0n, broken: 0n, negative: 0n });
  });

  it('a user without an account has a balance of 0 and nothing to take', async () => {
    const userId = await newUser();
    expect(await creditBalance(tdb.db.prisma, userId)).toBe(0n);
    expect(await tdb.db.prisma.$transaction((tx) => tryTakeCredits(tx, takeChange(userId), 1n))).toBeNull();
    expect(await tdb.db.prisma.$transaction((tx) => takeCreditsUpTo(tx, takeChange(userId), 1n))).toEqual({ taken: 0n, balance: 0n, entryId: null });
    expect(await tdb.db.prisma.$transaction((tx) => addCredits(tx, add(userId), 0n))).toEqual({ balance: 0n, entryId: null });
    expect(await tdb.db.prisma.creditLedgerEntry.count({ where: { userId } })).toBe(0);
  });

  it('refuses a negative amount and a kind that goes the other way, changing nothing', async () => {
    const userId = await newUser();
    await tdb.db.prisma.$transaction((tx) => addCredits(tx, add(userId), 100n));
    const call = (sql: Prisma.Sql) => tdb.db.prisma.$queryRaw(sql);
    await expect(call(Prisma.sql`SELECT * FROM cm_credit_add(${userId}::uuid, -5, 'grant', 'x', NULL, NULL, NULL)`)).rejects.toThrow(/positive amount/);
    await expect(call(Prisma.sql`SELECT * FROM cm_credit_take(${userId}::uuid, -5, 'spend', 'x', NULL, NULL, NULL, false)`)).rejects.toThrow(/positive amount/);
    await expect(call(Prisma.sql`SELECT * FROM cm_credit_add(${userId}::uuid, 5, 'refund', 'x', NULL, NULL, NULL)`)).rejects.toThrow(
      /not a kind of change that adds/,
    );
    await expect(call(Prisma.sql`SELECT * FROM cm_credit_take(${userId}::uuid, 5, 'purchase', 'x', NULL, NULL, NULL, true)`)).rejects.toThrow(
      /not a kind of change that takes/,
    );
    expect(await books(userId)).toEqual({ balance: 100n, ledger: 100n, broken: 0n, negative: 0n });
  });

  it('for any sequence of adds and takes the balance equals the ledger, follows the model, and is never negative', async () => {
    const op = fc.oneof(
      fc.record({
        op: fc.constant('add' as const),
        kind: fc.constantFrom<CreditAddKind>('purchase', 'grant', 'adjustment', 'spend_release', 'dispute_release'),
        n: fc.bigInt(0n, 5_000n),
      }),
      fc.record({
        op: fc.constantFrom('exact' as const, 'upTo' as const),
        kind: fc.constantFrom<CreditTakeKind>('spend', 'refund', 'adjustment', 'dispute_hold', 'dispute_loss'),
        n: fc.bigInt(0n, 6_000n),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const userId = await newUser();
        let model = 0n;
        for (const o of ops) {
          if (o.op === 'add') {
            const r = await tdb.db.prisma.$transaction((tx) => addCredits(tx, add(userId, o.kind), o.n));
            model += o.n;
            expect(r.balance).toBe(model);
          } else if (o.op === 'exact') {
            const r = await tdb.db.prisma.$transaction((tx) => tryTakeCredits(tx, takeChange(userId, o.kind), o.n));
            if (o.n <= model) {
              model -= o.n;
              expect(r?.balance).toBe(model);
            } else expect(r).toBeNull();
          } else {
            const r = await tdb.db.prisma.$transaction((tx) => takeCreditsUpTo(tx, takeChange(userId, o.kind), o.n));
            const expected = o.n < model ? o.n : model;
            model -= expected;
            expect(r).toMatchObject({ taken: expected, balance: model });
          }
        }
        expect(await books(userId)).toEqual({ balance: model, ledger: model, broken: 0n, negative: 0n });
      }),
      { numRuns: 25 },
    );
  });

  it('concurrent exact takes never overdraw: exactly as many succeed as the balance covers', async () => {
    const userId = await newUser();
    await tdb.db.prisma.$transaction((tx) => addCredits(tx, add(userId), 1_000n));
    // 40 takes of 70 against 1,000: 14 fit (980), 26 are refused.
    const results = await Promise.all(
      Array.from({ length: 40 }, () => tdb.db.prisma.$transaction((tx) => tryTakeCredits(tx, takeChange(userId), 70n), QUEUED)),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(14);
    expect(await books(userId)).toEqual({ balance: 20n, ledger: 20n, broken: 0n, negative: 0n });
  });

  it('concurrent takes up to an amount, with adds between them, never take more than was put in', async () => {
    const userId = await newUser();
    await tdb.db.prisma.$transaction((tx) => addCredits(tx, add(userId), 1_000n));
    const work = Array.from({ length: 40 }, (_, i) =>
      i % 4 === 0
        ? tdb.db.prisma.$transaction((tx) => addCredits(tx, add(userId, 'grant'), 50n), QUEUED).then(() => 0n)
        : tdb.db.prisma.$transaction((tx) => takeCreditsUpTo(tx, takeChange(userId, 'refund'), 90n), QUEUED).then((r) => r.taken),
    );
    const taken = (await Promise.all(work)).reduce((a, b) => a + b, 0n);
    // 1,000 + 10 × 50 = 1,500 put in, 30 × 90 = 2,700 asked for: what was taken and what is
    // left add up to what was put in (an add that came last may still be there).
    const after = await books(userId);
    expect(after.balance + taken).toBe(1_500n);
    expect(after).toEqual({ balance: after.balance, ledger: after.balance, broken: 0n, negative: 0n });
    expect(taken).toBeGreaterThanOrEqual(1_000n);
  });
});
