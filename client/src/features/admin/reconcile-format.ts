// Display helpers of the reconciliation panel: pure functions, unit-tested.
import type { OverviewDays } from './use-admin.ts';

/** The panel's window follows the overview's: a week for "Today" and "7 days", else 30 closed days. */
export function reconcileWindow(days: OverviewDays): 7 | 30 {
  return days === 30 ? 30 : 7;
}

/**
 * '+10.00 %' (the provider billed more), '-3.50 %' (we metered more), '0.00 %';
 * 'n/a' when the provider reports nothing for a day we metered; '–' without a provider figure.
 */
export function formatDrift(driftPercent: number | null, providerMicroUsd: number | null): string {
  if (providerMicroUsd === null) return '–';
  if (driftPercent === null) return 'n/a';
  const sign = driftPercent > 0 ? '+' : driftPercent < 0 ? '−' : '';
  return `${sign}${Math.abs(driftPercent).toFixed(2)} %`;
}

export interface LastRunView {
  tone: 'ok' | 'error' | 'none';
  text: string;
}

/** What job_runs says about the last daily run (its result is stored JSON). */
export function describeLastRun(lastRun: { startedAt: Date; finishedAt: Date | null; result: unknown } | null, format: (d: Date) => string): LastRunView {
  if (!lastRun) return { tone: 'none', text: 'The daily job has not run yet.' };
  const result = (lastRun.result ?? {}) as { ok?: boolean; error?: string; days?: number };
  if (!lastRun.finishedAt) return { tone: 'none', text: `Running since ${format(lastRun.startedAt)}.` };
  if (result.ok === false)
    return { tone: 'error', text: `Last run ${format(lastRun.startedAt)} failed: ${result.error ?? 'unknown error'}. It is tried again within the hour.` };
  return { tone: 'ok', text: `Last run ${format(lastRun.startedAt)}: ${result.days ?? 0} days read from OpenAI.` };
}
