// Who may call what on the admin router, over HTTP: no session is
// UNAUTHORIZED; a user is FORBIDDEN everywhere; support may read and adjust
// credits within SUPPORT_MAX_ADJUSTMENT_TOKENS; only an admin changes plans,
// roles, blocks, settings, exports or deletes. A refused call changes nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { person, type Person } from '../../test/helpers/admin.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
let target: Person;
const LIMIT = 5_000;

beforeAll(async () => {
  server = await startTestServer({ SUPPORT_MAX_ADJUSTMENT_TOKENS: String(LIMIT) });
  target = await person(server);
});
afterAll(async () => {
  await server?.close();
});

type Call = (b: TestBrowser) => Promise<unknown>;
const calls = (): Record<string, Call> => ({
  overview: (b) => b.trpc.admin.overview.query({ days: 7 }),
  reconciliation: (b) => b.trpc.admin.reconciliation.query({ days: 7 }),
  users: (b) => b.trpc.admin.users.query({}),
  user: (b) => b.trpc.admin.user.query({ userId: target.id }),
  settings: (b) => b.trpc.admin.settings.query(),
  planEconomics: (b) => b.trpc.admin.planEconomics.query(),
  auditLog: (b) => b.trpc.admin.auditLog.query({}),
  adjustCredits: (b) => b.trpc.admin.adjustCredits.mutate({ userId: target.id, tokens: 10, reason: 'goodwill after an outage' }),
  setPlan: (b) => b.trpc.admin.setPlan.mutate({ userId: target.id, plan: 'pro' }),
  setBlocked: (b) => b.trpc.admin.setBlocked.mutate({ userId: target.id, blocked: false }),
  setRole: (b) => b.trpc.admin.setRole.mutate({ userId: target.id, role: 'user' }),
  updateSettings: (b) => b.trpc.admin.updateSettings.mutate({ killSwitch: false }),
  exportUser: (b) => b.trpc.admin.exportUser.mutate({ userId: target.id }),
  deleteUser: (b) => b.trpc.admin.deleteUser.mutate({ userId: '00000000-0000-4000-8000-000000000000', confirm: true }),
});
const SUPPORT_ALLOWED = ['overview', 'reconciliation', 'users', 'user', 'settings', 'auditLog', 'adjustCredits'];

/** What each procedure answers when the role check lets it through (its contract's shape, not just "something"). */
const outcome = (): Record<string, unknown> => ({
  overview: expect.objectContaining({ days: 7, totals: expect.objectContaining({ today: expect.any(Object) }), byModel: expect.any(Array) }),
  reconciliation: expect.objectContaining({ configured: false, days: expect.any(Array), totals: expect.any(Object) }),
  users: expect.objectContaining({ items: expect.arrayContaining([expect.objectContaining({ id: target.id })]) }),
  user: expect.objectContaining({ user: expect.objectContaining({ id: target.id }), plan: expect.objectContaining({ id: expect.any(String) }) }),
  settings: expect.objectContaining({ killSwitch: false }),
  planEconomics: { plans: [expect.objectContaining({ plan: 'pro', worstCaseMicroUsd: 5_000_000 }), expect.objectContaining({ plan: 'enterprise' })] },
  auditLog: expect.objectContaining({ items: expect.any(Array) }),
  adjustCredits: expect.objectContaining({ appliedTokens: 10, requestedTokens: 10, balanceTokens: expect.any(Number) }),
  setPlan: { userId: target.id, plan: 'pro' },
  setBlocked: expect.objectContaining({ userId: target.id, blocked: false }),
  setRole: expect.objectContaining({ userId: target.id, role: 'user' }),
  updateSettings: expect.objectContaining({ killSwitch: false }),
  exportUser: expect.objectContaining({ profile: expect.objectContaining({ id: target.id }), conversations: expect.any(Array) }),
});

async function auditCount() {
  return server.deps.prisma.auditLogEntry.count();
}

