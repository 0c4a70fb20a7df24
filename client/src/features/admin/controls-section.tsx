// The global controls: the kill switch (with a confirmation), the daily
// token cap and the daily and monthly provider-cost caps in dollars. Support sees them read-only; only an admin can change them (the
// server enforces it too). Admins also see each paid plan's economics.
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount, formatDateTime } from '../../lib/format.ts';
import { TableScroll } from '../../components/table-scroll.tsx';
import { worstCaseSteps } from '../planner/worst-case.ts';
import { capUsdText, describeMargin, formatCost, parseCapUsd } from './admin-format.ts';
import { useAdminSettings, usePlanEconomics, useUpdateSettings, type AdminSettings, type PlanEconomicsRow } from './use-admin.ts';

export function ControlsSection({ isAdmin }: { isAdmin: boolean }) {
  const settings = useAdminSettings();
  return (
    <div className="admin-stack">
      {settings.error ? <ApiErrorAlert error={readApiError(settings.error)} /> : null}
      {settings.isPending ? <Spinner label="Loading settings…" /> : null}
      {settings.data ? (
        <>
          <KillSwitchPanel settings={settings.data} isAdmin={isAdmin} />
          <DailyCapPanel settings={settings.data} isAdmin={isAdmin} />
          <CostCapPanel
            isAdmin={isAdmin}
            field="maxCostPerDayMicroUsd"
            id="cost-day"
            title="Daily spending cap"
            period="today (UTC)"
            envName="MAX_COST_PER_DAY_USD"
            own={settings.data.maxCostPerDayMicroUsd}
            fallback={settings.data.defaultMaxCostPerDayMicroUsd}
            cap={settings.data.effectiveMaxCostPerDayMicroUsd}
            used={settings.data.costUsedTodayMicroUsd}
          />
          <CostCapPanel
            isAdmin={isAdmin}
            field="maxCostPerMonthMicroUsd"
            id="cost-month"
            title="Monthly spending cap"
            period="this calendar month (UTC)"
            envName="MAX_COST_PER_MONTH_USD"
            own={settings.data.maxCostPerMonthMicroUsd}
            fallback={settings.data.defaultMaxCostPerMonthMicroUsd}
            cap={settings.data.effectiveMaxCostPerMonthMicroUsd}
            used={settings.data.costUsedThisMonthMicroUsd}
          />
          <RetentionPanel settings={settings.data} />
        </>
      ) : null}
      {isAdmin ? <PlanEconomicsPanel /> : null}
    </div>
  );
}

