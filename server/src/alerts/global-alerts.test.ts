import { describe, expect, it } from 'vitest';
import { capThreshold, type GlobalReading, globalAlerts, separateSpendAlert } from './global-alerts.ts';

const base: GlobalReading = {
  tokensToday: 0,
  costToday: 0,
  costMonth: 0,
  tokenCap: 1_000_000,
  costDayCap: null,
  costMonthCap: null,
  alertDay: null,
  alertMonth: null,
  day: new Date('2026-12-07T00:00:00Z'),
  month: new Date('2026-12-01T00:00:00Z'),
};
const shown = (r: Partial<GlobalReading>) => globalAlerts({ ...base, ...r }).map((a) => `${a.kind}:${a.threshold}:${a.periodKey.slice(0, 10)}`);

describe('capThreshold', () => {
  it.each([
    [79, 100, undefined],
    [80, 100, 80],
    [99, 100, 80],
    [100, 100, 100],
    [150, 100, 100],
    [5, 0, undefined],
    [5, null, undefined],
    [7_999_999, 10_000_000, undefined],
  ])('%s of %s -> %s', (used, cap, expected) => {
    expect(capThreshold(used, cap)).toBe(expected);
  });
});

describe('globalAlerts', () => {
  it('says nothing below 80 % of every cap and without spending alerts', () => {
    expect(shown({ tokensToday: 799_999, costToday: 7_999_999, costDayCap: 10_000_000, costMonth: 1, costMonthCap: 100_000_000 })).toEqual([]);
  });

  it('alerts the token cap and each cost cap at 80 % and at 100 %, the month keyed by its first day', () => {
    expect(shown({ tokensToday: 800_000, costToday: 8_000_000, costDayCap: 10_000_000, costMonth: 100_000_000, costMonthCap: 100_000_000 })).toEqual([
      'global_tokens:80:2026-12-07',
      'global_cost_day:80:2026-12-07',
      'global_cost_month:100:2026-12-01',
    ]);
    expect(shown({ tokensToday: 1_000_000 })).toEqual(['global_tokens:100:2026-12-07']);
  });

  it('the spending alert defaults to the cap’s 80 % alert (one alert, not two)', () => {
    expect(shown({ costToday: 8_000_000, costDayCap: 10_000_000 })).toEqual(['global_cost_day:80:2026-12-07']);
    // Set to exactly 80 % of the cap: still the one alert.
    expect(shown({ costToday: 8_000_000, costDayCap: 10_000_000, alertDay: 8_000_000 })).toEqual(['global_cost_day:80:2026-12-07']);
    expect(separateSpendAlert(8_000_000, 10_000_000)).toBeNull();
    expect(separateSpendAlert(5_000_000, 10_000_000)).toBe(5_000_000);
    expect(separateSpendAlert(5_000_000, null)).toBe(5_000_000);
  });

  it('an explicit spending alert fires on its own once passed, with or without a cap', () => {
    expect(shown({ costToday: 4_999_999, alertDay: 5_000_000 })).toEqual([]);
    expect(shown({ costToday: 5_000_000, alertDay: 5_000_000, costMonth: 30_000_000, alertMonth: 20_000_000 })).toEqual([
      'cost_alert_day:0:2026-12-07',
      'cost_alert_month:0:2026-12-01',
    ]);
    expect(shown({ costToday: 9_000_000, costDayCap: 10_000_000, alertDay: 5_000_000 })).toEqual([
      'global_cost_day:80:2026-12-07',
      'cost_alert_day:0:2026-12-07',
    ]);
  });

  it('words the alerts in dollars and names the setting', () => {
    const [cap, alert] = globalAlerts({ ...base, costToday: 10_250_000, costDayCap: 10_000_000, alertDay: 5_000_000 });
    expect(cap!.title).toBe("ChatMeter has reached today's provider-cost cap ($10.00)");
    expect(cap!.body).toContain('$10.25 of $10.00 in provider cost today (UTC), from settled usage. Chats are refused until midnight UTC');
    expect(cap!.body).toContain('MAX_COST_PER_DAY_USD');
    expect(alert!.title).toBe('Provider cost today has passed $5.00: $10.25');
    expect(alert!.body).toContain('ALERT_COST_PER_DAY_USD alerts at $5.00');
    const [tokens] = globalAlerts({ ...base, tokensToday: 850_000 });
    expect(tokens!.title).toBe("ChatMeter has used 80% of today's global token cap");
    expect(tokens!.body).toContain('850,000 of 1,000,000 tokens settled today');
  });
});
