// planner.estimate over HTTP (public), the "from your data" column for staff,
// and the CLI printing the same figures.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlannerService } from './planner-service.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({}, { limits: { chat: { points: 10_000, duration: 60 }, chatIp: { points: 10_000, duration: 60 } } });
});
afterAll(async () => {
  await server?.close();
});

describe('planner.estimate', () => {
  it('answers a visitor with no session: the founder’s 200 users', async () => {
    const visitor = server.browser();
    const figures = await Promise.all(
      (['light', 'medium', 'heavy'] as const).map((profile) => visitor.trpc.planner.estimate.query({ users: 200, profile, pricePer1kTokensUsd: 0.03 })),
    );
    expect(figures.map((f) => [f.tokensPerDay, f.tokensPerMonth])).toEqual([
      [200_000, 6_000_000],
      [500_000, 15_000_000],
      [2_000_000, 60_000_000],
    ]);
    expect(figures[1]!.costMicroUsdPerMonth).toBe(450_000_000);
    expect(figures[1]!.fromYourData).toEqual({ visible: false, last7Days: null, last30Days: null });
    expect(visitor.cookies.size).toBe(0); // no guest session was made for it
  });

  it('prices with the model’s input and output prices; the models query lists the table', async () => {
    const visitor = server.browser();
    const models = await visitor.trpc.planner.models.query();
    expect(models.map((m) => m.model)).toContain('gpt-4o-mini');
    expect(models.map((m) => m.model)).not.toContain('demo');
    const e = await visitor.trpc.planner.estimate.query({
      users: 200,
      promptTokens: 150,
      completionTokens: 350,
      interactionsPerUserPerDay: 5,
      model: 'gpt-4o-mini',
    });
    expect(e).toMatchObject({
      profile: 'custom',
      tokensPerDay: 500_000,
      costMicroUsdPerDay: 232_500,
      costMicroUsdPerMonth: 6_975_000,
      pricing: { source: 'model', model: 'gpt-4o-mini' },
    });
  });

  it('refuses bad input with invalid_input and field errors', async () => {
    const visitor = server.browser();
    const err = await trpcError(visitor.trpc.planner.estimate.query({ users: 0, profile: 'light' }));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(visitor.trpc.planner.estimate.query({ users: 5, profile: 'light', model: 'gpt-9' }))).toMatchObject({
      reason: 'invalid_input',
      message: 'There is no price for the model "gpt-9".',
    });
  });

  it('shows staff this server’s averages per active user-day, and nothing without data', async () => {
    const staff = server.browser({ ip: '10.70.0.1' });
    const { user } = await staff.trpc.auth.signUp.mutate({ email: `planner-admin-${Date.now()}@example.com`, password: 'correct horse battery' });
    await server.deps.prisma.user.update({ where: { id: user.id }, data: { role: 'admin' } });
    const empty = await server.deps.planner.estimate({ users: 200, profile: 'medium' }, { showObserved: true, now: new Date('2001-01-01T12:00:00Z') });
    expect(empty.fromYourData.last7Days).toMatchObject({ hasData: false, averages: null, projection: null });

    // Two chatting users today.
    for (const ip of ['10.70.0.2', '10.70.0.3']) {
      const b = server.browser({ ip });
      await b.trpc.auth.signUp.mutate({ email: `planner-${ip}-${Date.now()}@example.com`, password: 'correct horse battery' });
      await send(b, { content: 'hello' });
      await send(b, { content: 'and again' });
    }
    // A fresh service: the observed figures are cached for a few minutes.
    const planner = new PlannerService(server.deps.pricing, server.deps.prisma);
    const totals = (await planner.observedTotals()).get(7)!;
    expect(totals).toMatchObject({ activeUserDays: 2, daysWithData: 1, interactions: 4 });
    const events = await server.deps.prisma.usageEvent.aggregate({
      where: { kind: 'chat' },
      _sum: { promptTokens: true, completionTokens: true, costMicroUsd: true },
    });
    expect(totals.promptTokens).toBe(events._sum.promptTokens);
    expect(totals.completionTokens).toBe(events._sum.completionTokens);
    expect(BigInt(totals.costMicroUsd)).toBe(events._sum.costMicroUsd);

    const shown = await planner.estimate({ users: 200, profile: 'medium' }, { showObserved: true });
    expect(shown.fromYourData.visible).toBe(true);
    const last7 = shown.fromYourData.last7Days!;
    expect(last7.averages!.interactionsPerUserPerDay).toBe(2);
    expect(last7.projection!.tokensPerDay).toBe(Math.round(((totals.promptTokens + totals.completionTokens) * 200) / 2));
    // Through the API: the admin sees the column, a visitor does not.
    expect((await staff.trpc.planner.estimate.query({ users: 200, profile: 'medium' })).fromYourData.visible).toBe(true);
  });
});

describe('npm run estimate', () => {
  it('prints the same table', async () => {
    const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/planner/cli.ts', '--users', '200', '--profile', 'medium', '--price-per-1k', '0.03'],
      {
        cwd: serverDir,
        env: { PATH: process.env.PATH, LOG_LEVEL: 'silent' },
      },
    );
    expect(stdout).toContain('200 users a day, a flat $0.03 per 1k tokens, 30-day month');
    const row = (label: string) =>
      stdout
        .split('\n')
        .find((line) => line.startsWith(label))!
        .split(/\s{2,}/)
        .slice(1);
    expect(row('tokens per day')).toEqual(['200,000', '500,000', '2,000,000']);
    expect(row('tokens per month')).toEqual(['6,000,000', '15,000,000', '60,000,000']);
    expect(row('cost per month')).toEqual(['$180.00', '$450.00', '$1,800.00']);
    expect(stdout).toMatch(/medium\*/);
  });
});
