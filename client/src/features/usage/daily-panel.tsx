import { formatMicroUsd } from '@chatmeter/shared/money';
import { lazy, Suspense } from 'react';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount } from '../../lib/format.ts';
import { useUsageDaily } from './use-usage-extras.ts';
import { busiestDay, dailyPoints } from './usage-series.ts';

const DailyChart = lazy(() => import('./daily-chart.tsx'));

/** Tokens (bars) and cost (line) per UTC day over the last 30 days, from usage.daily. */
export function DailyPanel() {
  const daily = useUsageDaily(30);
  const points = daily.data ? dailyPoints(daily.data.days) : [];
  const busiest = busiestDay(points);
  return (
    <section className="panel" aria-labelledby="daily-title">
      <div className="panel__head">
        <h2 id="daily-title" className="panel__title">
          Last 30 days
        </h2>
        {daily.data ? (
          <span className="muted usage-note">
            {formatCount(daily.data.totals.tokens)} tokens · {formatMicroUsd(daily.data.totals.costMicroUsd)} · {formatCount(daily.data.totals.messages)}{' '}
            messages
          </span>
        ) : null}
      </div>
      {daily.isPending ? <Spinner label="Loading the last 30 days…" /> : null}
      {daily.error ? <ApiErrorAlert error={readApiError(daily.error)} /> : null}
      {daily.data ? (
        busiest ? (
          <div
            className="usage-chart"
            role="img"
            aria-label={`Tokens and cost per day over the last 30 days. Busiest day ${busiest.label}: ${formatCount(busiest.tokens)} tokens.`}
          >
            <Suspense fallback={<Spinner label="Drawing the chart…" />}>
              <DailyChart points={points} />
            </Suspense>
          </div>
        ) : (
          <p className="muted">No usage in the last 30 days yet.</p>
        )
      ) : null}
    </section>
  );
}
