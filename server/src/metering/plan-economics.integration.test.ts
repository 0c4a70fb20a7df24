// Plan economics over HTTP and at start-up: admin.planEconomics (admin only) lists
// every paid plan's worst case and margin with this deployment's prices,
// planner.worstCase answers anyone for any plan, and `npm start` logs each paid plan,
// with a warning for one that can lose money.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { person } from '../../test/helpers/admin.ts';
import { linesUntilListening } from '../../test/helpers/entry-point.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let dir: string;
let server: TestServer;

/** Pro as built in, plus "cheap": $5 a month, Pro's allowance with no dollar cap (2M tokens of gpt-4o: $20). */
const pro = DEFAULT_PLANS.find((p) => p.id === 'pro')!;
const plans: TPlan[] = [
  ...DEFAULT_PLANS.filter((p) => p.id !== 'enterprise'),
  { id: 'cheap', name: 'Cheap', priceMonthlyCents: 500, limits: { ...pro.limits, costPerMonthMicroUsd: null } },
];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-plan-economics-'));
  await writeFile(path.join(dir, 'plans.json'), JSON.stringify(plans));
  server = await startTestServer({ PLANS_FILE: path.join(dir, 'plans.json') });
});
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admin.planEconomics', () => {
  it('lists every paid plan with its price, worst case (how it is derived) and margin', async () => {
    const admin = await person(server, 'admin');
    const { plans: rows } = await admin.b.trpc.admin.planEconomics.query();
    expect(rows.map((r) => r.plan)).toEqual(['pro', 'cheap']);
    expect(rows[0]).toMatchObject({
      plan: 'pro',
      priceMonthlyMicroUsd: 15_000_000,
      yearlyMonthlyEquivalentMicroUsd: 12_500_000,
      model: { model: 'gpt-4o', outputMicrosPerMillion: 10_000_000 },
      tokensPerMonth: 2_000_000,
      chatCostMicroUsd: 20_000_000,
      // The default engine (espeak-ng) speaks for nothing.
      tts: null,
      capMicroUsd: 5_000_000,
      capped: true,
      worstCaseMicroUsd: 5_000_000,
      marginMicroUsd: 10_000_000,
      yearlyMarginMicroUsd: 7_500_000,
      canLoseMoney: false,
    });
    expect(rows[1]).toMatchObject({ plan: 'cheap', capMicroUsd: null, worstCaseMicroUsd: 20_000_000, marginMicroUsd: -15_000_000, canLoseMoney: true });
  });

  it('is for admins only: no session UNAUTHORIZED, a user, a guest and support FORBIDDEN', async () => {
    expect(await trpcError(server.browser().trpc.admin.planEconomics.query())).toMatchObject({ code: 'UNAUTHORIZED', reason: 'unauthenticated' });
    for (const role of ['user', 'support'] as const) {
      const someone = await person(server, role);
      expect(await trpcError(someone.b.trpc.admin.planEconomics.query()), role).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
    }
    const guest = server.browser({ ip: '10.98.0.1' });
    await guest.trpc.auth.guest.mutate();
    expect(await trpcError(guest.trpc.admin.planEconomics.query())).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
  });
});

describe('planner.worstCase', () => {
  it('answers a visitor for any plan, free ones included, without making a session', async () => {
    const visitor = server.browser();
    await expect(visitor.trpc.planner.worstCase.query({ plan: 'pro' })).resolves.toMatchObject({ plan: 'pro', worstCaseMicroUsd: 5_000_000, capped: true });
    // 100,000 tokens of gpt-4o-mini at $0.60 / 1M: $0.06, under the $0.10 backstop.
    await expect(visitor.trpc.planner.worstCase.query({ plan: 'free' })).resolves.toMatchObject({ plan: 'free', worstCaseMicroUsd: 60_000, capped: false });
    expect(visitor.cookies.size).toBe(0);
  });

  it('an unknown plan or a bad input is invalid_input, never a 500', async () => {
    const visitor = server.browser();
    expect(await trpcError(visitor.trpc.planner.worstCase.query({ plan: 'platinum' }))).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
      message: 'There is no plan "platinum".',
    });
    expect(await trpcError(visitor.trpc.planner.worstCase.query({ plan: '' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(visitor.trpc.planner.worstCase.query({ plan: 'x'.repeat(33) }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
  });
});

describe('npm start', () => {
  it('logs every paid plan’s economics and warns about each one that can lose money, counting a priced TTS engine', async () => {
    const lines = await linesUntilListening({
      DATA_DIR: path.join(dir, 'data'),
      PLANS_FILE: path.join(dir, 'plans.json'),
      // tts-1 at $15 / 1M characters: no engine is called at start.
      TTS_ENGINE: 'openai-compatible',
      TTS_BASE_URL: 'http://127.0.0.1:9/v1',
      TTS_MODEL: 'tts-1',
    });
    const logged = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as { level: number; msg: string; plan?: string; worstCaseMicroUsd?: number; marginMicroUsd?: number }];
      } catch {
        return [];
      }
    });
    const about = (plan: string) => logged.filter((l) => l.plan === plan);
    // Pro: $20 of chat plus 50,000 chars x 31 days of tts-1 ($23.25), capped at $5 by the plan's cap, which
    // counts paid speech as it counts chat (docs/architecture.md, "Plan economics"): $5 against $15, no warning (30).
    expect(about('pro')).toEqual([expect.objectContaining({ level: 30, capped: true, worstCaseMicroUsd: 5_000_000, marginMicroUsd: 10_000_000 })]);
    // Cheap: $20 of gpt-4o + 50,000 chars x 31 days of tts-1 ($23.25) = $43.25 against $5. Warning level (40).
    expect(about('cheap')).toEqual([expect.objectContaining({ level: 40, worstCaseMicroUsd: 43_250_000, marginMicroUsd: -38_250_000 })]);
    expect(about('cheap')[0]!.msg).toMatch(/^plan cheap can lose money: worst-case provider cost \$43\.25 a month against \$5\.00/);
    // Free plans are not listed.
    expect(about('free')).toEqual([]);
  }, 120_000);
});
