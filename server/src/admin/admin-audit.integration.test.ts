// The audit log and the actions it records: every admin and support action is
// one audit row written in the action's own transaction; the table (and the
// credit ledger) refuses UPDATE, DELETE and TRUNCATE even from direct SQL. Credit adjustments go
// through the credit ledger (one immutable entry with the actor; the balance
// always equals the ledger's sum, never below zero).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { COUNTER, GLOBAL_SUBJECT, read } from '../metering/counters.ts';
import { dayStart, monthStart } from '../metering/periods.ts';
import { person, type Person } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
let admin: Person;
let support: Person;

beforeAll(async () => {
  // A monthly dollar cap from the environment, far above what these tests spend: admin.settings reports it as the default.
  server = await startTestServer({ MAX_COST_PER_MONTH_USD: '1000' });
  admin = await person(server, 'admin');
  support = await person(server, 'support');
});
afterAll(async () => {
  await server?.close();
});

async function ledgerMatchesBalance(userId: string): Promise<bigint> {
  const [row] = await server.deps.prisma.$queryRaw<{ balance: bigint | null; sum: bigint; min: bigint | null }[]>(Prisma.sql`
    SELECT (SELECT balance_tokens FROM credit_accounts WHERE user_id = ${userId}::uuid) AS balance,
           (SELECT COALESCE(SUM(delta_tokens), 0) FROM credit_ledger WHERE user_id = ${userId}::uuid)::bigint AS sum,
           (SELECT MIN(balance_after) FROM credit_ledger WHERE user_id = ${userId}::uuid) AS min`);
  expect(row!.balance ?? 0n).toBe(row!.sum);
  expect((row!.min ?? 0n) >= 0n).toBe(true);
  return row!.sum;
}

describe('admin.adjustCredits', () => {
  it('writes one ledger entry with the actor and the reason, and one audit row; the user sees the balance', async () => {
    const user = await person(server);
    const result = await support.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 2_500, reason: '  refund for the outage on Monday  ' });
    expect(result).toMatchObject({ balanceTokens: 2_500, appliedTokens: 2_500, requestedTokens: 2_500 });
    const entries = await server.deps.prisma.creditLedgerEntry.findMany({ where: { userId: user.id } });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      kind: 'adjustment',
      deltaTokens: 2_500n,
      balanceAfter: 2_500n,
      actorId: support.id,
      reason: 'refund for the outage on Monday',
    });
    expect(result.ledgerEntryId).toBe(entries[0]!.id.toString());
    expect(await ledgerMatchesBalance(user.id)).toBe(2_500n);

    const audit = await server.deps.prisma.auditLogEntry.findMany({ where: { targetUserId: user.id } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actorId: support.id,
      actorRole: 'support',
      action: 'credits.adjust',
      reason: 'refund for the outage on Monday',
      before: { balanceTokens: 0 },
      after: { balanceTokens: 2_500, requestedTokens: 2_500, appliedTokens: 2_500 },
    });
    expect((await user.b.trpc.usage.summary.query()).credits.tokens).toBe(2_500);
  });

  it('a negative adjustment never goes below zero: the ledger records what was taken', async () => {
    const user = await person(server);
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 300, reason: 'a small goodwill grant' });
    const taken = await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: -1_000, reason: 'claw back the goodwill grant' });
    expect(taken).toMatchObject({ balanceTokens: 0, appliedTokens: -300, requestedTokens: -1_000 });
    const entries = await server.deps.prisma.creditLedgerEntry.findMany({ where: { userId: user.id }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.deltaTokens, e.balanceAfter, e.actorId])).toEqual([
      [300n, 300n, admin.id],
      [-300n, 0n, admin.id],
    ]);
    // Nothing left to take: no ledger row, still an audit row saying so.
    const nothing = await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: -5, reason: 'try to take more back' });
    expect(nothing).toMatchObject({ balanceTokens: 0, appliedTokens: 0, ledgerEntryId: null });
    expect(await server.deps.prisma.creditLedgerEntry.count({ where: { userId: user.id } })).toBe(2);
    expect(await server.deps.prisma.auditLogEntry.count({ where: { targetUserId: user.id, action: 'credits.adjust' } })).toBe(3);
    expect(await ledgerMatchesBalance(user.id)).toBe(0n);
  });

  it('concurrent adjustments keep the balance equal to the ledger sum', async () => {
    const user = await person(server);
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 50_000, reason: 'starting balance for the test' });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: i % 2 ? 1_000 : -1_500, reason: `concurrent adjustment ${i}` }),
      ),
    );
    expect(await ledgerMatchesBalance(user.id)).toBe(50_000n + 10n * 1_000n - 10n * 1_500n);
  });

  it('refuses a short reason, zero tokens and unknown or deleted users', async () => {
    const user = await person(server);
    expect(await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 5, reason: 'too short' }))).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
    });
    expect(await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 5, reason: '         x         ' }))).toMatchObject({
      reason: 'invalid_input',
    });
    expect(await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 0, reason: 'zero is not an adjustment' }))).toMatchObject({
      reason: 'invalid_input',
    });
    expect(await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 1.5, reason: 'fractions are not tokens' }))).toMatchObject({
      reason: 'invalid_input',
    });
    expect(
      await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: '00000000-0000-4000-8000-000000000001', tokens: 5, reason: 'nobody by that id' })),
    ).toMatchObject({ code: 'NOT_FOUND' });
    expect(await server.deps.prisma.auditLogEntry.count({ where: { targetUserId: user.id } })).toBe(0);
  });
});

