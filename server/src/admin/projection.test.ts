import { describe, expect, it } from 'vitest';
import { addDays } from '../lib/days.ts';
import { linearFit, projectMonthCost } from './projection.ts';

describe('linearFit', () => {
  it('recovers a line exactly', () => {
    expect(linearFit([3, 5, 7, 9])).toEqual({ intercept: 3, slope: 2 });
    expect(linearFit([4, 4, 4])).toEqual({ intercept: 4, slope: 0 });
    expect(linearFit([])).toEqual({ intercept: 0, slope: 0 });
  });
});

describe('projectMonthCost', () => {
  it('a flat 1,000 micro-USD a day over a 30-day month projects 30,000', () => {
    // Noon on 10 June: 9 complete days in June, today half spent.
    const now = new Date('2026-06-10T12:00:00Z');
    const daily = new Map<string, number>();
    for (let d = -20; d <= 0; d++) daily.set(addDays('2026-06-10', d), d === 0 ? 500 : 1_000);
    const p = projectMonthCost({ now, dailyCost: daily });
    expect(p.method).toBe('linear');
    expect(p.costToDateMicroUsd).toBe(9 * 1_000 + 500);
    // The rest of today (half a day) and 20 more days at 1,000.
    expect(p.projectedCostMicroUsd).toBe(9_500 + 500 + 20_000);
    expect(p.monthStart.toISOString()).toBe('2026-06-01T00:00:00.000Z');
    expect(p.monthEnd.toISOString()).toBe('2026-07-01T00:00:00.000Z');
  });

  it('follows a rising trend and never projects a negative day', () => {
    const now = new Date('2026-06-16T00:00:00Z');
    const rising = new Map<string, number>();
    const falling = new Map<string, number>();
    for (let i = 1; i <= 14; i++) {
      rising.set(addDays('2026-06-16', -i), (15 - i) * 100);
      falling.set(addDays('2026-06-16', -i), i * 100);
    }
    const up = projectMonthCost({ now, dailyCost: rising });
    expect(up.trendPerDayMicroUsd.today).toBe(1_500);
    expect(up.trendPerDayMicroUsd.monthEnd).toBe(1_500 + 14 * 100);
    const down = projectMonthCost({ now, dailyCost: falling });
    expect(down.trendPerDayMicroUsd.monthEnd).toBe(0);
    expect(down.projectedCostMicroUsd).toBeGreaterThanOrEqual(down.costToDateMicroUsd);
  });

  it('with no history uses the rate so far today, and nothing at all projects nothing', () => {
    const now = new Date('2026-06-30T06:00:00Z');
    const p = projectMonthCost({ now, dailyCost: new Map([['2026-06-30', 100]]), firstDay: '2026-06-30' });
    expect(p.method).toBe('average');
    expect(p.projectedCostMicroUsd).toBe(400);
    const none = projectMonthCost({ now, dailyCost: new Map() });
    expect(none).toMatchObject({ method: 'linear', costToDateMicroUsd: 0, projectedCostMicroUsd: 0 });
  });
});
