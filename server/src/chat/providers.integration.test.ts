// Several providers at once (PROVIDERS_FILE): a model routes to the provider that lists
// it, and the provider is recorded on the usage event, in the roll-up, in usage.history,
// the export, usage.breakdown and admin.overview.byModel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { rawAndRollUp } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { LLAMA, twoProviderEnv } from '../../test/helpers/providers.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let alpha: FakeOpenAIServer;
let beta: FakeOpenAIServer;
let server: TestServer;

beforeAll(async () => {
  alpha = await startFakeOpenAIServer();
  beta = await startFakeOpenAIServer();
  alpha.setDefault({ reply: 'From alpha.' });
  beta.setDefault({ reply: 'From beta.' });
  server = await startTestServer(twoProviderEnv(alpha, beta));
});
afterAll(async () => {
  await server?.close();
  await alpha?.close();
  await beta?.close();
});

describe('routing by model', () => {
  it('sends each model to its provider and records the provider everywhere usage is shown', async () => {
    const b = server.browser({ ip: '10.77.0.1' });
    await b.trpc.auth.signUp.mutate({ email: `providers-${Date.now()}@example.com`, password: 'correct horse battery' });

    const models = await b.trpc.chat.models.query();
    expect(models.models).toEqual(['gpt-4o-mini', LLAMA]);
    expect(models.demo).toBe(false);
    expect(models.provider).toBe('2 providers');
    expect(models.items).toEqual([
      expect.objectContaining({
        model: 'gpt-4o-mini',
        label: 'GPT-4o mini',
        provider: 'alpha',
        inputMicrosPerMillion: 150_000,
        outputMicrosPerMillion: 600_000,
        cachedInputMicrosPerMillion: 75_000,
        reasoning: false,
      }),
      expect.objectContaining({
        model: LLAMA,
        label: 'Llama 3.3 70B',
        provider: 'beta',
        inputMicrosPerMillion: 590_000,
        outputMicrosPerMillion: 790_000,
        cachedInputMicrosPerMillion: 590_000,
        reasoning: false,
      }),
    ]);

    const first = await send(b, { content: 'hello alpha', model: 'gpt-4o-mini' });
    expect(first.text).toBe('From alpha.');
    const second = await send(b, { content: 'hello beta', model: LLAMA });
    expect(second.text).toBe('From beta.');
    expect(alpha.requests.map((r) => r.body.model)).toEqual(['gpt-4o-mini']);
    expect(beta.requests.map((r) => r.body.model)).toEqual([LLAMA]);
    // Each with its own key and request shape.
    expect(alpha.requests[0]!.headers.authorization).toBe('Bearer sk-alpha');
    expect(beta.requests[0]!.headers.authorization).toBe('Bearer sk-beta');
    expect(alpha.requests[0]!.body.max_completion_tokens).toBeGreaterThan(0);
    expect(beta.requests[0]!.body.max_tokens).toBeGreaterThan(0);

    const history = await b.trpc.usage.history.query();
    expect(history.items.map((i) => [i.model, i.provider])).toEqual([
      [LLAMA, 'beta'],
      ['gpt-4o-mini', 'alpha'],
    ]);

    const csv = await (await b.fetch('/export/usage.csv')).text();
    const [header, ...lines] = csv.trim().split(/\r?\n/);
    expect(header).toBe('id,createdAt,kind,model,provider,promptTokens,completionTokens,costMicroUsd,status,estimated,ttsChars,creditTokens');
    expect(lines.map((l) => l.split(',').slice(3, 5).join(','))).toEqual(['gpt-4o-mini,alpha', `${LLAMA},beta`]);
    const json = (await (await b.fetch('/export/usage.json')).json()) as { items: { provider: string }[] };
    expect(json.items.map((i) => i.provider)).toEqual(['alpha', 'beta']);

    const breakdown = await b.trpc.usage.breakdown.query();
    expect(breakdown.items.map((i) => [i.kind, i.model, i.provider, i.requests])).toEqual(
      expect.arrayContaining([
        ['chat', 'gpt-4o-mini', 'alpha', 1],
        ['chat', LLAMA, 'beta', 1],
      ]),
    );
    expect(breakdown.items).toHaveLength(2);
    const events = await server.deps.prisma.usageEvent.findMany({ select: { costMicroUsd: true, promptTokens: true, completionTokens: true } });
    expect(breakdown.total).toEqual({
      requests: 2,
      tokens: events.reduce((s, e) => s + e.promptTokens + e.completionTokens, 0),
      costMicroUsd: events.reduce((s, e) => s + Number(e.costMicroUsd), 0),
    });
    expect(breakdown.total.costMicroUsd).toBeGreaterThan(0);
    expect(breakdown.period.start.getTime()).toBeLessThanOrEqual(Date.now());
    expect(breakdown.period.end.getTime()).toBeGreaterThan(Date.now());

    const rolled = await server.deps.prisma.$queryRaw<{ model: string; provider: string }[]>(
      Prisma.sql`SELECT model, provider FROM usage_daily ORDER BY model`,
    );
    expect(rolled).toEqual([
      { model: 'gpt-4o-mini', provider: 'alpha' },
      { model: LLAMA, provider: 'beta' },
    ]);
    const { raw, rolled: all } = await rawAndRollUp(server);
    expect(all).toEqual(raw);

    // Reconciliation compares only the kind "openai" providers' usage with OpenAI's bill.
    const alphaCost = await server.deps.prisma.usageEvent.aggregate({ where: { provider: 'alpha' }, _sum: { costMicroUsd: true } });
    const betaCost = await server.deps.prisma.usageEvent.aggregate({ where: { provider: 'beta' }, _sum: { costMicroUsd: true } });
    expect(Number(betaCost._sum.costMicroUsd)).toBeGreaterThan(0);
    const [today] = await server.deps.reconcile.compare([new Date().toISOString().slice(0, 10)]);
    expect(today!.meteredMicroUsd).toBe(Number(alphaCost._sum.costMicroUsd));

    const overview = await server.deps.overview.overview(1);
    expect(overview.byModel.map((m) => [m.model, m.provider, m.requests])).toEqual(
      expect.arrayContaining([
        ['gpt-4o-mini', 'alpha', 1],
        [LLAMA, 'beta', 1],
      ]),
    );
  });

  it('a model no provider lists is not offered and is refused', async () => {
    const b = server.browser({ ip: '10.77.0.2' });
    await b.trpc.auth.signUp.mutate({ email: `providers-b-${Date.now()}@example.com`, password: 'correct horse battery' });
    await expect(send(b, { content: 'hi', model: 'gpt-4o' })).rejects.toMatchObject({ data: { reason: 'model_not_in_plan' } });
  });
});