function PlanEconomicsPanel() {
  const economics = usePlanEconomics(true);
  const rows = economics.data?.plans;
  return (
    <section className="panel" aria-labelledby="economics-title">
      <h2 id="economics-title" className="panel__title">
        Plan economics
      </h2>
      <p className="muted">
        What one user of each paid plan can cost in provider fees in a month at most (its whole token allowance at its dearest model&apos;s output price, plus
        priced speech, capped by the plan&apos;s dollar cap), and what is left of the price.
      </p>
      {economics.error ? <ApiErrorAlert error={readApiError(economics.error)} /> : null}
      {economics.isPending ? <Spinner label="Loading plan economics…" /> : null}
      {rows && rows.length === 0 ? <p className="muted">No paid plans.</p> : null}
      {rows && rows.length > 0 ? (
        <TableScroll label="Plan economics table">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">Plan</th>
                <th scope="col" className="num">
                  Price / month
                </th>
                <th scope="col" className="num">
                  Worst case
                </th>
                <th scope="col" className="num">
                  Margin
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <EconomicsRow key={row.plan} row={row} />
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {rows?.some((r) => r.canLoseMoney) ? (
        <p className="admin-negative">A plan that can lose money needs a dollar cap (limits.costPerMonthMicroUsd) or a higher price.</p>
      ) : null}
      <p className="muted admin-note">
        The <Link to="/planner">cost planner</Link> shows how each figure is worked out.
      </p>
    </section>
  );
}

function EconomicsRow({ row }: { row: PlanEconomicsRow }) {
  const monthly = describeMargin(row.marginMicroUsd);
  const yearly = row.yearlyMarginMicroUsd === null ? null : describeMargin(row.yearlyMarginMicroUsd);
  return (
    <tr>
      <td>
        {row.name}
        {row.canLoseMoney ? <span className="badge badge--danger">can lose money</span> : null}
      </td>
      <td className="num">
        {formatCost(row.priceMonthlyMicroUsd)}
        {row.yearlyMonthlyEquivalentMicroUsd !== null ? <div className="muted">{formatCost(row.yearlyMonthlyEquivalentMicroUsd)} yearly</div> : null}
      </td>
      <td className="num" title={worstCaseSteps(row).join(' ')}>
        {formatCost(row.worstCaseMicroUsd)}
        <div className="muted">{row.capped ? 'the plan’s cap' : row.model ? row.model.label : 'no priced model'}</div>
      </td>
      <td className="num">
        <span className={`admin-margin admin-margin--${monthly.tone}`}>{monthly.text}</span>
        {yearly ? <div className={`admin-margin admin-margin--${yearly.tone}`}>{yearly.text} yearly</div> : null}
      </td>
    </tr>
  );
}

function KillSwitchPanel({ settings, isAdmin }: { settings: AdminSettings; isAdmin: boolean }) {
  const update = useUpdateSettings();
  const [confirming, setConfirming] = useState(false);
  const on = settings.killSwitch;
  const flip = () => update.mutate({ killSwitch: !on }, { onSuccess: () => setConfirming(false) });
  return (
    <section className="panel" aria-labelledby="kill-title">
      <div className="panel__head">
        <h2 id="kill-title" className="panel__title">
          Kill switch
        </h2>
        <span className={`badge ${on ? 'badge--danger' : 'badge--ok'}`} role="status">
          {on ? 'Chat is paused' : 'Chat is running'}
        </span>
      </div>
      <p className="muted">
        {on
          ? 'Every new chat message is refused with kill_switch until it is turned off. Messages already streaming finish.'
          : 'Turning it on refuses every new chat message at once, for everyone, until it is turned off again.'}
      </p>
      {update.error ? <ApiErrorAlert key={update.submittedAt} error={readApiError(update.error)} /> : null}
      {!isAdmin ? (
        <p className="muted">Only an admin can change this.</p>
      ) : confirming ? (
        <div className="confirm" role="group" aria-labelledby="kill-confirm-text">
          <p id="kill-confirm-text">{on ? 'Resume chat for everyone?' : 'Pause chat for everyone now?'}</p>
          <div className="confirm__actions">
            <button type="button" className={`btn ${on ? 'btn--primary' : 'btn--danger'}`} onClick={flip} disabled={update.isPending} autoFocus>
              {update.isPending ? 'Saving…' : on ? 'Yes, resume chat' : 'Yes, pause chat'}
            </button>
            <button type="button" className="btn btn--ghost" onClick={() => setConfirming(false)} disabled={update.isPending}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <button type="button" className={`btn ${on ? 'btn--secondary' : 'btn--danger-outline'}`} onClick={() => setConfirming(true)}>
          {on ? 'Resume chat…' : 'Pause chat…'}
        </button>
      )}
      {settings.updatedAt ? <p className="muted admin-note">Last changed {formatDateTime(settings.updatedAt)}.</p> : null}
    </section>
  );
}

function DailyCapPanel({ settings, isAdmin }: { settings: AdminSettings; isAdmin: boolean }) {
  const update = useUpdateSettings();
  const [value, setValue] = useState(settings.maxTokensPerDay === null ? '' : String(settings.maxTokensPerDay));
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const used = settings.tokensUsedToday;
  const cap = settings.effectiveMaxTokensPerDay;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSaved(false);
    const text = value.replace(/[,_\s]/g, '');
    if (text !== '' && !/^\d{1,15}$/.test(text)) {
      setError('Enter a whole number of tokens, or leave it empty for the default');
      return;
    }
    setError(undefined);
    update.mutate({ maxTokensPerDay: text === '' ? null : Number(text) }, { onSuccess: () => setSaved(true) });
  };
  return (
    <section className="panel" aria-labelledby="cap-title">
      <h2 id="cap-title" className="panel__title">
        Daily token cap
      </h2>
      <p>
        <strong>{formatCount(used)}</strong> of {formatCount(cap)} tokens used today (UTC)
        {settings.maxTokensPerDay === null ? ` · the default from MAX_TOKENS_PER_DAY` : ''}.
      </p>
      <div
        className="admin-meter"
        role="progressbar"
        aria-label="Tokens used of today's cap"
        aria-valuemin={0}
        aria-valuemax={cap}
        aria-valuenow={Math.min(used, cap)}
      >
        <span style={{ width: `${cap > 0 ? Math.min(100, (used / cap) * 100) : 100}%` }} />
      </div>
      {isAdmin ? (
        <form className="admin-inline-form" onSubmit={submit} noValidate>
          <div className={`field${error ? ' field--invalid' : ''}`}>
            <label className="field__label" htmlFor="daily-cap">
              Cap (tokens per day)
            </label>
            <div className="field__control">
              <input
                id="daily-cap"
                inputMode="numeric"
                value={value}
                placeholder={`Default: ${formatCount(settings.defaultMaxTokensPerDay)}`}
                onChange={(e) => setValue(e.target.value)}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? 'daily-cap-error' : undefined}
              />
            </div>
            {error ? (
              <p className="field__error" id="daily-cap-error">
                {error}
              </p>
            ) : null}
          </div>
          <button type="submit" className="btn btn--primary" disabled={update.isPending}>
            {update.isPending ? 'Saving…' : 'Save cap'}
          </button>
        </form>
      ) : (
        <p className="muted">Only an admin can change this.</p>
      )}
      {update.error ? <ApiErrorAlert key={update.submittedAt} error={readApiError(update.error)} /> : null}
      {saved && !update.isPending ? <StatusNotice>Daily cap saved.</StatusNotice> : null}
    </section>
  );
}

