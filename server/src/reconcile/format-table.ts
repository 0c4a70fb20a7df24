// The reconciliation as text (npm run reconcile): one row per UTC day with the
// metered and the provider's cost and the drift, days past the threshold marked.
import { formatMicroUsd } from '@chatmeter/shared/money';
import { renderTable } from '../planner/format-table.ts';
import { compareDay } from './drift.ts';
import type { ReconcileDay } from './reconcile-service.ts';

export function formatDrift(driftPercent: number | null, providerMicroUsd: number | null): string {
  if (providerMicroUsd === null) return '–';
  if (driftPercent === null) return 'n/a';
  return `${driftPercent > 0 ? '+' : ''}${driftPercent.toFixed(2)} %`;
}

export function formatReconcileTable(rows: readonly ReconcileDay[], alertPercent: number): string {
  const withProvider = rows.filter((r) => r.providerMicroUsd !== null);
  const metered = withProvider.reduce((s, r) => s + r.meteredMicroUsd, 0);
  const provider = withProvider.reduce((s, r) => s + r.providerMicroUsd!, 0);
  const total = compareDay(metered, provider, alertPercent);
  const table = renderTable([
    ['day (UTC)', 'metered', 'provider', 'drift', ''],
    ...rows.map((r) => [
      r.day,
      formatMicroUsd(r.meteredMicroUsd),
      r.providerMicroUsd === null ? '–' : formatMicroUsd(r.providerMicroUsd),
      formatDrift(r.driftPercent, r.providerMicroUsd),
      r.overThreshold ? '!' : '',
    ]),
    ['total', formatMicroUsd(metered), formatMicroUsd(provider), withProvider.length ? formatDrift(total.driftPercent, provider) : '–', ''],
  ]);
  const over = rows.filter((r) => r.overThreshold).length;
  return [
    `Metered cost against OpenAI's reported cost, per UTC day`,
    '',
    table,
    '',
    `drift = (provider - metered) / provider; ! marks a drift beyond RECONCILE_ALERT_PERCENT (${alertPercent} %): ${over} of ${rows.length} day${rows.length === 1 ? '' : 's'}.`,
    'Metered: chat usage of real models (the demo model is not a provider call).',
  ].join('\n');
}