describe('plans, blocking and settings', () => {
  it('setPlan and setBlocked change the user and are audited with before and after', async () => {
    const user = await person(server);
    await admin.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'pro' });
    expect((await user.b.trpc.auth.me.query())?.plan).toBe('pro');
    expect(await trpcError(admin.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'platinum' }))).toMatchObject({ reason: 'invalid_input' });
    expect(await trpcError(admin.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'guest' }))).toMatchObject({ reason: 'invalid_input' });

    await admin.b.trpc.admin.setBlocked.mutate({ userId: user.id, blocked: true });
    expect(await trpcError(user.b.trpc.usage.summary.query())).toMatchObject({ code: 'FORBIDDEN', reason: 'blocked' });
    await admin.b.trpc.admin.setBlocked.mutate({ userId: user.id, blocked: false });
    await expect(user.b.trpc.usage.summary.query()).resolves.toMatchObject({ plan: 'pro' });

    const log = await admin.b.trpc.admin.auditLog.query({ targetUserId: user.id });
    expect(log.items.map((e) => [e.action, e.before, e.after, e.actorId, e.actorEmail])).toEqual([
      ['user.set_blocked', { blocked: true }, { blocked: false }, admin.id, admin.email],
      ['user.set_blocked', { blocked: false }, { blocked: true }, admin.id, admin.email],
      ['user.set_plan', { plan: 'free' }, { plan: 'pro' }, admin.id, admin.email],
    ]);
    expect(await trpcError(admin.b.trpc.admin.setBlocked.mutate({ userId: admin.id, blocked: true }))).toMatchObject({ reason: 'invalid_input' });
  });

  it('updateSettings drives the kill switch and the daily cap of the chat path, audited', async () => {
    const user = await person(server);
    const settings = await admin.b.trpc.admin.updateSettings.mutate({ killSwitch: true });
    expect(settings).toMatchObject({ killSwitch: true, maxTokensPerDay: null });
    expect(await trpcError(send(user.b, { content: 'hello?' }))).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'kill_switch' });
    await admin.b.trpc.admin.updateSettings.mutate({ killSwitch: false, maxTokensPerDay: 1 });
    expect(await trpcError(send(user.b, { content: 'hello?' }))).toMatchObject({ reason: 'global_cap' });
    const back = await admin.b.trpc.admin.updateSettings.mutate({ maxTokensPerDay: null });
    expect(back).toMatchObject({ killSwitch: false, maxTokensPerDay: null, effectiveMaxTokensPerDay: server.deps.env.MAX_TOKENS_PER_DAY });
    await expect(send(user.b, { content: 'hello?' })).resolves.toMatchObject({ done: expect.anything() });
    expect(await trpcError(admin.b.trpc.admin.updateSettings.mutate({}))).toMatchObject({ reason: 'invalid_input' });

    const log = await support.b.trpc.admin.auditLog.query({ action: 'settings.update', limit: 3 });
    const caps = { maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null };
    expect(log.items.map((e) => [e.before, e.after])).toEqual([
      [
        { killSwitch: false, maxTokensPerDay: 1, ...caps },
        { killSwitch: false, maxTokensPerDay: null, ...caps },
      ],
      [
        { killSwitch: true, maxTokensPerDay: null, ...caps },
        { killSwitch: false, maxTokensPerDay: 1, ...caps },
      ],
      [
        { killSwitch: false, maxTokensPerDay: null, ...caps },
        { killSwitch: true, maxTokensPerDay: null, ...caps },
      ],
    ]);
  });

  it("updateSettings sets the global dollar caps (null: the environment's), which drive the chat path; settings reports what is used; audited", async () => {
    const user = await person(server);
    const month = 1_000 * 1_000_000;
    const initial = await support.b.trpc.admin.settings.query();
    expect(initial).toMatchObject({
      maxCostPerDayMicroUsd: null,
      defaultMaxCostPerDayMicroUsd: null,
      effectiveMaxCostPerDayMicroUsd: null,
      maxCostPerMonthMicroUsd: null,
      defaultMaxCostPerMonthMicroUsd: month,
      effectiveMaxCostPerMonthMicroUsd: month,
    });

    // A priced reply counts on both counters, and settings reads them.
    await send(user.b, { content: 'what does this cost?' });
    const now = new Date();
    const costToday = Number(await read(server.deps.prisma, GLOBAL_SUBJECT, COUNTER.globalCostDay, dayStart(now)));
    const costMonth = Number(await read(server.deps.prisma, GLOBAL_SUBJECT, COUNTER.globalCostMonth, monthStart(now)));
    expect(costToday).toBeGreaterThan(0);
    const used = await support.b.trpc.admin.settings.query();
    expect(used).toMatchObject({ costUsedTodayMicroUsd: costToday, costUsedThisMonthMicroUsd: costMonth });
    expect(new Date(used.costDayResetAt).getTime()).toBeGreaterThan(now.getTime());
    expect(new Date(used.costMonthResetAt).getTime()).toBeGreaterThan(now.getTime());

    // A day cap already reached refuses the next reply, naming it.
    const capped = await admin.b.trpc.admin.updateSettings.mutate({ maxCostPerDayMicroUsd: costToday });
    expect(capped).toMatchObject({ maxCostPerDayMicroUsd: costToday, effectiveMaxCostPerDayMicroUsd: costToday, maxCostPerMonthMicroUsd: null });
    const refusedDay = await trpcError(send(user.b, { content: 'and now?' }));
    expect(refusedDay).toMatchObject({ reason: 'global_cap' });
    expect(refusedDay.data.limit).toBe('globalCostPerDay');

    // The month cap replaces the environment's; the day cap goes back to none.
    const monthly = await admin.b.trpc.admin.updateSettings.mutate({ maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: costMonth });
    expect(monthly).toMatchObject({ maxCostPerDayMicroUsd: null, effectiveMaxCostPerDayMicroUsd: null, effectiveMaxCostPerMonthMicroUsd: costMonth });
    const refusedMonth = await trpcError(send(user.b, { content: 'and now?' }));
    expect(refusedMonth.data.limit).toBe('globalCostPerMonth');

    // Leaving a field out keeps it; null gives the environment's back, and chat goes on.
    await admin.b.trpc.admin.updateSettings.mutate({ killSwitch: false });
    expect(await support.b.trpc.admin.settings.query()).toMatchObject({ maxCostPerMonthMicroUsd: costMonth });
    const back = await admin.b.trpc.admin.updateSettings.mutate({ maxCostPerMonthMicroUsd: null });
    expect(back).toMatchObject({ maxCostPerMonthMicroUsd: null, effectiveMaxCostPerMonthMicroUsd: month });
    await expect(send(user.b, { content: 'and now?' })).resolves.toMatchObject({ done: expect.anything() });

    // Only whole, non-negative micro-USD (or null).
    for (const bad of [-1, 1.5, '5']) {
      const error = await trpcError(admin.b.trpc.admin.updateSettings.mutate({ maxCostPerDayMicroUsd: bad as number }));
      expect(error, String(bad)).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    }

    const log = await support.b.trpc.admin.auditLog.query({ action: 'settings.update', limit: 4 });
    const base = { killSwitch: false, maxTokensPerDay: null };
    expect(log.items.map((e) => [e.actorId, e.before, e.after])).toEqual([
      [
        admin.id,
        { ...base, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: costMonth },
        { ...base, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null },
      ],
      [
        admin.id,
        { ...base, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: costMonth },
        { ...base, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: costMonth },
      ],
      [
        admin.id,
        { ...base, maxCostPerDayMicroUsd: costToday, maxCostPerMonthMicroUsd: null },
        { ...base, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: costMonth },
      ],
      [
        admin.id,
        { ...base, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null },
        { ...base, maxCostPerDayMicroUsd: costToday, maxCostPerMonthMicroUsd: null },
      ],
    ]);
  });
});

