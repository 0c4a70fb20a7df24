import { describe, expect, it } from 'vitest';
import { chartRows, INITIAL_FORM, plannerInputs } from './planner-math.ts';

describe('plannerInputs', () => {
  it('builds the three profiles and the custom column from the form', () => {
    const result = plannerInputs({ ...INITIAL_FORM, model: 'gpt-4o' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.inputs.medium).toEqual({ users: 200, model: 'gpt-4o', profile: 'medium' });
    expect(result.inputs.custom).toEqual({ users: 200, model: 'gpt-4o', promptTokens: 150, completionTokens: 350, interactionsPerUserPerDay: 5 });
  });

  it('a flat price replaces the model', () => {
    const result = plannerInputs({ ...INITIAL_FORM, model: 'gpt-4o', pricing: 'flat', pricePer1k: '0.03' });
    expect(result.ok && result.inputs.heavy).toEqual({ users: 200, pricePer1kTokensUsd: 0.03, profile: 'heavy' });
  });

  it('reports the fields that are wrong', () => {
    expect(plannerInputs({ ...INITIAL_FORM, users: '' })).toEqual({ ok: false, errors: { users: 'users must be a number' } });
    expect(plannerInputs({ ...INITIAL_FORM, users: '0' })).toMatchObject({ ok: false, errors: { users: 'users must be at least 1' } });
    expect(plannerInputs({ ...INITIAL_FORM, interactions: '2.5' })).toMatchObject({
      ok: false,
      errors: { interactions: 'interactionsPerUserPerDay must be a whole number' },
    });
    expect(plannerInputs({ ...INITIAL_FORM, pricing: 'flat', pricePer1k: '-1' })).toMatchObject({
      ok: false,
      errors: { pricePer1k: 'pricePer1kTokensUsd must not be negative' },
    });
  });
});

describe('chartRows', () => {
  it('turns micro-USD into dollars and skips columns without figures', () => {
    expect(
      chartRows([
        { name: 'Medium', figures: { costMicroUsdPerMonth: 450_000_000, tokensPerMonth: 15_000_000 } },
        { name: 'Your last 7 days', figures: null },
      ]),
    ).toEqual([{ name: 'Medium', costPerMonthUsd: 450, tokensPerMonth: 15_000_000 }]);
  });
});