interface CostCapProps {
  isAdmin: boolean;
  field: 'maxCostPerDayMicroUsd' | 'maxCostPerMonthMicroUsd';
  id: string;
  title: string;
  period: string;
  envName: string;
  /** The admin's value (null: the environment's). */
  own: number | null;
  /** The environment's (null: unset). */
  fallback: number | null;
  /** The one in force (null: no cap). */
  cap: number | null;
  used: number;
}

/** A global provider-cost cap in dollars: what is used of it, and (for an admin) the field that sets it. */
function CostCapPanel({ isAdmin, field, id, title, period, envName, own, fallback, cap, used }: CostCapProps) {
  const update = useUpdateSettings();
  const [value, setValue] = useState(capUsdText(own));
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSaved(false);
    const parsed = parseCapUsd(value);
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    setError(undefined);
    update.mutate({ [field]: parsed.micros }, { onSuccess: () => setSaved(true) });
  };
  const source = own !== null ? '' : fallback !== null ? ` · the default from ${envName}` : '';
  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="panel__title">
        {title}
      </h2>
      {cap === null ? (
        <p>
          <strong>{formatCost(used)}</strong> of provider cost {period} · no cap ({envName} is not set).
        </p>
      ) : (
        <>
          <p>
            <strong>{formatCost(used)}</strong> of {formatCost(cap)} used {period}
            {source}.
          </p>
          <div
            className="admin-meter"
            role="progressbar"
            aria-label={`Provider cost of ${title.toLowerCase()}`}
            aria-valuemin={0}
            aria-valuemax={cap}
            aria-valuenow={Math.min(used, cap)}
            aria-valuetext={`${formatCost(used)} of ${formatCost(cap)}`}
          >
            <span style={{ width: `${cap > 0 ? Math.min(100, (used / cap) * 100) : 100}%` }} />
          </div>
        </>
      )}
      <p className="muted">
        Counts settled provider cost plus the worst case of what is still being answered; a reply that does not fit is shortened or refused.
      </p>
      {isAdmin ? (
        <form className="admin-inline-form" onSubmit={submit} noValidate>
          <div className={`field${error ? ' field--invalid' : ''}`}>
            <label className="field__label" htmlFor={id}>
              Cap (US dollars)
            </label>
            <div className="field__control">
              <input
                id={id}
                inputMode="decimal"
                value={value}
                placeholder={fallback === null ? 'Default: none' : `Default: ${formatCost(fallback)}`}
                onChange={(e) => setValue(e.target.value)}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? `${id}-error` : undefined}
              />
            </div>
            {error ? (
              <p className="field__error" id={`${id}-error`}>
                {error}
              </p>
            ) : null}
          </div>
          <button type="submit" className="btn btn--primary" disabled={update.isPending}>
            {update.isPending ? 'Saving…' : 'Save cap'}
          </button>
        </form>
      ) : (
        <p className="muted">Only an admin can change this.</p>
      )}
      {update.error ? <ApiErrorAlert key={update.submittedAt} error={readApiError(update.error)} /> : null}
      {saved && !update.isPending ? <StatusNotice>{title} saved.</StatusNotice> : null}
    </section>
  );
}

function RetentionPanel({ settings }: { settings: AdminSettings }) {
  const r = settings.retention;
  const last = r.lastRun;
  const result = last?.result as { usageEventsDeleted?: number; messagesDeleted?: number } | null | undefined;
  return (
    <section className="panel" aria-labelledby="retention-title">
      <h2 id="retention-title" className="panel__title">
        Retention
      </h2>
      <dl className="stat-list">
        <div className="stat-list__row">
          <dt>Raw usage events</dt>
          <dd>{formatCount(r.retentionDays)} days (daily totals are kept)</dd>
        </div>
        <div className="stat-list__row">
          <dt>Chat messages</dt>
          <dd>{r.messageRetentionDays ? `${formatCount(r.messageRetentionDays)} days` : 'kept'}</dd>
        </div>
        <div className="stat-list__row">
          <dt>Last run</dt>
          <dd>
            {last
              ? `${formatDateTime(last.startedAt)}${result ? ` · ${formatCount(result.usageEventsDeleted ?? 0)} events, ${formatCount(result.messagesDeleted ?? 0)} messages removed` : ''}`
              : 'not yet'}
          </dd>
        </div>
      </dl>
    </section>
  );
}
