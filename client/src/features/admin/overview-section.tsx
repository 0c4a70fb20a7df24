// The overview: totals for today, 7 and 30 days, the daily chart, by model, top
// users, upgrade candidates, the month's projection against plan revenue, and
// the meter reconciled with the provider's bill.
import { OVERVIEW_DAYS } from '@chatmeter/shared/admin';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount, formatDateTime } from '../../lib/format.ts';
import { describeMargin, formatCompact, formatCost, formatShare } from './admin-format.ts';
import { ReconciliationPanel } from './reconciliation-panel.tsx';
import { UsageChart } from './usage-chart.tsx';
import { useOverview, type Overview, type OverviewDays, type Totals } from './use-admin.ts';
import { TableScroll } from '../../components/table-scroll.tsx';

const WINDOW_LABEL: Record<OverviewDays, string> = { 1: 'Today', 7: '7 days', 30: '30 days' };
const REASON_LABEL: Record<string, string> = {
  quota_exhausted: 'Quota used up',
  credits_exhausted: 'Credits used up',
  rate_limited: 'Rate limited',
  global_cap: 'Daily cap',
  kill_switch: 'Kill switch',
  blocked: 'Blocked',
  model_not_in_plan: 'Model not in plan',
  input_too_long: 'Input too long',
  conversation_too_long: 'Conversation too long',
  captcha_required: 'Captcha',
  tts_busy: 'Voice busy',
  provider_unavailable: 'Provider unavailable',
  provider_busy: 'Provider busy',
};

export function OverviewSection({ days, onDays, onOpenUser }: { days: OverviewDays; onDays(days: OverviewDays): void; onOpenUser(userId: string): void }) {
  const overview = useOverview(days);
  const data = overview.data;
  return (
    <div className="admin-stack">
      {overview.error ? <ApiErrorAlert error={readApiError(overview.error)} /> : null}
      {overview.isPending ? <Spinner label="Adding up usage…" /> : null}
      {data ? (
        <>
          <TotalsCards overview={data} />
          <section className="panel" aria-labelledby="chart-title">
            <div className="panel__head">
              <h2 id="chart-title" className="panel__title">
                Tokens and cost per day
              </h2>
              <div className="segmented" role="group" aria-label="Window">
                {OVERVIEW_DAYS.map((d) => (
                  <button key={d} type="button" className="segmented__item" aria-pressed={d === days} onClick={() => onDays(d)}>
                    {WINDOW_LABEL[d]}
                  </button>
                ))}
              </div>
            </div>
            <UsageChart series={data.series} />
            <p className="muted admin-note">
              Days are UTC. Updated {formatDateTime(data.generatedAt)}
              {overview.isFetching ? ' · refreshing…' : ''}.
            </p>
          </section>
          <div className="grid grid--2">
            <ProjectionPanel overview={data} />
            <ByModelPanel overview={data} />
          </div>
          <ReconciliationPanel days={days} />
          <div className="grid grid--2">
            <TopUsersPanel overview={data} onOpenUser={onOpenUser} />
            <CandidatesPanel overview={data} onOpenUser={onOpenUser} />
          </div>
        </>
      ) : null}
    </div>
  );
}

function TotalsCards({ overview }: { overview: Overview }) {
  const cards: [string, Totals][] = [
    ['Today', overview.totals.today],
    ['Last 7 days', overview.totals.last7],
    ['Last 30 days', overview.totals.last30],
  ];
  return (
    <div className="admin-cards">
      {cards.map(([label, t]) => (
        <section key={label} className="panel admin-card" aria-label={label}>
          <h2 className="admin-card__title">{label}</h2>
          <p className="admin-card__headline">
            <span className="admin-card__cost">{formatCost(t.costMicroUsd)}</span>
            <span className="muted"> · {formatCompact(t.tokens)} tokens</span>
          </p>
          <dl className="admin-figures">
            <Figure label="Requests" value={formatCount(t.requests)} />
            <Figure label="Active users" value={formatCount(t.activeUsers)} />
            <Figure label="Guests" value={formatCount(t.guests)} />
            <Figure label="Provider errors" value={formatCount(t.providerErrors)} tone={t.providerErrors > 0 ? 'warn' : undefined} />
            <Figure label="Refusals" value={formatCount(t.refusals.total)} />
            {t.ttsChars > 0 ? <Figure label="Speech" value={`${formatCompact(t.ttsChars)} chars`} /> : null}
          </dl>
          {t.refusals.total > 0 ? (
            <ul className="admin-reasons" aria-label={`Refusals ${label.toLowerCase()} by reason`}>
              {Object.entries(t.refusals.byReason)
                .sort(([, a], [, b]) => b - a)
                .map(([reason, count]) => (
                  <li key={reason}>
                    <span>{REASON_LABEL[reason] ?? reason}</span> <strong>{formatCount(count)}</strong>
                  </li>
                ))}
            </ul>
          ) : null}
        </section>
      ))}
    </div>
  );
}

