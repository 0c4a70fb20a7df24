// Who may call what on the admin router, over HTTP: no session is
// UNAUTHORIZED; a user is FORBIDDEN everywhere; support may read and adjust
// credits within SUPPORT_MAX_ADJUSTMENT_TOKENS; only an admin changes plans,
// roles, blocks, settings, exports or deletes. A refused call changes nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { person, type Person } from './helpers/admin.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from './helpers/server.ts';

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
        await expect(call(support.b), name).resolves.toBeDefined();
      } else {
        expect(await trpcError(call(support.b)), name).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
      }
    }
    // The refused ones left the target as it was.
    const user = await server.deps.prisma.user.findUniqueOrThrow({ where: { id: target.id }, select: { planId: true, deletedAt: true } });
    expect(user).toEqual({ planId: 'free', deletedAt: null });
  });

  it('support cannot adjust by more than SUPPORT_MAX_ADJUSTMENT_TOKENS either way; an admin can', async () => {
    const support = await person(server, 'support');
    const admin = await person(server, 'admin');
    const someone = await person(server);
    const ledger = () => server.deps.prisma.creditLedgerEntry.count({ where: { userId: someone.id } });
    const audits = () => server.deps.prisma.auditLogEntry.count({ where: { targetUserId: someone.id } });

    await expect(support.b.trpc.admin.adjustCredits.mutate({ userId: someone.id, tokens: LIMIT, reason: 'at the support limit' })).resolves.toMatchObject({ balanceTokens: LIMIT });
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
        await expect(call(admin.b), name).resolves.toBeDefined();
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
    await expect(admin.b.trpc.admin.settings.query()).resolves.toBeDefined();
    await server.deps.prisma.user.update({ where: { id: admin.id }, data: { role: 'user' } });
    expect(await trpcError(admin.b.trpc.admin.settings.query())).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
  });

  it('generated input never makes an admin procedure answer 5xx', async () => {
    const admin = await person(server, 'admin');
    const queries = ['overview', 'reconciliation', 'users', 'user', 'settings', 'auditLog'];
    const mutations = ['adjustCredits', 'setPlan', 'setBlocked', 'setRole', 'updateSettings', 'exportUser', 'deleteUser'];
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record({
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
      }, { requiredKeys: [] }),
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
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: false, maxTokensPerDay: null } });
  });
});
