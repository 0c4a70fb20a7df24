import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { parseEnv } from '../env.ts';
import { resolveBillingConfig } from './config.ts';

const stripeEnv = {
  STRIPE_SECRET_KEY: 'sk_test_x',
  STRIPE_WEBHOOK_SECRET: 'whsec_x',
  STRIPE_PRICE_PRO: 'price_pro',
  STRIPE_PRICE_ENTERPRISE: 'price_ent',
  STRIPE_PRICE_PACK_100K: 'price_100k',
  STRIPE_PRICE_PACK_1M: 'price_1m',
};

describe('billing configuration', () => {
  it('is off without a key and maps prices both ways with one', () => {
    expect(resolveBillingConfig(parseEnv({}), DEFAULT_PLANS)).toMatchObject({ mode: 'off', webhookSecret: undefined });
    const config = resolveBillingConfig(parseEnv(stripeEnv), DEFAULT_PLANS);
    expect(config.mode).toBe('stripe');
    expect([...config.planPrices]).toEqual([
      ['pro', 'price_pro'],
      ['enterprise', 'price_ent'],
    ]);
    expect(config.planByPrice.get('price_ent')).toBe('enterprise');
    expect([...config.packPrices]).toEqual([
      ['pack_100k', 'price_100k'],
      ['pack_1m', 'price_1m'],
    ]);
  });

  it('a paid plan or pack without a price stops start-up, naming what to set', () => {
    const { STRIPE_PRICE_PRO: _pro, STRIPE_PRICE_PACK_1M: _pack, ...missing } = stripeEnv;
    expect(() => resolveBillingConfig(parseEnv(missing), DEFAULT_PLANS)).toThrow(/STRIPE_PRICE_PRO[\s\S]*STRIPE_PRICE_PACK_1M/);
    expect(() => resolveBillingConfig(parseEnv({ ...stripeEnv, STRIPE_PRICE_ENTERPRISE: 'price_pro' }), DEFAULT_PLANS)).toThrow(/share the Stripe price/);
  });

  it("takes a plan's stripePriceId from the plans file when the environment has none", () => {
    const { STRIPE_PRICE_ENTERPRISE: _e, ...env } = stripeEnv;
    const plans = DEFAULT_PLANS.map((p) => (p.id === 'enterprise' ? { ...p, stripePriceId: 'price_from_file' } : p));
    expect(resolveBillingConfig(parseEnv(env), plans).planPrices.get('enterprise')).toBe('price_from_file');
  });

  it('needs the webhook secret with the key; the simulator invents prices and a per-process secret', () => {
    expect(() => parseEnv({ STRIPE_SECRET_KEY: 'sk_test_x' })).toThrow(/STRIPE_WEBHOOK_SECRET/);
    const a = resolveBillingConfig(parseEnv({ BILLING_SIMULATOR: '1' }), DEFAULT_PLANS);
    const b = resolveBillingConfig(parseEnv({ BILLING_SIMULATOR: '1' }), DEFAULT_PLANS);
    expect(a.mode).toBe('simulator');
    expect(a.webhookSecret).toMatch(/^whsec_sim_/);
    expect(a.webhookSecret).not.toBe(b.webhookSecret);
    expect(a.planPrices.get('pro')).toBe('price_sim_pro');
    // With a real key the simulator flag is ignored: real Stripe wins.
    expect(resolveBillingConfig(parseEnv({ ...stripeEnv, BILLING_SIMULATOR: '1' }), DEFAULT_PLANS).mode).toBe('stripe');
  });

  it('checks the Stripe API override variables', () => {
    expect(parseEnv({ STRIPE_API_PORT: '12111', STRIPE_API_PROTOCOL: 'http' })).toMatchObject({ STRIPE_API_PORT: 12111, STRIPE_API_PROTOCOL: 'http' });
    expect(() => parseEnv({ STRIPE_API_PORT: 'eighty' })).toThrow(/STRIPE_API_PORT/);
    expect(() => parseEnv({ STRIPE_API_PROTOCOL: 'ftp' })).toThrow(/STRIPE_API_PROTOCOL/);
    expect(() => parseEnv({ BILLING_GRACE_DAYS: '-1' })).toThrow(/BILLING_GRACE_DAYS/);
  });

  it('yearly prices are optional, from the environment or the plans file, and map back to their plan', () => {
    expect(resolveBillingConfig(parseEnv(stripeEnv), DEFAULT_PLANS).planYearlyPrices.size).toBe(0);
    const plans = DEFAULT_PLANS.map((p) => (p.id === 'enterprise' ? { ...p, stripePriceIdYearly: 'price_ent_year_file' } : p));
    const config = resolveBillingConfig(parseEnv({ ...stripeEnv, STRIPE_PRICE_PRO_YEARLY: 'price_pro_year' }), plans);
    expect([...config.planYearlyPrices]).toEqual([
      ['pro', 'price_pro_year'],
      ['enterprise', 'price_ent_year_file'],
    ]);
    expect(config.planByPrice.get('price_pro_year')).toBe('pro');
    expect(config.planByPrice.get('price_pro')).toBe('pro');
    expect(config.priceIntervals.get('price_pro_year')).toBe('year');
    expect(config.priceIntervals.get('price_pro')).toBe('month');
    // The environment wins over the plans file.
    expect(
      resolveBillingConfig(parseEnv({ ...stripeEnv, STRIPE_PRICE_ENTERPRISE_YEARLY: 'price_ent_year_env' }), plans).planYearlyPrices.get('enterprise'),
    ).toBe('price_ent_year_env');
  });

  it('a yearly price without priceYearlyCents, or one shared with another price, stops start-up', () => {
    const noDisplay = DEFAULT_PLANS.map(({ priceYearlyCents: _y, ...p }) => p);
    expect(() => resolveBillingConfig(parseEnv({ ...stripeEnv, STRIPE_PRICE_PRO_YEARLY: 'price_pro_year' }), noDisplay)).toThrow(
      /plan "pro" has a yearly Stripe price but no priceYearlyCents/,
    );
    expect(() => resolveBillingConfig(parseEnv({ ...stripeEnv, STRIPE_PRICE_PRO_YEARLY: 'price_pro' }), DEFAULT_PLANS)).toThrow(
      /share the Stripe price price_pro/,
    );
    expect(() => resolveBillingConfig(parseEnv({ ...stripeEnv, STRIPE_PRICE_ENTERPRISE_YEARLY: 'price_pro' }), DEFAULT_PLANS)).toThrow(
      /share the Stripe price/,
    );
  });

  it('the simulator sells by the year every plan with a yearly price to show', () => {
    const config = resolveBillingConfig(parseEnv({ BILLING_SIMULATOR: '1' }), DEFAULT_PLANS);
    expect([...config.planYearlyPrices]).toEqual([
      ['pro', 'price_sim_pro_yearly'],
      ['enterprise', 'price_sim_enterprise_yearly'],
    ]);
    const monthlyOnly = resolveBillingConfig(
      parseEnv({ BILLING_SIMULATOR: '1' }),
      DEFAULT_PLANS.map(({ priceYearlyCents: _y, ...p }) => p),
    );
    expect(monthlyOnly.planYearlyPrices.size).toBe(0);
  });
});
