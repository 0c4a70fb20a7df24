// A person's data: account.exportData hands over everything we hold;
// account.deleteAccount (and admin.deleteUser) remove the personal data but
// keep the anonymised usage billing and the totals need.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { person, rawAndRollUp, type Person } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
let admin: Person;

beforeAll(async () => {
  server = await startTestServer();
  admin = await person(server, 'admin');
});
afterAll(async () => {
  await server?.close();
});

/** A signed-up user with two messages in one conversation and some credits. */
async function activeUser(password = 'correct horse battery staple') {
  const b = server.browser({ ip: `10.66.0.${Math.floor(Math.random() * 250)}` });
  const email = `gdpr-${Math.random().toString(36).slice(2)}@example.com`;
  const { user } = await b.trpc.auth.signUp.mutate({ email, password });
  const first = await send(b, { content: 'Tell me about rivers' });
  await send(b, { content: 'And lakes?', conversationId: first.start!.conversationId });
  await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 1_000, reason: 'welcome credits for testing' });
  return { b, id: user.id, email, password, conversationId: first.start!.conversationId };
}

async function grandTotals() {
  const [row] = await server.deps.prisma.$queryRaw<{ requests: bigint; tokens: bigint; cost: bigint; events: bigint }[]>(Prisma.sql`
    SELECT (SELECT sum(requests) FROM usage_daily)::bigint AS requests,
           (SELECT sum(prompt_tokens + completion_tokens) FROM usage_daily)::bigint AS tokens,
           (SELECT sum(cost_micro_usd) FROM usage_daily)::bigint AS cost,
           (SELECT count(*) FROM usage_events)::bigint AS events`);
  return row!;
}

describe('account.exportData', () => {
  it("hands over the person's profile, conversations with messages, usage, ledger and sessions", async () => {
    const u = await activeUser();
    await u.b.trpc.preferences.update.mutate({ theme: 'dark', voice: 'en-us' });
    const data = await u.b.trpc.account.exportData.query();
    expect(data.profile).toMatchObject({ id: u.id, email: u.email, plan: 'free', isGuest: false });
    expect(data.preferences).toMatchObject({ alertEmails: true, theme: 'dark', defaultModel: null, voice: 'en-us', autoPlay: false });
    expect(data.conversations).toHaveLength(1);
    expect(data.conversations[0]!.messages.map((m) => [m.role, m.content.length > 0])).toEqual([
      ['user', true],
      ['assistant', true],
      ['user', true],
      ['assistant', true],
    ]);
    expect(data.conversations[0]!.messages[0]!.content).toBe('Tell me about rivers');
    expect(data.usageEvents).toHaveLength(2);
    expect(data.credits).toMatchObject({ balanceTokens: 1_000, ledger: [{ deltaTokens: 1_000, kind: 'adjustment', reason: 'welcome credits for testing' }] });
    expect(data.sessions).toHaveLength(1);
    // Nothing secret: no password hash, no session ids.
    expect(JSON.stringify(data)).not.toMatch(/password|secret_?hash|argon2/i);
    expect(data.sessions[0]).not.toHaveProperty('id');
  });

  it('an admin can export a user, and that access is audited', async () => {
    const u = await activeUser();
    const data = await admin.b.trpc.admin.exportUser.mutate({ userId: u.id });
    expect(data.profile.id).toBe(u.id);
    const log = await admin.b.trpc.admin.auditLog.query({ targetUserId: u.id, action: 'user.export' });
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({ actorId: admin.id, after: { conversations: 1, usageEvents: 2 } });
  });
});

