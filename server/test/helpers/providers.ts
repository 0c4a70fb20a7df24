// Two OpenAI-compatible fakes configured through PROVIDERS_FILE: "alpha" (kind openai)
// serves gpt-4o-mini, "beta" (kind compatible) serves llama-3.3-70b-versatile, which
// every plan allows and the pricing file prices.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { DEFAULT_PRICING_TABLE } from '@chatmeter/shared/pricing';
import type { FakeOpenAIServer } from '../fakes/openai-server.ts';

export const LLAMA = 'llama-3.3-70b-versatile';

export function twoProviderEnv(alpha: FakeOpenAIServer, beta: FakeOpenAIServer, limits: { alpha?: object; beta?: object } = {}): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cm-providers-'));
  const providers = path.join(dir, 'providers.json');
  const pricing = path.join(dir, 'pricing.json');
  const plans = path.join(dir, 'plans.json');
  writeFileSync(
    providers,
    JSON.stringify([
      { id: 'alpha', kind: 'openai', baseUrl: alpha.baseUrl, apiKeyEnv: 'ALPHA_KEY', models: ['gpt-4o-mini'], ...limits.alpha },
      { id: 'beta', kind: 'compatible', baseUrl: beta.baseUrl, apiKeyEnv: 'BETA_KEY', models: [LLAMA], ...limits.beta },
    ]),
  );
  writeFileSync(
    pricing,
    JSON.stringify([
      ...DEFAULT_PRICING_TABLE,
      {
        model: LLAMA,
        label: 'Llama 3.3 70B',
        inputMicrosPerMillion: 590_000,
        outputMicrosPerMillion: 790_000,
        contextWindow: 128_000,
        maxOutputTokens: 32_768,
      },
    ]),
  );
  writeFileSync(
    plans,
    JSON.stringify(DEFAULT_PLANS.map((p) => ({ ...p, limits: { ...p.limits, models: [p.limits.models[0], LLAMA, ...p.limits.models.slice(1)] } }))),
  );
  return { PROVIDERS_FILE: providers, PRICING_FILE: pricing, PLANS_FILE: plans, ALPHA_KEY: 'sk-alpha', BETA_KEY: 'sk-beta' };
}
