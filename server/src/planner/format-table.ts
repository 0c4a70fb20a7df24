// The planner's table as text (the CLI): the three profiles side by side, a
// custom column when one was asked for, and the "from your data" columns.
import { formatMicroUsd } from '@chatmeter/shared/money';
import { formatPlannerCost, type TObservedColumn, type TPlannerEstimate } from '@chatmeter/shared/planner';

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

export interface PlannerTableInput {
  estimates: readonly TPlannerEstimate[];
  /** The column the user asked about (marked with *). */
  selected: string;
  observed?: readonly TObservedColumn[] | undefined;
}

export function formatPlannerTable({ estimates, selected, observed = [] }: PlannerTableInput): string {
  const first = estimates[0];
  if (!first) return '';
  const pricing =
    first.pricing.source === 'flat'
      ? `a flat ${first.pricing.label}`
      : `${first.pricing.label} (${formatMicroUsd(first.pricing.inputMicrosPerMillion)} in / ${formatMicroUsd(first.pricing.outputMicrosPerMillion)} out per 1M tokens)`;
  const header = `ChatMeter cost estimate: ${count.format(first.users)} users a day, ${pricing}, ${first.daysPerMonth}-day month`;
  const cols = [
    ...estimates.map((e) => ({
      name: `${e.profile}${e.profile === selected ? '*' : ''}`,
      perInteraction: `${count.format(e.promptTokens)} + ${count.format(e.completionTokens)}`,
      interactions: count.format(e.interactionsPerUserPerDay),
      figures: e,
    })),
    ...observed.map((o) => ({
      name: `your last ${o.windowDays} d`,
      perInteraction: o.averages
        ? `${count.format(o.averages.promptTokensPerInteraction)} + ${count.format(o.averages.completionTokensPerInteraction)}`
        : 'no data',
      interactions: o.averages ? count.format(o.averages.interactionsPerUserPerDay) : '–',
      figures: o.projection,
    })),
  ];
  const rows: string[][] = [
    ['', ...cols.map((c) => c.name)],
    ['prompt + completion tokens', ...cols.map((c) => c.perInteraction)],
    ['interactions per user a day', ...cols.map((c) => c.interactions)],
    ['tokens per day', ...cols.map((c) => (c.figures ? count.format(c.figures.tokensPerDay) : '–'))],
    ['tokens per month', ...cols.map((c) => (c.figures ? count.format(c.figures.tokensPerMonth) : '–'))],
    ['cost per day', ...cols.map((c) => (c.figures ? formatPlannerCost(c.figures.costMicroUsdPerDay) : '–'))],
    ['cost per month', ...cols.map((c) => (c.figures ? formatPlannerCost(c.figures.costMicroUsdPerMonth) : '–'))],
  ];
  const lines = [header, '', renderTable(rows)];
  if (observed.length > 0) {
    lines.push(
      '',
      '"your last N d": this server\'s average per active user a day over the last N days, applied to the same users (cost at the prices really charged).',
    );
  }
  return lines.join('\n');
}