describe('account.deleteAccount', () => {
  it('removes the personal data and keeps the anonymised usage totals', async () => {
    const u = await activeUser();
    const other = await activeUser();
    const prisma = server.deps.prisma;
    await u.b.trpc.preferences.update.mutate({ theme: 'light', defaultModel: 'gpt-4o-mini' });
    const totals = await grandTotals();
    const overviewBefore = await server.deps.overview.overview(30);

    expect(await trpcError(u.b.trpc.account.deleteAccount.mutate({ confirm: 'yes' as 'DELETE' }))).toMatchObject({ reason: 'invalid_input' });
    const result = await u.b.trpc.account.deleteAccount.mutate({ confirm: 'DELETE' });
    expect(result).toMatchObject({ ok: true, conversations: 1, messages: 4, sessions: 1, usageEventsAnonymised: 2 });

    // The person is gone...
    const row = await prisma.user.findUniqueOrThrow({ where: { id: u.id } });
    expect(row).toMatchObject({ email: null, passwordHash: null, role: 'user' });
    expect(row.deletedAt).not.toBeNull();
    expect(row.blockedAt).not.toBeNull();
    expect(await prisma.session.count({ where: { userId: u.id } })).toBe(0);
    expect(await prisma.message.count({ where: { userId: u.id } })).toBe(0);
    expect(await prisma.conversation.count({ where: { userId: u.id } })).toBe(0);
    expect(await prisma.usageEvent.count({ where: { userId: u.id } })).toBe(0);
    expect(await prisma.usageDaily.count({ where: { userId: u.id } })).toBe(0);
    expect(await prisma.userPreference.count({ where: { userId: u.id } })).toBe(0);
    expect(u.b.cookies.has('cm_session')).toBe(false);
    expect(await trpcError(u.b.trpc.usage.summary.query())).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await trpcError(server.browser().trpc.auth.signIn.mutate({ email: u.email, password: u.password }))).toMatchObject({ code: 'UNAUTHORIZED' });
    // ...the address is free again...
    await server.browser({ ip: '10.66.1.1' }).trpc.auth.signUp.mutate({ email: u.email, password: 'another long password' });

    // ...and the totals are what they were: every event is kept, anonymised, and rolled up under the anonymous key.
    expect(await grandTotals()).toEqual(totals);
    const anonymous = await prisma.usageEvent.findMany({ where: { userId: null }, select: { ipHash: true, conversationId: true } });
    expect(anonymous.length).toBeGreaterThanOrEqual(2);
    expect(anonymous.every((e) => e.ipHash === null && e.conversationId === null)).toBe(true);
    const { raw, rolled } = await rawAndRollUp(server);
    expect(rolled).toEqual(raw);
    const overviewAfter = await server.deps.overview.overview(30);
    expect({ ...overviewAfter.totals.last30, activeUsers: 0 }).toEqual({ ...overviewBefore.totals.last30, activeUsers: 0 });
    // The other account is untouched; the credit ledger (append-only) is kept.
    expect(await prisma.message.count({ where: { userId: other.id } })).toBe(4);
    expect(await prisma.creditLedgerEntry.count({ where: { userId: u.id } })).toBe(1);

    const log = await admin.b.trpc.admin.auditLog.query({ targetUserId: u.id, action: 'account.delete' });
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({ actorId: u.id, before: { conversations: 1, messages: 4 }, after: { deleted: true } });
    // The audit log holds no e-mail address of the deleted account.
    const rows = await prisma.auditLogEntry.findMany({ where: { targetUserId: u.id } });
    expect(JSON.stringify(rows.map((r) => [r.before, r.after, r.reason]))).not.toContain(u.email);
  });

  it('an admin can delete a user (audited); a second deletion is not_found', async () => {
    const u = await activeUser();
    const result = await admin.b.trpc.admin.deleteUser.mutate({ userId: u.id, confirm: true });
    expect(result).toMatchObject({ messages: 4, usageEventsAnonymised: 2 });
    expect(await trpcError(admin.b.trpc.admin.deleteUser.mutate({ userId: u.id, confirm: true }))).toMatchObject({ code: 'NOT_FOUND' });
    const log = await admin.b.trpc.admin.auditLog.query({ targetUserId: u.id, action: 'user.delete' });
    expect(log.items).toMatchObject([{ actorId: admin.id, actorRole: 'admin' }]);
    const detail = await admin.b.trpc.admin.user.query({ userId: u.id });
    expect(detail.user).toMatchObject({ deleted: true, email: null });
    expect(await trpcError(admin.b.trpc.admin.adjustCredits.mutate({ userId: u.id, tokens: 5, reason: 'credits for a ghost' }))).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('refuses while a subscription is still billing', async () => {
    const u = await activeUser();
    await server.deps.prisma.$executeRaw(Prisma.sql`
      INSERT INTO subscriptions (id, user_id, stripe_customer_id, status, plan_id, stripe_state_at)
      VALUES ('sub_test_live', ${u.id}::uuid, 'cus_test', 'active', 'pro', now())`);
    expect(await trpcError(u.b.trpc.account.deleteAccount.mutate({ confirm: true }))).toMatchObject({ code: 'CONFLICT', reason: 'conflict' });
    expect(await server.deps.prisma.message.count({ where: { userId: u.id } })).toBe(4);
    await server.deps.prisma.$executeRaw(Prisma.sql`UPDATE subscriptions SET cancel_at_period_end = true WHERE id = 'sub_test_live'`);
    await expect(u.b.trpc.account.deleteAccount.mutate({ confirm: true })).resolves.toMatchObject({ ok: true });
  });

  it('a guest can delete its data too', async () => {
    const b = server.browser({ ip: '10.66.2.2' });
    const started = await send(b, { content: 'guest here' });
    expect(started.done).toMatchObject({ status: 'ok', usage: { completionTokens: expect.any(Number) } });
    await expect(b.trpc.account.deleteAccount.mutate({ confirm: true })).resolves.toMatchObject({ ok: true, messages: 2 });
  });
});
