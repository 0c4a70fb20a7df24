// How a plan's worst-case provider cost is derived, in words: the planner's fourth
// question and the Controls tab's plan economics both read a row of
// planner.worstCase / admin.planEconomics through these. Pure, unit-tested.
import { formatMicroUsd } from '@chatmeter/shared/money';
import type { TPlanWorstCase } from '@chatmeter/shared/plan-economics';
import { formatPlannerCost as cost } from '@chatmeter/shared/planner';

const count = new Intl.NumberFormat('en-US');

/** The steps from the plan's allowances to its worst case, one sentence each. */
export function worstCaseSteps(row: TPlanWorstCase): string[] {
  const steps: string[] = [];
  steps.push(
    row.model
      ? `${count.format(row.tokensPerMonth)} tokens a month, every one at ${row.model.label}'s output price (${formatMicroUsd(row.tokenMicrosPerMillion)} per 1M tokens, its most expensive model): ${cost(row.chatCostMicroUsd)}.`
      : `None of the plan's models has a price here, so its ${count.format(row.tokensPerMonth)} tokens cannot be served: ${cost(0)}.`,
  );
  if (row.tts) {
    steps.push(
      `${count.format(row.tts.charsPerDay)} characters of speech a day for 31 days at ${row.tts.model}'s price (${formatMicroUsd(row.tts.microsPerMillionChars)} per 1M characters): ${cost(row.tts.costMicroUsd)}.`,
    );
  }
  if (row.capped) {
    steps.push(
      `The plan caps its provider cost${row.tts ? ' (chat and speech together)' : ''} at ${cost(row.capMicroUsd!)} a period, below the ${cost(row.uncappedCostMicroUsd)} above: ${cost(row.worstCaseMicroUsd)}.`,
    );
  } else if (row.capMicroUsd !== null) {
    steps.push(`The plan's cap of ${cost(row.capMicroUsd)} a period is not reached.`);
  } else {
    steps.push('The plan has no dollar cap.');
  }
  if (row.unpricedModels.length > 0) steps.push(`Not counted, no price here: ${row.unpricedModels.join(', ')}.`);
  return steps;
}

export interface MarginLine {
  /** "Paid monthly" / "Paid yearly". */
  label: string;
  /** What the user pays a month: "$15.00", "$12.50". */
  revenue: string;
  /** "$10.00 left" or "$2.50 short". */
  text: string;
  tone: 'good' | 'bad';
}

function marginLine(label: string, revenueMicros: number, marginMicros: number): MarginLine {
  return {
    label,
    revenue: cost(revenueMicros),
    text: marginMicros >= 0 ? `${cost(marginMicros)} left` : `${cost(-marginMicros)} short`,
    tone: marginMicros >= 0 ? 'good' : 'bad',
  };
}

/** What is left of the price after the worst case: monthly, and a twelfth of the yearly price when it is sold by the year. */
export function marginLines(row: TPlanWorstCase): MarginLine[] {
  const lines = [marginLine('Paid monthly', row.priceMonthlyMicroUsd, row.marginMicroUsd)];
  if (row.yearlyMonthlyEquivalentMicroUsd !== null && row.yearlyMarginMicroUsd !== null) {
    lines.push(marginLine('Paid yearly', row.yearlyMonthlyEquivalentMicroUsd, row.yearlyMarginMicroUsd));
  }
  return lines;
}

/** The plan the fourth question starts on: Pro when there is one, else the cheapest paid plan, else the first. */
export function defaultWorstCasePlan(plans: readonly { id: string; priceMonthlyCents: number }[]): string | undefined {
  if (plans.some((p) => p.id === 'pro')) return 'pro';
  const paid = plans.filter((p) => p.priceMonthlyCents > 0).sort((a, b) => a.priceMonthlyCents - b.priceMonthlyCents);
  return paid[0]?.id ?? plans[0]?.id;
}