function Figure({ label, value, tone }: { label: string; value: string; tone?: 'warn' | undefined }) {
  return (
    <div className={`admin-figure${tone ? ` admin-figure--${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function ProjectionPanel({ overview }: { overview: Overview }) {
  const p = overview.projection;
  const month = new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(p.monthStart);
  const margin = describeMargin(p.marginMicroUsd);
  return (
    <section className="panel" aria-labelledby="projection-title">
      <h2 id="projection-title" className="panel__title">
        {month}: projection and revenue
      </h2>
      <dl className="stat-list">
        <div className="stat-list__row">
          <dt>Provider cost so far</dt>
          <dd>{formatCost(p.costToDateMicroUsd)}</dd>
        </div>
        <div className="stat-list__row">
          <dt>Projected at month end</dt>
          <dd>{formatCost(p.projectedCostMicroUsd)}</dd>
        </div>
        <div className="stat-list__row">
          <dt>Plan revenue this month</dt>
          <dd>{formatCost(p.revenueMicroUsd)}</dd>
        </div>
        <div className="stat-list__row">
          <dt>Margin</dt>
          <dd className={`admin-margin admin-margin--${margin.tone}`}>{margin.text}</dd>
        </div>
      </dl>
      <p className="muted admin-note">
        {p.method === 'linear'
          ? `Trend: a straight line through the last ${p.trendDays} complete days (${formatCost(p.trendPerDayMicroUsd.today)} a day now, ${formatCost(p.trendPerDayMicroUsd.monthEnd)} by month end).`
          : p.method === 'average'
            ? 'Trend: the average of the few days there are so far.'
            : 'No usage yet to project from.'}{' '}
        Revenue a month:{' '}
        {p.paidPlans
          .map(
            (plan) =>
              `${formatCount(plan.users)} × ${plan.name}${plan.yearlyUsers > 0 ? ` (${formatCount(plan.yearlyUsers)} yearly, at a twelfth of the yearly price)` : ''}`,
          )
          .join(', ') || 'no paid plans'}
        .
      </p>
    </section>
  );
}

function ByModelPanel({ overview }: { overview: Overview }) {
  return (
    <section className="panel" aria-labelledby="models-title">
      <h2 id="models-title" className="panel__title">
        By model · {WINDOW_LABEL[overview.days].toLowerCase()}
      </h2>
      {overview.byModel.length === 0 ? (
        <p className="muted">No usage in this window.</p>
      ) : (
        <TableScroll label="Cost by model table">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col" className="num">
                  Requests
                </th>
                <th scope="col" className="num">
                  Tokens
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col" className="num">
                  Errors
                </th>
              </tr>
            </thead>
            <tbody>
              {overview.byModel.map((m) => (
                <tr key={`${m.kind}:${m.model}:${m.provider}`}>
                  <td>
                    {m.model || '—'}
                    {m.provider ? <span className="usage-table__model"> · {m.provider}</span> : null}
                    {m.kind !== 'chat' ? <span className="badge badge--quiet">{m.kind === 'tts' ? 'speech' : m.kind}</span> : null}
                  </td>
                  <td className="num">{formatCount(m.requests)}</td>
                  <td className="num">{m.kind === 'tts' ? `${formatCompact(m.ttsChars)} chars` : formatCompact(m.tokens)}</td>
                  <td className="num">{formatCost(m.costMicroUsd)}</td>
                  <td className="num">{m.errors ? formatCount(m.errors) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}

function TopUsersPanel({ overview, onOpenUser }: { overview: Overview; onOpenUser(userId: string): void }) {
  return (
    <section className="panel" aria-labelledby="top-title">
      <h2 id="top-title" className="panel__title">
        Top users by cost · {WINDOW_LABEL[overview.days].toLowerCase()}
      </h2>
      {overview.topUsers.length === 0 ? (
        <p className="muted">No usage in this window.</p>
      ) : (
        <TableScroll label="Top users table">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col" className="num">
                  Requests
                </th>
                <th scope="col" className="num">
                  Tokens
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
              </tr>
            </thead>
            <tbody>
              {overview.topUsers.map((u) => (
                <tr key={u.userId}>
                  <td>
                    <button type="button" className="link-button" onClick={() => onOpenUser(u.userId)}>
                      {u.email ?? (u.deleted ? 'Deleted account' : u.isGuest ? 'Guest' : u.userId.slice(0, 8))}
                    </button>
                    {u.plan ? <span className="badge badge--quiet">{u.plan}</span> : null}
                  </td>
                  <td className="num">{formatCount(u.requests)}</td>
                  <td className="num">{formatCompact(u.tokens)}</td>
                  <td className="num">{formatCost(u.costMicroUsd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}

function CandidatesPanel({ overview, onOpenUser }: { overview: Overview; onOpenUser(userId: string): void }) {
  const list = overview.upgradeCandidates;
  return (
    <section className="panel" aria-labelledby="candidates-title">
      <div className="panel__head">
        <h2 id="candidates-title" className="panel__title">
          Upgrade candidates
        </h2>
        {overview.upgradeCandidatesTotal > list.length ? <span className="muted">{formatCount(overview.upgradeCandidatesTotal)} in all</span> : null}
      </div>
      <p className="muted admin-note">Free accounts at 80 % or more of today&apos;s messages or this month&apos;s tokens.</p>
      {list.length === 0 ? (
        <p className="muted">Nobody is close to a limit right now.</p>
      ) : (
        <TableScroll label="Upgrade candidates table">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col" className="num">
                  Messages today
                </th>
                <th scope="col" className="num">
                  Tokens this month
                </th>
                <th scope="col" className="num">
                  Of limit
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.userId}>
                  <td>
                    <button type="button" className="link-button" onClick={() => onOpenUser(c.userId)}>
                      {c.email ?? c.userId.slice(0, 8)}
                    </button>
                  </td>
                  <td className="num">
                    {formatCount(c.messagesToday)} / {formatCount(c.messagesPerDay)}
                  </td>
                  <td className="num">
                    {formatCompact(c.tokensThisMonth)} / {formatCompact(c.tokensPerMonth)}
                  </td>
                  <td className="num">{formatShare(c.fraction)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}
