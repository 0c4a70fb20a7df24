import { describe, expect, it } from 'vitest';
import { compareDay } from './drift.ts';

describe('compareDay', () => {
  it('is (provider - metered) / provider, in percent with two decimals', () => {
    expect(compareDay(950_000, 1_000_000, 5)).toEqual({ meteredMicroUsd: 950_000, providerMicroUsd: 1_000_000, driftPercent: 5, overThreshold: false });
    expect(compareDay(1_100_000, 1_000_000, 5)).toMatchObject({ driftPercent: -10, overThreshold: true });
    expect(compareDay(0, 60_000, 5)).toMatchObject({ driftPercent: 100, overThreshold: true });
    expect(compareDay(2, 3, 5)).toMatchObject({ driftPercent: 33.33 });
    expect(compareDay(1, 3, 5)).toMatchObject({ driftPercent: 66.67 });
    expect(compareDay(4, 3, 5)).toMatchObject({ driftPercent: -33.33 });
  });

  it('passes the threshold only above it, exactly (no float decides)', () => {
    // 5 % of 1,000,000 is 50,000.
    expect(compareDay(950_000, 1_000_000, 5).overThreshold).toBe(false);
    expect(compareDay(949_999, 1_000_000, 5).overThreshold).toBe(true);
    expect(compareDay(1_050_000, 1_000_000, 5).overThreshold).toBe(false);
    expect(compareDay(1_050_001, 1_000_000, 5).overThreshold).toBe(true);
    // A fractional threshold: 2.5 % of 1,000,000 is 25,000.
    expect(compareDay(975_000, 1_000_000, 2.5).overThreshold).toBe(false);
    expect(compareDay(974_999, 1_000_000, 2.5).overThreshold).toBe(true);
    // 0 %: any difference.
    expect(compareDay(999_999, 1_000_000, 0).overThreshold).toBe(true);
    expect(compareDay(1_000_000, 1_000_000, 0)).toMatchObject({ driftPercent: 0, overThreshold: false });
  });

  it('handles a provider figure of zero or below', () => {
    expect(compareDay(0, 0, 5)).toMatchObject({ driftPercent: 0, overThreshold: false });
    expect(compareDay(1, 0, 5)).toMatchObject({ driftPercent: null, overThreshold: true });
    expect(compareDay(0, -500, 5)).toMatchObject({ driftPercent: null, overThreshold: true });
  });

  it('stays exact for large amounts', () => {
    const provider = 9_000_000_000_000_000; // $9 billion
    expect(compareDay(provider - 1, provider, 0)).toMatchObject({ driftPercent: 0, overThreshold: true });
  });
});
