// Role checks on the server: the named procedures from trpc/init.ts refuse a
// missing session with UNAUTHORIZED and a missing role with FORBIDDEN.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TRPCError } from '@trpc/server';
import { createTestDatabase, type TestDatabase } from '@chatmeter/db/testing';
import { createDeps, type Deps } from '../deps.ts';
import { parseEnv } from '../env.ts';
import { createLogger } from '../lib/logger.ts';
import { createContextInner } from './context.ts';
import { adminProcedure, authedProcedure, createCallerFactory, router, supportProcedure } from './init.ts';
import type { TRole } from '@chatmeter/shared/auth';

const probe = router({
  authed: authedProcedure.query(() => 'ok'),
  support: supportProcedure.query(() => 'ok'),
  admin: adminProcedure.mutation(() => 'ok'),
});
const createCaller = createCallerFactory(probe);

let tdb: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  tdb = await createTestDatabase();
  deps = await createDeps(parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CAPTCHA: 'off' }), { db: tdb.db, logger: createLogger('silent') });
});
afterAll(async () => {
  await deps.close();
  await tdb.cleanup();
});

async function callerAs(role: TRole | null, opts: { blocked?: boolean } = {}) {
  if (!role) return createCaller(createContextInner({ deps }));
  const user = await deps.prisma.user.create({
    data: { email: `${role}-${Math.random().toString(36).slice(2)}@example.com`, role, blockedAt: opts.blocked ? new Date() : null },
    select: { id: true, email: true, role: true, planId: true, isGuest: true, blockedAt: true },
  });
  const { token } = await deps.sessions.create(user.id);
  const found = await deps.sessions.validate(token);
  return createCaller(createContextInner({ deps, user: found!.user, session: found!.session }));
}

async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    const e = error as TRPCError;
    return `${e.code}:${(e.cause as { reason?: string } | undefined)?.reason ?? ''}`;
  }
}

describe('role checks', () => {
  it.each([
    [null, 'UNAUTHORIZED:unauthenticated', 'UNAUTHORIZED:unauthenticated', 'UNAUTHORIZED:unauthenticated'],
    ['user', 'ok', 'FORBIDDEN:forbidden_role', 'FORBIDDEN:forbidden_role'],
    ['support', 'ok', 'ok', 'FORBIDDEN:forbidden_role'],
    ['admin', 'ok', 'ok', 'ok'],
  ] as const)('as %s: authed %s, support %s, admin %s', async (role, authed, support, admin) => {
    const caller = await callerAs(role);
    expect(await outcome(caller.authed())).toBe(authed);
    expect(await outcome(caller.support())).toBe(support);
    expect(await outcome(caller.admin())).toBe(admin);
  });

  it('a blocked admin is refused everywhere with reason blocked', async () => {
    const caller = await callerAs('admin', { blocked: true });
    expect(await outcome(caller.admin())).toBe('FORBIDDEN:blocked');
    expect(await outcome(caller.authed())).toBe('FORBIDDEN:blocked');
  });
});
