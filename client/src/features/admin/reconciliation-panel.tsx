// The overview's reconciliation panel: per closed UTC day, what ChatMeter metered
// against what OpenAI's Costs API reports (bars side by side), and a compact
// table of the drift with the days past RECONCILE_ALERT_PERCENT marked. Without
// figures it says how to get them (OPENAI_ADMIN_KEY, or npm run reconcile).
import { microsToUsd } from '@chatmeter/shared/money';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatDateTime } from '../../lib/format.ts';
import { formatCost, formatDay } from './admin-format.ts';
import { describeLastRun, formatDrift, reconcileWindow } from './reconcile-format.ts';
import { formatAxisUsd } from './usage-chart.tsx';
import { useReconciliation, type OverviewDays, type Reconciliation } from './use-admin.ts';
import './reconciliation-panel.css';
import { TableScroll } from '../../components/table-scroll.tsx';

export function ReconciliationPanel({ days }: { days: OverviewDays }) {
  const windowDays = reconcileWindow(days);
  const query = useReconciliation(windowDays);
  const data = query.data;
  return (
    <section className="panel reconcile-panel" aria-labelledby="reconcile-title">
      <div className="panel__head">
        <h2 id="reconcile-title" className="panel__title">
          Meter vs OpenAI&apos;s bill · {windowDays} days
        </h2>
        {data && data.totals.days > 0 ? (
          <span className={`badge ${data.days.some((d) => d.overThreshold) ? 'badge--warn' : 'badge--ok'}`}>
            {data.days.filter((d) => d.overThreshold).length} of {data.totals.days} days past {data.alertPercent} %
          </span>
        ) : null}
      </div>
      {query.error ? <ApiErrorAlert error={readApiError(query.error)} /> : null}
      {query.isPending ? <Spinner label="Reading the provider's figures…" /> : null}
      {data ? data.totals.days === 0 ? <EmptyState data={data} /> : <Figures data={data} /> : null}
    </section>
  );
}

function EmptyState({ data }: { data: Reconciliation }) {
  const lastRun = describeLastRun(data.lastRun, formatDateTime);
  return (
    <div className="reconcile-empty">
      <p>No figures from OpenAI for these days yet.</p>
      {data.configured ? (
        <p className="muted">
          <code>OPENAI_ADMIN_KEY</code> is set: once a day (after 06:00 UTC) ChatMeter reads OpenAI&apos;s costs of the last 7 days.{' '}
          <span className={lastRun.tone === 'error' ? 'admin-negative' : undefined}>{lastRun.text}</span>
        </p>
      ) : (
        <p className="muted">
          To compare the meter with what OpenAI bills, set <code>OPENAI_ADMIN_KEY</code> (an OpenAI admin key) on the server: ChatMeter then reads OpenAI&apos;s
          daily costs once a day and alerts the admins when a day drifts past <code>RECONCILE_ALERT_PERCENT</code> ({data.alertPercent} %). Without the key,
          import an export of OpenAI&apos;s Costs API with <code>npm run reconcile -- --file costs.json</code>.
        </p>
      )}
    </div>
  );
}

