import { formatMicroUsd } from '@chatmeter/shared/money';
import { Link } from 'react-router';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount, formatDateTime, formatRelativeTime } from '../../lib/format.ts';
import { useMe } from '../auth/use-me.ts';
import { planName, usePlans, type Plan } from '../billing/use-plans.ts';
import { PageHeader } from '../shell/page-header.tsx';
import { describeReset, formatLimitAmount, levelOf, limitRows, usedFraction, type LimitRow } from './usage-math.ts';
import { useUsageHistory, useUsageSummary, type UsageEvent, type UsageSummary } from './use-usage.ts';
import { BreakdownPanel } from './breakdown-panel.tsx';
import { DailyPanel } from './daily-panel.tsx';
import { ExportPanel } from './export-panel.tsx';
import { PreferencesPanel } from './preferences-panel.tsx';
import { SpendLimitPanel } from './spend-limit-panel.tsx';
import './usage.css';
import './usage-extras.css';
import { TableScroll } from '../../components/table-scroll.tsx';

const periodFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

export function UsagePage() {
  const { data: me } = useMe();
  const plans = usePlans();
  const summary = useUsageSummary();
  const plan = plans.data?.find((p) => p.id === summary.data?.plan);
  return (
    <div className="page">
      <PageHeader
        title="Usage"
        description={
          summary.data ? (
            <>
              {planName(plans.data, summary.data.plan)} plan · this period {periodFormat.format(summary.data.period.start)} –{' '}
              {periodFormat.format(new Date(summary.data.period.end.getTime() - 1))}
            </>
          ) : (
            'What you have used of your plan, and what it cost.'
          )
        }
        actions={
          me?.isGuest ? (
            <Link to="/sign-up" className="btn btn--primary">
              Sign up for more
            </Link>
          ) : (
            <Link to="/billing" className="btn btn--secondary">
              Plans and credits
            </Link>
          )
        }
      />
      {summary.isPending ? <Spinner label="Loading your usage…" /> : null}
      {summary.error ? <ApiErrorAlert error={readApiError(summary.error)} /> : null}
      {summary.data ? (
        <>
          <div className="grid grid--usage">
            <LimitsPanel summary={summary.data} />
            <div className="usage-side">
              <CostPanel summary={summary.data} isGuest={me?.isGuest ?? true} />
              <SpendLimitPanel summary={summary.data} />
              {plan ? (
                <section className="panel" aria-labelledby="plan-limits-title">
                  <h2 id="plan-limits-title" className="panel__title">
                    {plan.name} plan
                  </h2>
                  <PlanLimits plan={plan} />
                </section>
              ) : null}
            </div>
          </div>
          <BreakdownPanel />
          <DailyPanel />
          <HistoryPanel />
          <div className="grid grid--2">
            <PreferencesPanel planId={summary.data.plan} isGuest={me?.isGuest ?? true} />
            <ExportPanel />
          </div>
        </>
      ) : null}
    </div>
  );
}

function LimitsPanel({ summary }: { summary: UsageSummary }) {
  const now = new Date();
  const rows = limitRows(summary, now);
  return (
    <section className="panel" aria-labelledby="limits-title">
      <div className="panel__head">
        <h2 id="limits-title" className="panel__title">
          Limits
        </h2>
        <span className="muted usage-note">Periods are counted in UTC</span>
      </div>
      <ul className="limit-list">
        {rows.map((row) => (
          <LimitBar key={row.id} row={row} now={now} />
        ))}
      </ul>
    </section>
  );
}

function LimitBar({ row, now }: { row: LimitRow; now: Date }) {
  const level = levelOf(row.used, row.limit);
  const percent = Math.round(usedFraction(row.used, row.limit) * 100);
  const labelId = `limit-${row.id}`;
  const used = formatLimitAmount(row, row.used);
  const limit = formatLimitAmount(row, row.limit);
  const unit = row.unit ? ` ${row.unit}` : '';
  return (
    <li className={`limit limit--${level}`}>
      <div className="limit__head">
        <span id={labelId} className="limit__label">
          {row.label}
        </span>
        <span className="limit__value">
          <strong>{used}</strong> of {limit}
          {unit}
        </span>
      </div>
      <div
        className="limit__bar"
        role="progressbar"
        aria-labelledby={labelId}
        aria-valuemin={0}
        aria-valuemax={row.limit}
        aria-valuenow={Math.min(row.used, row.limit)}
        aria-valuetext={`${used} of ${limit}${unit} used`}
      >
        <span style={{ width: `${percent}%` }} />
      </div>
      <p className="limit__reset">
        {level === 'full' ? 'Limit reached. ' : `${formatLimitAmount(row, Math.max(0, row.limit - row.used))} left. `}
        {row.rolling ? (
          'Frees up within a minute.'
        ) : (
          <time dateTime={row.resetAt.toISOString()} title={formatDateTime(row.resetAt)}>
            {describeReset(row.resetAt, now)}
          </time>
        )}
      </p>
    </li>
  );
}