describe('admin procedures by role', () => {
  it('without a session every one is UNAUTHORIZED', async () => {
    const b = server.browser();
    for (const [name, call] of Object.entries(calls())) {
      expect(await trpcError(call(b)), name).toMatchObject({ code: 'UNAUTHORIZED', reason: 'unauthenticated' });
    }
  });

  it('a user gets FORBIDDEN forbidden_role on every one, and nothing is written', async () => {
    const user = await person(server, 'user');
    const before = await auditCount();
    for (const [name, call] of Object.entries(calls())) {
      expect(await trpcError(call(user.b)), name).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
    }
    expect(await auditCount()).toBe(before);
    expect(await server.deps.prisma.creditLedgerEntry.count({ where: { userId: target.id } })).toBe(0);
  });

  it('a guest is FORBIDDEN too', async () => {
    const guest = server.browser({ ip: '10.99.0.1' });
    await guest.trpc.auth.guest.mutate();
    expect(await trpcError(guest.trpc.admin.overview.query({ days: 1 }))).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
  });

  it('support may read and adjust credits, and is FORBIDDEN on the admin-only procedures', async () => {
    const support = await person(server, 'support');
    for (const [name, call] of Object.entries(calls())) {
      if (SUPPORT_ALLOWED.includes(name)) {
        await expect(call(support.b), name).resolves.toEqual(outcome()[name]);
      } else {
        expect(await trpcError(call(support.b)), name).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
      }
    }
    // The refused ones left the target as it was.
    const user = await server.deps.prisma.user.findUniqueOrThrow({ where: { id: target.id }, select: { planId: true, deletedAt: true } });
    expect(user).toEqual({ planId: 'free', deletedAt: null });
  });

  it('support and users are FORBIDDEN to set the global dollar caps, and nothing changes', async () => {
    const settings = () =>
      server.deps.prisma.appSettings.findUnique({ where: { id: 1 }, select: { maxCostPerDayMicroUsd: true, maxCostPerMonthMicroUsd: true } });
    const before = { settings: await settings(), audit: await auditCount() };
    for (const role of ['support', 'user'] as const) {
      const someone = await person(server, role);
      for (const input of [{ maxCostPerDayMicroUsd: 1 }, { maxCostPerMonthMicroUsd: 0 }, { maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null }]) {
        const error = await trpcError(someone.b.trpc.admin.updateSettings.mutate(input));
        expect(error, `${role} ${JSON.stringify(input)}`).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
      }
    }
    expect({ settings: await settings(), audit: await auditCount() }).toEqual(before);
  });

  it('support cannot adjust by more than SUPPORT_MAX_ADJUSTMENT_TOKENS either way; an admin can', async () => {
    const support = await person(server, 'support');
    const admin = await person(server, 'admin');
    const someone = await person(server);
    const ledger = () => server.deps.prisma.creditLedgerEntry.count({ where: { userId: someone.id } });
    const audits = () => server.deps.prisma.auditLogEntry.count({ where: { targetUserId: someone.id } });

    await expect(support.b.trpc.admin.adjustCredits.mutate({ userId: someone.id, tokens: LIMIT, reason: 'at the support limit' })).resolves.toMatchObject({
      balanceTokens: LIMIT,
    });
    for (const tokens of [LIMIT + 1, -(LIMIT + 1), 1_000_000]) {
      const err = await trpcError(support.b.trpc.admin.adjustCredits.mutate({ userId: someone.id, tokens, reason: 'over the support limit' }));
      expect(err, String(tokens)).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
      expect(err.message).toContain(LIMIT.toLocaleString('en-US'));
    }
    expect(await ledger()).toBe(1);
    expect(await audits()).toBe(1);
    await expect(admin.b.trpc.admin.adjustCredits.mutate({ userId: someone.id, tokens: LIMIT + 1, reason: 'admin can go further' })).resolves.toMatchObject({
      balanceTokens: 2 * LIMIT + 1,
    });
    expect(await ledger()).toBe(2);
  });

  it('an admin may call every one', async () => {
    const admin = await person(server, 'admin');
    for (const [name, call] of Object.entries(calls())) {
      if (name === 'deleteUser') {
        // A made-up id: reaching the service proves the role check passed.
        expect(await trpcError(call(admin.b))).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
      } else {
        await expect(call(admin.b), name).resolves.toEqual(outcome()[name]);
      }
    }
  });

  it('a blocked admin is refused with reason blocked', async () => {
    const admin = await person(server, 'admin');
    await server.deps.prisma.user.update({ where: { id: admin.id }, data: { blockedAt: new Date() } });
    expect(await trpcError(admin.b.trpc.admin.overview.query({ days: 1 }))).toMatchObject({ code: 'FORBIDDEN', reason: 'blocked' });
  });

  it('the role is read from the database on every request: a demoted admin loses access at once', async () => {
    const admin = await person(server, 'admin');
    await expect(admin.b.trpc.admin.settings.query()).resolves.toEqual(expect.objectContaining({ killSwitch: false }));
    await server.deps.prisma.user.update({ where: { id: admin.id }, data: { role: 'user' } });
    expect(await trpcError(admin.b.trpc.admin.settings.query())).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
  });

  it('generated input never makes an admin procedure answer 5xx', async () => {
    const admin = await person(server, 'admin');
    const queries = ['overview', 'reconciliation', 'users', 'user', 'settings', 'planEconomics', 'auditLog'];
    const mutations = ['adjustCredits', 'setPlan', 'setBlocked', 'setRole', 'updateSettings', 'exportUser', 'deleteUser'];
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          userId: fc.oneof(fc.uuid(), fc.string(), fc.constant(target.id)),
          tokens: fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer(), fc.double(), fc.string()),
          reason: fc.oneof(fc.string({ unit: 'binary', minLength: 10 }), fc.constant('a reason with \u0000 in it')),
          days: fc.oneof(fc.integer({ min: -5, max: 40 }), fc.string()),
          cursor: fc.oneof(fc.string(), fc.base64String()),
          query: fc.oneof(fc.string({ unit: 'binary' }), fc.constant('a\u0000b')),
          plan: fc.oneof(fc.constantFrom('pro', 'free', 'guest'), fc.string({ unit: 'binary' })),
          role: fc.oneof(fc.constantFrom('user', 'support', 'admin'), fc.string({ unit: 'binary' })),
          blocked: fc.anything(),
          confirm: fc.anything(),
          maxTokensPerDay: fc.oneof(fc.integer(), fc.constant(null), fc.double()),
          maxCostPerDayMicroUsd: fc.oneof(fc.integer(), fc.constant(null), fc.double(), fc.string()),
          maxCostPerMonthMicroUsd: fc.oneof(fc.integer(), fc.constant(null), fc.double(), fc.bigInt().map(String)),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...queries, ...mutations), value, async (procedure, input) => {
        const body = JSON.stringify({ json: input });
        const response = queries.includes(procedure)
          ? await admin.b.fetch(`/trpc/admin.${procedure}?input=${encodeURIComponent(body)}`)
          : await admin.b.fetch(`/trpc/admin.${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect(response.status, `${procedure} ${body}`).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    await server.deps.prisma.appSettings.update({
      where: { id: 1 },
      data: { killSwitch: false, maxTokensPerDay: null, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null },
    });
  });
});
