import { formatMicroUsd } from '@chatmeter/shared/money';
import { formatPlannerCost as cost, type TObservedColumn, type TPlannerFigures } from '@chatmeter/shared/planner';
import { useId, useMemo, useState, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount } from '../../lib/format.ts';
import { PageHeader } from '../shell/page-header.tsx';
import { chartRows, COLUMN_LABELS, INITIAL_FORM, plannerInputs, type ColumnId, type FieldErrors, type PlannerForm } from './planner-math.ts';
import { useDebounced, useEstimates, usePlannerModels, useWorstCase, type PlannerEstimate } from './use-planner.ts';
import { defaultWorstCasePlan, marginLines, worstCaseSteps } from './worst-case.ts';
import { usePlans } from '../billing/use-plans.ts';
import './planner.css';
import { TableScroll } from '../../components/table-scroll.tsx';

const COLUMNS: readonly ColumnId[] = ['light', 'medium', 'heavy', 'custom'];

interface Column {
  id: string;
  name: string;
  perInteraction: string;
  interactions: string;
  figures: TPlannerFigures | null;
  note?: string;
}

/**
 * The cost planner, open to everyone: what N users a day cost in tokens and
 * dollars under the three usage profiles and custom figures, and (for staff)
 * what this server's own recent usage says.
 */