function Figures({ data }: { data: Reconciliation }) {
  const chart = data.days.map((d) => ({
    day: formatDay(d.day),
    metered: microsToUsd(d.meteredMicroUsd),
    provider: d.providerMicroUsd === null ? null : microsToUsd(d.providerMicroUsd),
    row: d,
  }));
  const rows = data.days.filter((d) => d.providerMicroUsd !== null).reverse();
  const missing = data.days.length - rows.length;
  const fromFile = rows.filter((d) => d.source === 'file').length;
  const lastRun = data.configured ? describeLastRun(data.lastRun, formatDateTime) : null;
  const summary = `Metered cost and OpenAI's reported cost per day, ${formatDay(data.days[0]!.day)} to ${formatDay(data.days.at(-1)!.day)}: ${formatCost(data.totals.meteredMicroUsd)} metered, ${formatCost(data.totals.providerMicroUsd)} reported.`;
  return (
    <>
      <dl className="stat-list reconcile-totals">
        <div className="stat-list__row">
          <dt>Metered</dt>
          <dd>{formatCost(data.totals.meteredMicroUsd)}</dd>
        </div>
        <div className="stat-list__row">
          <dt>OpenAI reports</dt>
          <dd>{formatCost(data.totals.providerMicroUsd)}</dd>
        </div>
        <div className="stat-list__row">
          <dt>Drift</dt>
          <dd>{formatDrift(data.totals.driftPercent, data.totals.providerMicroUsd)}</dd>
        </div>
      </dl>
      <figure className="admin-chart" aria-label={summary}>
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={chart} margin={{ top: 8, right: 4, bottom: 0, left: 0 }} barGap={1}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
            <XAxis dataKey="day" tick={{ fill: 'var(--muted)', fontSize: 12 }} tickLine={false} axisLine={{ stroke: 'var(--border-strong)' }} minTickGap={12} />
            <YAxis tickFormatter={formatAxisUsd} tick={{ fill: 'var(--muted)', fontSize: 12 }} tickLine={false} axisLine={false} width={56} />
            <Tooltip
              contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', borderRadius: 8, color: 'var(--text)' }}
              formatter={(_value, name, item) => {
                const row = (item as { payload?: { row: Reconciliation['days'][number] } }).payload?.row;
                if (!row) return ['', name];
                return name === 'Metered'
                  ? [formatCost(row.meteredMicroUsd), name]
                  : [`${formatCost(row.providerMicroUsd ?? 0)} (drift ${formatDrift(row.driftPercent, row.providerMicroUsd)})`, name];
              }}
            />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Bar dataKey="metered" name="Metered" fill="var(--accent)" radius={[3, 3, 0, 0]} maxBarSize={18} isAnimationActive={false} />
            <Bar dataKey="provider" name="OpenAI" fill="var(--warn, #d97706)" radius={[3, 3, 0, 0]} maxBarSize={18} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
        <figcaption className="visually-hidden">{summary}</figcaption>
      </figure>
      <TableScroll label="Reconciliation table" className="reconcile-table">
        <table className="admin-table" aria-label="Reconciliation by day">
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col" className="num">
                Metered
              </th>
              <th scope="col" className="num">
                OpenAI
              </th>
              <th scope="col" className="num">
                Drift
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.day} className={d.overThreshold ? 'reconcile-over' : undefined}>
                <td className="reconcile-day">{formatDay(d.day)}</td>
                <td className="num">{formatCost(d.meteredMicroUsd)}</td>
                <td className="num">{formatCost(d.providerMicroUsd ?? 0)}</td>
                <td className="num">
                  {formatDrift(d.driftPercent, d.providerMicroUsd)}
                  {d.overThreshold ? (
                    <span className="reconcile-flag" role="img" aria-label={`past ${data.alertPercent} %`} title={`Past ${data.alertPercent} %`}>
                      !
                    </span>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      <p className="muted admin-note">
        Drift = (OpenAI − metered) ÷ OpenAI, per UTC day; metered counts chat usage of real models (not the demo model). Above {data.alertPercent} % (
        <code>RECONCILE_ALERT_PERCENT</code>) the admins get an alert, once per day.
        {data.projectsOnly ? ' OpenAI figures: the projects in RECONCILE_PROJECT_IDS only.' : ''}
        {missing > 0 ? ` ${missing} day${missing === 1 ? '' : 's'} without a figure from OpenAI.` : ''}
        {fromFile > 0 ? ` ${fromFile === rows.length ? 'All' : fromFile} of these figures came from a file (npm run reconcile).` : ''}{' '}
        {lastRun ? (
          <span className={lastRun.tone === 'error' ? 'admin-negative' : undefined}>{lastRun.text}</span>
        ) : (
          'No OPENAI_ADMIN_KEY: the daily job does not run.'
        )}
      </p>
    </>
  );
}
