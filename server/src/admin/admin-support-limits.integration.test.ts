// What support (and admins) may do to credits and roles, over HTTP:
// - support's adjustments are capped per call (SUPPORT_MAX_ADJUSTMENT_TOKENS) and
//   per UTC day (SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY, the sum of absolute
//   values), and a burst of parallel calls cannot pass the daily cap;
// - nobody adjusts their own credits; support adjusts only accounts of role user;
// - admin.setRole gives and takes the support role, audited, admin only, never an
//   admin's role and never one's own.
// Every refusal is FORBIDDEN forbidden_role (or invalid_input / not_found) and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { person, type Person } from '../../test/helpers/admin.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

const PER_CALL = 5_000;
const PER_DAY = 20_000;
let server: TestServer;
let admin: Person;

beforeAll(async () => {
  server = await startTestServer({
    SUPPORT_MAX_ADJUSTMENT_TOKENS: String(PER_CALL),
    SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY: String(PER_DAY),
    DATABASE_POOL_MAX: '12',
  });
  admin = await person(server, 'admin');
});
afterAll(async () => {
  await server?.close();
});

const reason = 'goodwill after the outage';

async function ledgerOf(userId: string) {
  return server.deps.prisma.creditLedgerEntry.findMany({ where: { userId }, select: { deltaTokens: true, actorId: true } });
}

/** Tokens a support account adjusted today, as the counter has them. */
async function adjustedToday(actorId: string): Promise<bigint> {
  const rows = await server.deps.prisma.$queryRaw<{ used: bigint }[]>(Prisma.sql`
    SELECT used FROM quota_counters WHERE subject = ${`u:${actorId}`} AND kind = 'support_adjust_day'
       AND period_start = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`);
  return rows[0]?.used ?? 0n;
}

describe("support's daily adjustment cap", () => {
  it('sums the absolute adjustments of one support account per day and refuses past SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY', async () => {
    const support = await person(server, 'support');
    const [a, b] = [await person(server), await person(server)];
    // +5,000 and -5,000 both count: 4 calls reach 20,000.
    await support.b.trpc.admin.adjustCredits.mutate({ userId: a.id, tokens: PER_CALL, reason });
    await support.b.trpc.admin.adjustCredits.mutate({ userId: b.id, tokens: PER_CALL, reason });
    await support.b.trpc.admin.adjustCredits.mutate({ userId: a.id, tokens: -PER_CALL, reason });
    await support.b.trpc.admin.adjustCredits.mutate({ userId: b.id, tokens: PER_CALL - 1, reason });
    expect(await adjustedToday(support.id)).toBe(BigInt(PER_DAY - 1));

    const refused = await trpcError(support.b.trpc.admin.adjustCredits.mutate({ userId: a.id, tokens: 2, reason }));
    expect(refused).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403, reason: 'forbidden_role' });
    expect(refused.message).toBe(
      'Support can adjust at most 20,000 tokens a day and has 1 left today (the count starts again at midnight UTC); ask an admin for more.',
    );
    expect(Date.parse(String(refused.data.resetAt))).toBeGreaterThan(Date.now());
    // The last token still fits; then nothing does, in either direction.
    await support.b.trpc.admin.adjustCredits.mutate({ userId: a.id, tokens: 1, reason });
    expect(await trpcError(support.b.trpc.admin.adjustCredits.mutate({ userId: b.id, tokens: -1, reason }))).toMatchObject({ reason: 'forbidden_role' });
    expect((await ledgerOf(a.id)).length + (await ledgerOf(b.id)).length).toBe(5);
    expect(await adjustedToday(support.id)).toBe(BigInt(PER_DAY));

    // The cap is per support account, and admins have none.
    const other = await person(server, 'support');
    await expect(other.b.trpc.admin.adjustCredits.mutate({ userId: a.id, tokens: PER_CALL, reason })).resolves.toMatchObject({ appliedTokens: PER_CALL });
    for (let i = 0; i < 5; i++) await admin.b.trpc.admin.adjustCredits.mutate({ userId: b.id, tokens: 100_000, reason });
    expect(await adjustedToday(admin.id)).toBe(0n);
  });

  it('a take-back counts what it took, not what it asked for', async () => {
    const support = await person(server, 'support');
    const user = await person(server);
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 300, reason });
    expect(await support.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: -PER_CALL, reason })).toMatchObject({ appliedTokens: -300 });
    expect(await adjustedToday(support.id)).toBe(300n);
    expect(await support.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: -PER_CALL, reason })).toMatchObject({ appliedTokens: 0 });
    expect(await adjustedToday(support.id)).toBe(300n);
  });

  it('a parallel burst cannot pass it: exactly the calls that fit succeed, the rest are refused and write nothing', async () => {
    const support = await person(server, 'support');
    const users = await Promise.all(Array.from({ length: 6 }, () => person(server)));
    const audits = async () => server.deps.prisma.auditLogEntry.count({ where: { actorId: support.id } });
    // 30 calls of 1,000 at once against a 20,000 cap (the issue: 30 x +100k gave 3M).
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        support.b.trpc.admin.adjustCredits.mutate({ userId: users[i % users.length]!.id, tokens: 1_000, reason: `burst adjustment ${i}` }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refusals = await Promise.all(results.filter((r) => r.status === 'rejected').map((r) => trpcError(Promise.reject(r.reason))));
    expect(ok).toHaveLength(PER_DAY / 1_000);
    expect(refusals).toHaveLength(30 - PER_DAY / 1_000);
    for (const r of refusals) expect(r).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
    let given = 0n;
    for (const u of users) for (const entry of await ledgerOf(u.id)) given += entry.deltaTokens;
    expect(given).toBe(BigInt(PER_DAY));
    expect(await adjustedToday(support.id)).toBe(BigInt(PER_DAY));
    expect(await audits()).toBe(PER_DAY / 1_000);
  });
});