describe('audit_log', () => {
  it('refuses UPDATE, DELETE and TRUNCATE even with direct SQL', async () => {
    const user = await person(server);
    await admin.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'pro' });
    const row = await server.deps.prisma.auditLogEntry.findFirstOrThrow({ where: { targetUserId: user.id } });
    const prisma = server.deps.prisma;
    await expect(prisma.$executeRawUnsafe(`UPDATE audit_log SET action = 'nothing' WHERE id = ${row.id}`)).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`UPDATE audit_log SET after = NULL`)).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`DELETE FROM audit_log WHERE id = ${row.id}`)).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    await expect(prisma.auditLogEntry.deleteMany({})).rejects.toThrow();
    expect(await prisma.auditLogEntry.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
    // And the credit ledger, for good measure.
    await expect(prisma.$executeRawUnsafe(`DELETE FROM credit_ledger`)).rejects.toThrow(/append-only/);
  });

  it('credit_ledger refuses TRUNCATE too, like audit_log (whoever runs it, the table owner included)', async () => {
    const user = await person(server);
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 123, reason: 'a row that must survive' });
    const prisma = server.deps.prisma;
    const rows = await prisma.creditLedgerEntry.count();
    expect(rows).toBeGreaterThan(0);
    await expect(prisma.$executeRawUnsafe(`TRUNCATE credit_ledger`)).rejects.toThrow(/credit_ledger is append-only: TRUNCATE refused/);
    await expect(prisma.$executeRawUnsafe(`TRUNCATE credit_ledger, credit_accounts`)).rejects.toThrow(/append-only/);
    expect(await prisma.creditLedgerEntry.count()).toBe(rows);
    expect(await ledgerMatchesBalance(user.id)).toBe(123n);
  });

  it('the action and its audit row commit together: either both or neither', async () => {
    const user = await person(server);
    const prisma = server.deps.prisma;
    const before = await prisma.auditLogEntry.count();
    // The action fails (a constraint refuses the plan): no audit row.
    await prisma.$executeRawUnsafe(`ALTER TABLE users ADD CONSTRAINT test_no_enterprise CHECK (plan_id <> 'enterprise') NOT VALID`);
    try {
      expect((await trpcError(admin.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'enterprise' }))).code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await prisma.$executeRawUnsafe(`ALTER TABLE users DROP CONSTRAINT test_no_enterprise`);
    }
    expect(await prisma.auditLogEntry.count()).toBe(before);
    // The audit row fails (written after the change): the change is rolled back.
    await prisma.$executeRawUnsafe(`ALTER TABLE audit_log ADD CONSTRAINT test_no_plan_audit CHECK (action <> 'user.set_plan') NOT VALID`);
    try {
      expect((await trpcError(admin.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'pro' }))).code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await prisma.$executeRawUnsafe(`ALTER TABLE audit_log DROP CONSTRAINT test_no_plan_audit`);
    }
    expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { planId: true } })).toEqual({ planId: 'free' });
  });

  it('lists newest first with a cursor, and filters by actor and action', async () => {
    const user = await person(server);
    const other = await person(server, 'admin');
    for (let i = 0; i < 5; i++) await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 10 + i, reason: `paging test entry ${i}` });
    await other.b.trpc.admin.setPlan.mutate({ userId: user.id, plan: 'pro' });

    const first = await support.b.trpc.admin.auditLog.query({ targetUserId: user.id, limit: 4 });
    expect(first.items).toHaveLength(4);
    expect(first.items[0]).toMatchObject({ action: 'user.set_plan', actorId: other.id, targetEmail: user.email });
    const second = await support.b.trpc.admin.auditLog.query({ targetUserId: user.id, limit: 4, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    const ids = [...first.items, ...second.items].map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : 1)));

    const byOther = await support.b.trpc.admin.auditLog.query({ actorId: other.id });
    expect(byOther.items.map((e) => e.action)).toEqual(['user.set_plan']);
    const adjustments = await support.b.trpc.admin.auditLog.query({ action: 'credits.adjust', targetUserId: user.id });
    expect(adjustments.items.map((e) => e.reason)).toEqual([4, 3, 2, 1, 0].map((i) => `paging test entry ${i}`));
    expect(await trpcError(support.b.trpc.admin.auditLog.query({ cursor: 'not-a-cursor' }))).toMatchObject({ reason: 'invalid_input' });
  });
});

