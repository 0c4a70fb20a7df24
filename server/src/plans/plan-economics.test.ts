import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { DEFAULT_PRICING_TABLE } from '@chatmeter/shared/pricing';
import { AppError } from '../lib/app-error.ts';
import { PlanEconomics } from './plan-economics.ts';

const pro = DEFAULT_PLANS.find((p) => p.id === 'pro')!;

function logged(plans: TPlan[]) {
  const lines: { level: 'info' | 'warn'; fields: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', fields, msg }),
    warn: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', fields, msg }),
  };
  new PlanEconomics(plans, { chat: DEFAULT_PRICING_TABLE, tts: null }).logAtStart(logger as never);
  return lines;
}

describe('PlanEconomics.logAtStart', () => {
  it('the built-in paid plans are logged as information: none can lose money', () => {
    const lines = logged(DEFAULT_PLANS);
    expect(lines.map((l) => [l.level, l.fields.plan])).toEqual([
      ['info', 'pro'],
      ['info', 'enterprise'],
    ]);
    expect(lines[0]!.msg).toBe('plan pro: worst-case provider cost $5.00 a month against $15.00');
  });

  it('warns when only the yearly price falls short, and says so', () => {
    // A $13 worst case: under $15 a month, over the $12.50 a month a yearly payer brings.
    const lines = logged([...DEFAULT_PLANS.filter((p) => p.id !== 'pro'), { ...pro, limits: { ...pro.limits, costPerMonthMicroUsd: 13_000_000 } }]);
    const warning = lines.find((l) => l.fields.plan === 'pro')!;
    expect(warning.level).toBe('warn');
    expect(warning.fields).toMatchObject({ marginMicroUsd: 2_000_000, yearlyMarginMicroUsd: -500_000 });
    expect(warning.msg).toMatch(/^plan pro can lose money: worst-case provider cost \$13\.00 a month against \$15\.00 \(\$12\.50 a month paid yearly\); set/);
  });
});

describe('PlanEconomics.forPlan', () => {
  it('an unknown plan is invalid_input', () => {
    const economics = new PlanEconomics(DEFAULT_PLANS, { chat: DEFAULT_PRICING_TABLE, tts: null });
    expect(() => economics.forPlan('platinum')).toThrow(AppError);
    expect(economics.forPlan('guest').plan).toBe('guest');
  });
});