describe('whose credits may be adjusted', () => {
  it("support may not adjust its own, another support account's or an admin's credits", async () => {
    const support = await person(server, 'support');
    const colleague = await person(server, 'support');
    for (const [target, message] of [
      [support, 'You cannot adjust your own credits; ask an admin.'],
      [colleague, 'Support can adjust the credits of user accounts only, not of support or admin accounts; ask an admin.'],
      [admin, 'Support can adjust the credits of user accounts only, not of support or admin accounts; ask an admin.'],
    ] as const) {
      const err = await trpcError(support.b.trpc.admin.adjustCredits.mutate({ userId: target.id, tokens: 10, reason }));
      expect(err, target.email).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
      expect(err.message).toBe(message);
      expect(await ledgerOf(target.id)).toEqual([]);
    }
    expect(await adjustedToday(support.id)).toBe(0n);
    expect(await server.deps.prisma.auditLogEntry.count({ where: { actorId: support.id } })).toBe(0);
  });

  it('an admin may adjust anyone but themselves', async () => {
    const other = await person(server, 'admin');
    const support = await person(server, 'support');
    const err = await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: admin.id, tokens: 1_000_000, reason }));
    expect(err).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role', message: 'You cannot adjust your own credits; ask another admin.' });
    expect(await ledgerOf(admin.id)).toEqual([]);
    await expect(admin.b.trpc.admin.adjustCredits.mutate({ userId: other.id, tokens: 500, reason })).resolves.toMatchObject({ balanceTokens: 500 });
    await expect(admin.b.trpc.admin.adjustCredits.mutate({ userId: support.id, tokens: 700, reason })).resolves.toMatchObject({ balanceTokens: 700 });
    // ... and the other admin may adjust this one.
    await expect(other.b.trpc.admin.adjustCredits.mutate({ userId: admin.id, tokens: 900, reason })).resolves.toMatchObject({ balanceTokens: 900 });
  });
});