describe('admin.users and admin.user', () => {
  it('finds users by e-mail substring or id, newest first, page by page', async () => {
    const tag = `find${Date.now()}`;
    const made: Person[] = [];
    for (let i = 0; i < 5; i++) made.push(await person(server, 'user', { email: `${tag}-${i}@example.org` }));
    const page1 = await support.b.trpc.admin.users.query({ query: tag.toUpperCase(), limit: 3 });
    expect(page1.items.map((u) => u.email)).toEqual([4, 3, 2].map((i) => `${tag}-${i}@example.org`));
    const page2 = await support.b.trpc.admin.users.query({ query: tag, limit: 3, cursor: page1.nextCursor! });
    expect(page2.items.map((u) => u.email)).toEqual([1, 0].map((i) => `${tag}-${i}@example.org`));
    expect(page2.nextCursor).toBeNull();
    const byId = await support.b.trpc.admin.users.query({ query: made[2]!.id });
    expect(byId.items.map((u) => u.id)).toEqual([made[2]!.id]);
    const byPrefix = await support.b.trpc.admin.users.query({ query: `${tag}-3@` });
    expect(byPrefix.items).toHaveLength(1);
    expect(byPrefix.items[0]).toMatchObject({ plan: 'free', role: 'user', blocked: false, deleted: false, creditTokens: 0 });
  });

  it('shows one user: plan, usage, recent usage, ledger with actors, sessions (without their ids)', async () => {
    const user = await person(server);
    await send(user.b, { content: 'count my usage' });
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 777, reason: 'for the detail view' });
    const detail = await support.b.trpc.admin.user.query({ userId: user.id });
    expect(detail.user).toMatchObject({ id: user.id, email: user.email, plan: 'free', blocked: false });
    expect(detail.plan.id).toBe('free');
    expect(detail.summary.credits.tokens).toBe(777);
    expect(detail.summary.used.messagesToday).toBe(1);
    expect(detail.recentUsage).toHaveLength(1);
    expect(detail.totals.last30.requests).toBe(1);
    expect(detail.totals.lifetime.tokens).toBe(detail.recentUsage[0]!.promptTokens + detail.recentUsage[0]!.completionTokens);
    expect(detail.ledger[0]).toMatchObject({ deltaTokens: 777, kind: 'adjustment', actorId: admin.id, actorEmail: admin.email, reason: 'for the detail view' });
    expect(detail.sessions).toHaveLength(1);
    expect(detail.sessions[0]).not.toHaveProperty('id');
    expect(await trpcError(support.b.trpc.admin.user.query({ userId: '00000000-0000-4000-8000-000000000002' }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});