export function PlannerPage() {
  const [form, setForm] = useState<PlannerForm>(INITIAL_FORM);
  const models = usePlannerModels();
  const settled = useDebounced(form);
  const checked = useMemo(() => plannerInputs(settled), [settled]);
  const live = plannerInputs(form);
  const results = useEstimates(checked.ok ? checked.inputs : null, COLUMNS);
  const errors: FieldErrors = live.ok ? {} : live.errors;
  const failed = results.find((r) => r.error)?.error;
  const estimates = results.map((r) => r.data);
  const fromYourData = estimates.find((e) => e)?.fromYourData;
  const pricing = estimates.find((e) => e)?.pricing;

  const set =
    <K extends keyof PlannerForm>(key: K) =>
    (value: PlannerForm[K]) =>
      setForm((f) => ({ ...f, [key]: value }));

  const columns: Column[] = [
    ...COLUMNS.map((id, i): Column => {
      const e = estimates[i];
      return {
        id,
        name: COLUMN_LABELS[id],
        perInteraction: e ? `${formatCount(e.promptTokens)} + ${formatCount(e.completionTokens)}` : '–',
        interactions: e ? formatCount(e.interactionsPerUserPerDay) : '–',
        figures: e ?? null,
      };
    }),
    ...observedColumns(fromYourData),
  ];

  return (
    <div className="page planner">
      <PageHeader
        title="Cost planner"
        description="How many tokens a number of daily users consume, and what that costs with the model's prices or a flat price per 1,000 tokens. A month is 30 days."
      />
      <section className="panel" aria-labelledby="planner-inputs">
        <h2 id="planner-inputs" className="panel__title">
          Assumptions
        </h2>
        <div className="planner__inputs">
          <NumberField label="Users a day" value={form.users} onChange={set('users')} error={errors.users} min={1} />
          <fieldset className="planner__pricing">
            <legend className="field__label">Price</legend>
            <label className="planner__radio">
              <input type="radio" name="pricing" checked={form.pricing === 'model'} onChange={() => set('pricing')('model')} /> A model&apos;s prices
            </label>
            <label className="planner__radio">
              <input type="radio" name="pricing" checked={form.pricing === 'flat'} onChange={() => set('pricing')('flat')} /> A flat price
            </label>
          </fieldset>
          {form.pricing === 'model' ? (
            <label className="field">
              <span className="field__label">Model</span>
              <select
                className="planner__select"
                value={form.model || models.data?.[0]?.model || ''}
                onChange={(event) => set('model')(event.target.value)}
                disabled={!models.data}
              >
                {models.data?.map((m) => (
                  <option key={m.model} value={m.model}>
                    {m.label} — {formatMicroUsd(m.inputMicrosPerMillion)} in / {formatMicroUsd(m.outputMicrosPerMillion)} out per 1M
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <NumberField label="USD per 1,000 tokens" value={form.pricePer1k} onChange={set('pricePer1k')} error={errors.pricePer1k} min={0} step="0.001" />
          )}
        </div>
        <h3 className="planner__subtitle">Your figures (the last column)</h3>
        <div className="planner__inputs">
          <NumberField label="Prompt tokens per message" value={form.promptTokens} onChange={set('promptTokens')} error={errors.promptTokens} min={0} />
          <NumberField
            label="Answer tokens per message"
            value={form.completionTokens}
            onChange={set('completionTokens')}
            error={errors.completionTokens}
            min={0}
          />
          <NumberField label="Messages per user a day" value={form.interactions} onChange={set('interactions')} error={errors.interactions} min={0} />
        </div>
      </section>

      {failed ? <ApiErrorAlert error={readApiError(failed)} /> : null}

      <section className="panel" aria-labelledby="planner-results">
        <div className="panel__head">
          <h2 id="planner-results" className="panel__title">
            {checked.ok ? `${formatCount(checked.inputs.medium.users)} users a day` : 'Estimate'}
          </h2>
          {pricing ? <span className="muted planner__note">{pricing.source === 'flat' ? pricing.label : `${pricing.label} prices`}</span> : null}
        </div>
        <TableScroll label="Estimate table">
          <table className="usage-table planner__table">
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Figure</span>
                </th>
                {columns.map((c) => (
                  <th key={c.id} scope="col" className={`num${c.id.startsWith('observed') ? ' planner__observed' : ''}`}>
                    {c.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              <Row label="Prompt + answer tokens" columns={columns} cell={(c) => c.perInteraction} />
              <Row label="Messages per user a day" columns={columns} cell={(c) => c.interactions} />
              <Row label="Tokens per day" columns={columns} cell={(c) => (c.figures ? formatCount(c.figures.tokensPerDay) : (c.note ?? '–'))} />
              <Row label="Tokens per month" columns={columns} cell={(c) => (c.figures ? formatCount(c.figures.tokensPerMonth) : '–')} />
              <Row label="Cost per day" columns={columns} cell={(c) => (c.figures ? cost(c.figures.costMicroUsdPerDay) : '–')} />
              <Row label="Cost per month" columns={columns} cell={(c) => (c.figures ? <strong>{cost(c.figures.costMicroUsdPerMonth)}</strong> : '–')} />
            </tbody>
          </table>
        </TableScroll>
        <p className="muted planner__note">
          Cost = tokens × price. Light is 50 + 150 tokens five times a day, medium 150 + 350 five times, heavy 300 + 700 ten times. The provider&apos;s own
          usage figures, not these estimates, are what ChatMeter meters and charges.
        </p>
        {fromYourData && !fromYourData.visible ? (
          <p className="muted planner__note">Signed in as support or admin, this table adds this server&apos;s real averages of the last 7 and 30 days.</p>
        ) : null}
      </section>

      <WorstCasePanel />

      <section className="panel" aria-labelledby="planner-chart">
        <h2 id="planner-chart" className="panel__title">
          Cost per month
        </h2>
        <CostChart rows={chartRows(columns)} />
      </section>
    </div>
  );
}

/** The fourth question: what one user of a plan can cost in provider fees at most, and how that is worked out. */
function WorstCasePanel() {
  const plans = usePlans();
  const [chosen, setChosen] = useState<string>();
  const plan = chosen ?? (plans.data ? defaultWorstCasePlan(plans.data) : undefined);
  const worst = useWorstCase(plan);
  const row = worst.data;
  const name = plans.data?.find((p) => p.id === plan)?.name ?? 'Pro';
  return (
    <section className="panel" aria-labelledby="planner-worst">
      <h2 id="planner-worst" className="panel__title">
        What does {/^[aeiou]/i.test(name) ? 'an' : 'a'} {name} user cost me at most?
      </h2>
      <div className="planner__inputs">
        <label className="field">
          <span className="field__label">Plan</span>
          <select className="planner__select" value={plan ?? ''} onChange={(event) => setChosen(event.target.value)} disabled={!plans.data}>
            {plans.data?.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {plans.error || worst.error ? <ApiErrorAlert error={readApiError(plans.error ?? worst.error)} /> : null}
      {row ? (
        <div aria-live="polite">
          <p className="planner__answer">
            At most <strong>{cost(row.worstCaseMicroUsd)}</strong> a month in provider fees{row.capped ? ', held there by the plan’s cap' : ''}.
          </p>
          <ol className="planner__steps">
            {worstCaseSteps(row).map((step) => (
              <li key={step}>{step}</li>
            ))}
          </ol>
          {row.priceMonthlyCents > 0 ? (
            <dl className="stat-list">
              {marginLines(row).map((line) => (
                <div key={line.label} className="stat-list__row">
                  <dt>
                    {line.label} ({line.revenue} a month)
                  </dt>
                  <dd className={`planner__margin planner__margin--${line.tone}`}>{line.text}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="muted">Users of this plan pay nothing: the provider fees above are all yours.</p>
          )}
        </div>
      ) : null}
      <p className="muted planner__note">
        An upper bound, not a forecast: every token of the month&apos;s allowance billed at the plan&apos;s dearest model&apos;s output price, plus a priced
        voice engine&apos;s daily characters for 31 days, never above the plan&apos;s dollar cap. Credits bought on top pay for themselves.
      </p>
    </section>
  );
}

function observedColumns(fromYourData: PlannerEstimate['fromYourData'] | undefined): Column[] {
  if (!fromYourData?.visible) return [];
  return [fromYourData.last7Days, fromYourData.last30Days].flatMap((o: TObservedColumn | null) =>
    o
      ? [
          {
            id: `observed-${o.windowDays}`,
            name: `Your last ${o.windowDays} days`,
            perInteraction: o.averages
              ? `${formatCount(o.averages.promptTokensPerInteraction)} + ${formatCount(o.averages.completionTokensPerInteraction)}`
              : '–',
            interactions: o.averages ? formatCount(o.averages.interactionsPerUserPerDay) : '–',
            figures: o.projection,
            note: o.hasData ? undefined : 'no chats yet',
          } satisfies Column,
        ]
      : [],
  );
}

function Row({ label, columns, cell }: { label: string; columns: Column[]; cell(column: Column): ReactNode }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      {columns.map((c) => (
        <td key={c.id} className="num">
          {cell(c)}
        </td>
      ))}
    </tr>
  );
}

function NumberField(props: { label: string; value: string; onChange(value: string): void; error?: string | undefined; min?: number; step?: string }) {
  const id = useId();
  return (
    <div className={props.error ? 'field field--invalid' : 'field'}>
      <label className="field__label" htmlFor={id}>
        {props.label}
      </label>
      <div className="field__control">
        <input
          id={id}
          type="number"
          inputMode="decimal"
          min={props.min}
          step={props.step ?? '1'}
          value={props.value}
          onChange={(event) => props.onChange(event.target.value)}
          aria-invalid={props.error ? true : undefined}
          aria-describedby={props.error ? `${id}-error` : undefined}
        />
      </div>
      {props.error ? (
        <p id={`${id}-error`} className="field__error">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 });

function CostChart({ rows }: { rows: ReturnType<typeof chartRows> }) {
  if (rows.length === 0) return <p className="muted">The chart appears with the figures.</p>;
  return (
    <div className="planner__chart" role="img" aria-label={`Cost per month: ${rows.map((r) => `${r.name} ${usd.format(r.costPerMonthUsd)}`).join(', ')}`}>
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
          <XAxis dataKey="name" tick={{ fill: 'var(--muted)', fontSize: 12 }} stroke="var(--border-strong)" />
          <YAxis tickFormatter={(v: number) => usd.format(v)} tick={{ fill: 'var(--muted)', fontSize: 12 }} stroke="var(--border-strong)" width={80} />
          <Tooltip
            formatter={(value) => [usd.format(Number(value)), 'per month']}
            contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', borderRadius: 8, color: 'var(--text)' }}
          />
          <Bar dataKey="costPerMonthUsd" fill="var(--accent)" radius={[4, 4, 0, 0]} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