describe('admin.setRole', () => {
  it('an admin gives and takes the support role; it applies at once and each change is audited as user.set_role', async () => {
    const user = await person(server);
    expect(await trpcError(user.b.trpc.admin.users.query({}))).toMatchObject({ reason: 'forbidden_role' });

    expect(await admin.b.trpc.admin.setRole.mutate({ userId: user.id, role: 'support' })).toEqual({ userId: user.id, role: 'support', changed: true });
    // The support role opens the user list at once: newest first, the new supporter heads it.
    const listed = await user.b.trpc.admin.users.query({});
    expect(listed.items[0]).toMatchObject({ id: user.id, role: 'support' });
    expect((await user.b.trpc.auth.me.query())?.role).toBe('support');
    expect((await admin.b.trpc.admin.user.query({ userId: user.id })).user.role).toBe('support');

    // The same role again changes nothing and writes no audit row.
    expect(await admin.b.trpc.admin.setRole.mutate({ userId: user.id, role: 'support' })).toMatchObject({ changed: false });
    expect(await admin.b.trpc.admin.setRole.mutate({ userId: user.id, role: 'user' })).toMatchObject({ role: 'user', changed: true });
    expect(await trpcError(user.b.trpc.admin.users.query({}))).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });

    const log = await admin.b.trpc.admin.auditLog.query({ targetUserId: user.id, action: 'user.set_role' });
    expect(log.items.map((e) => [e.actorId, e.actorRole, e.before, e.after])).toEqual([
      [admin.id, 'admin', { role: 'support' }, { role: 'user' }],
      [admin.id, 'admin', { role: 'user' }, { role: 'support' }],
    ]);
  });

  it('is FORBIDDEN to support and users (no self-promotion), and writes nothing', async () => {
    const support = await person(server, 'support');
    const user = await person(server);
    const before = await server.deps.prisma.auditLogEntry.count();
    for (const [caller, target, role] of [
      [support, support, 'support'],
      [support, user, 'support'],
      [user, user, 'support'],
      [support, support, 'user'],
    ] as const) {
      expect(await trpcError(caller.b.trpc.admin.setRole.mutate({ userId: target.id, role }))).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
    }
    expect(await trpcError(server.browser().trpc.admin.setRole.mutate({ userId: user.id, role: 'support' }))).toMatchObject({ code: 'UNAUTHORIZED' });
    const roles = await server.deps.prisma.user.findMany({ where: { id: { in: [support.id, user.id] } }, select: { id: true, role: true } });
    expect(Object.fromEntries(roles.map((r) => [r.id, r.role]))).toEqual({ [support.id]: 'support', [user.id]: 'user' });
    expect(await server.deps.prisma.auditLogEntry.count()).toBe(before);
  });

  it("cannot change an admin's role or one's own, nor make an admin; guests and unknown ids are refused", async () => {
    const other = await person(server, 'admin');
    const own = await trpcError(admin.b.trpc.admin.setRole.mutate({ userId: admin.id, role: 'user' }));
    expect(own).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role', message: 'You cannot change your own role; ask another admin.' });
    const demote = await trpcError(admin.b.trpc.admin.setRole.mutate({ userId: other.id, role: 'support' }));
    expect(demote).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
    expect(demote.message).toMatch(/admin's role cannot be changed/);
    expect((await server.deps.prisma.user.findUniqueOrThrow({ where: { id: other.id }, select: { role: true } })).role).toBe('admin');

    const user = await person(server);
    const raw = await admin.b.fetch('/trpc/admin.setRole', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { userId: user.id, role: 'admin' } }),
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { json: { data: { reason: string } } } }).error.json.data.reason).toBe('invalid_input');
    expect((await server.deps.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { role: true } })).role).toBe('user');

    const guest = server.browser({ ip: '10.88.0.1' });
    await guest.trpc.auth.guest.mutate();
    const guestId = (await guest.trpc.auth.me.query())!.id;
    expect(await trpcError(admin.b.trpc.admin.setRole.mutate({ userId: guestId, role: 'support' }))).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
    });
    expect(await trpcError(admin.b.trpc.admin.setRole.mutate({ userId: '00000000-0000-4000-8000-000000000042', role: 'support' }))).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'not_found',
    });
  });
});

describe('an adjustment beside a refund of the same account', () => {
  // A refund's claw-back locks the credit account, then writes a payment row whose
  // foreign key takes a key-share lock on the user. An adjustment locks the user,
  // then the credit account. With the user locked FOR UPDATE the two deadlocked
  // (40P01, seen in CI's invariants run); the adjustment now takes FOR NO KEY
  // UPDATE, which a key-share lock does not wait for.
  it('does not deadlock with a transaction that holds the credit account and writes a row referencing the user', async () => {
    const user = await person(server);
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 1_000, reason });
    const prisma = server.deps.prisma;
    let ledgerInsert: 'ok' | string = 'not run';
    let adjusted: Promise<unknown> | undefined;
    await prisma
      .$transaction(
        async (tx) => {
          await tx.$queryRaw(Prisma.sql`SELECT balance_tokens FROM credit_accounts WHERE user_id = ${user.id}::uuid FOR UPDATE`);
          adjusted = admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 5, reason });
          // Wait until the adjustment holds the user and waits for the credit account (inside cm_credit_add).
          for (let i = 0; ; i++) {
            const waiting = await prisma.$queryRaw<{ n: bigint }[]>(Prisma.sql`
            SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%cm_credit_add%'`);
            if (waiting[0]!.n > 0n) break;
            if (i > 400) throw new Error('the adjustment never reached the credit account');
            await new Promise((r) => setTimeout(r, 25));
          }
          await tx.$executeRaw(Prisma.sql`SET LOCAL statement_timeout = '10s'`);
          try {
            await tx.$executeRaw(Prisma.sql`
            INSERT INTO notifications (user_id, kind, threshold, period_key, title, body)
            VALUES (${user.id}::uuid, 'stand-in', 0, 'now', 'refund stand-in', 'a row whose foreign key names the user')`);
            ledgerInsert = 'ok';
          } catch (err) {
            ledgerInsert = String(err);
          }
          throw new Error('roll back the stand-in');
        },
        { timeout: 30_000 },
      )
      .catch((err: unknown) => {
        if (!String(err).includes('roll back the stand-in')) throw err;
      });
    expect(ledgerInsert).toBe('ok');
    await expect(adjusted).resolves.toMatchObject({ appliedTokens: 5, balanceTokens: 1_005 });
  });
});
