import { describe, expect, it } from 'vitest';
import { busiestDay, dailyPoints } from './usage-series.ts';

describe('dailyPoints', () => {
  it('labels UTC days and turns micro-USD into dollars for the chart', () => {
    expect(dailyPoints([{ day: '2026-11-23', tokens: 1_290, costMicroUsd: 2_500, messages: 3 }])).toEqual([
      { day: '2026-11-23', label: '23 Nov', tokens: 1_290, costUsd: 0.0025, messages: 3 },
    ]);
  });
});

describe('busiestDay', () => {
  it('is the day with the most tokens, or null for an empty month', () => {
    const points = dailyPoints([
      { day: '2026-11-22', tokens: 10, costMicroUsd: 1, messages: 1 },
      { day: '2026-11-23', tokens: 30, costMicroUsd: 3, messages: 2 },
    ]);
    expect(busiestDay(points)?.day).toBe('2026-11-23');
    expect(busiestDay(dailyPoints([{ day: '2026-11-23', tokens: 0, costMicroUsd: 0, messages: 0 }]))).toBeNull();
  });
});
