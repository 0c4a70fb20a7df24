// Drift between what ChatMeter metered for a day and what the provider
// reports for it. Pure integer arithmetic (BigInt), so the threshold test is
// exact: no float decides whether an alert fires.
//
//   drift = (provider - metered) / provider
//
// Positive: the provider billed more than we metered (calls outside ChatMeter,
// unmetered calls, a price table below the provider's). Negative: we metered
// more than the provider billed. When the provider reports no cost (0, or a
// credit below 0) the ratio is undefined: drift is 0 if we metered exactly the
// same, else null, and any difference then counts as past every threshold.

export interface DayComparison {
  meteredMicroUsd: number;
  providerMicroUsd: number;
  /** Percent with two decimals (basis points / 100), rounded half away from zero; null when undefined (see above). */
  driftPercent: number | null;
  overThreshold: boolean;
}

/** A percent (e.g. 5, 2.5) as whole basis points. */
export function basisPoints(percent: number): bigint {
  return BigInt(Math.round(percent * 100));
}

/** a / b rounded half away from zero (b > 0). */
function divRound(a: bigint, b: bigint): bigint {
  const negative = a < 0n;
  const abs = negative ? -a : a;
  const q = (abs * 2n + b) / (2n * b);
  return negative ? -q : q;
}

export function compareDay(meteredMicroUsd: number, providerMicroUsd: number, alertPercent: number): DayComparison {
  const m = BigInt(meteredMicroUsd);
  const p = BigInt(providerMicroUsd);
  if (p <= 0n) {
    const same = m === p;
    return { meteredMicroUsd, providerMicroUsd, driftPercent: same && p === 0n ? 0 : null, overThreshold: !same };
  }
  const diff = p - m;
  const abs = diff < 0n ? -diff : diff;
  // |p - m| / p > threshold  <=>  |p - m| x 10,000 > threshold_bp x p
  const overThreshold = abs * 10_000n > basisPoints(alertPercent) * p;
  return { meteredMicroUsd, providerMicroUsd, driftPercent: Number(divRound(diff * 10_000n, p)) / 100, overThreshold };
}