function CostPanel({ summary, isGuest }: { summary: UsageSummary; isGuest: boolean }) {
  return (
    <section className="panel" aria-labelledby="cost-title">
      <h2 id="cost-title" className="panel__title">
        Cost
      </h2>
      <dl className="figures">
        <div className="figure">
          <dt>This period</dt>
          <dd>{formatMicroUsd(summary.costMicroUsd.thisMonth)}</dd>
        </div>
        <div className="figure">
          <dt>Lifetime</dt>
          <dd>{formatMicroUsd(summary.costMicroUsd.lifetime)}</dd>
        </div>
        {!isGuest ? (
          <div className="figure">
            <dt>Credits</dt>
            <dd>
              {formatCount(summary.credits.tokens)} <span className="figure__unit">tokens</span>
            </dd>
          </div>
        ) : null}
      </dl>
      <p className="muted usage-note">What the provider charges for your tokens, to the micro-dollar. Your plan price is billed separately.</p>
    </section>
  );
}

function HistoryPanel() {
  const history = useUsageHistory();
  const items = history.data?.pages.flatMap((page) => page.items) ?? [];
  const now = new Date();
  return (
    <section className="panel usage-history" aria-labelledby="history-title">
      <div className="panel__head">
        <h2 id="history-title" className="panel__title">
          Recent activity
        </h2>
        {history.isFetching && !history.isFetchingNextPage && history.data ? <Spinner /> : null}
      </div>
      {history.isPending ? <Spinner label="Loading activity…" /> : null}
      {history.error ? <ApiErrorAlert error={readApiError(history.error)} /> : null}
      {history.data && items.length === 0 ? <p className="muted">Nothing yet. Every message you send is listed here with its tokens and cost.</p> : null}
      {items.length > 0 ? (
        <TableScroll label="Activity table">
          <table className="usage-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col" className="num">
                  Tokens in / out
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <HistoryRow key={item.id} item={item} now={now} />
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {history.hasNextPage ? (
        <button type="button" className="btn btn--secondary" onClick={() => void history.fetchNextPage()} disabled={history.isFetchingNextPage}>
          {history.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}

const KIND_LABEL: Record<string, string> = { chat: 'Chat', tts: 'Speech' };

function HistoryRow({ item, now }: { item: UsageEvent; now: Date }) {
  const ok = item.status === 'ok' || item.status === 'cached';
  return (
    <tr>
      <td>
        <time dateTime={item.createdAt.toISOString()} title={formatDateTime(item.createdAt)}>
          {formatRelativeTime(item.createdAt, now)}
        </time>
      </td>
      <td>
        {KIND_LABEL[item.kind] ?? item.kind}
        {item.model ? (
          <span className="usage-table__model">
            {' '}
            · {item.model}
            {item.provider ? ` · ${item.provider}` : ''}
          </span>
        ) : null}
      </td>
      <td className="num">
        {formatCount(item.promptTokens)} / {formatCount(item.completionTokens)}
      </td>
      <td className="num">{formatMicroUsd(item.costMicroUsd)}</td>
      <td>
        <span className={`badge${ok ? '' : ' badge--warn'}`}>{STATUS_LABEL[item.status] ?? item.status}</span>
        {item.estimated ? (
          <span className="badge badge--quiet" title="No usage from the provider: counted from the text">
            estimated
          </span>
        ) : null}
      </td>
    </tr>
  );
}

const STATUS_LABEL: Record<string, string> = { ok: 'ok', cached: 'cached', aborted: 'stopped', error: 'failed', expired: 'expired' };

export function PlanLimits({ plan }: { plan: Plan }) {
  const rows: [string, string][] = [
    ['Messages per hour', formatCount(plan.limits.messagesPerHour)],
    ['Messages per day', formatCount(plan.limits.messagesPerDay)],
    ['Tokens per month', formatCount(plan.limits.tokensPerMonth)],
    ['Longest message', `${formatCount(plan.limits.maxInputChars)} characters`],
    ['Messages per conversation', formatCount(plan.limits.maxConversationMessages)],
    ['Text to speech per day', `${formatCount(plan.limits.ttsCharsPerDay)} characters`],
    ['Models', plan.limits.models.join(', ')],
  ];
  const cap = plan.limits.costPerMonthMicroUsd;
  if (cap !== null && cap !== undefined) rows.splice(3, 0, ['Provider cost per month', `up to ${formatMicroUsd(cap)}`]);
  if (plan.limits.fallbackModel) rows.push(['When the budget runs low', `answers with ${plan.limits.fallbackModel}`]);
  return (
    <dl className="stat-list">
      {rows.map(([label, value]) => (
        <div key={label} className="stat-list__row">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
