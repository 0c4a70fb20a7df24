// Plan economics with this deployment's prices: the worst case of every paid plan
// (admin.planEconomics, the start-up log) and of any plan (planner.worstCase).
// The arithmetic is shared/src/plan-economics.ts; this only supplies the plan table,
// the chat pricing table and the speech engine's price.
import { formatMicroUsd } from '@chatmeter/shared/money';
import { paidPlanEconomics, planWorstCase, type TEconomicsPricing, type TPlanWorstCase } from '@chatmeter/shared/plan-economics';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';

export class PlanEconomics {
  constructor(
    private readonly plans: readonly TPlan[],
    private readonly pricing: TEconomicsPricing,
  ) {}

  /** Every paid plan's price, worst-case provider cost and margin, in the plan table's order. */
  paidPlans(): TPlanWorstCase[] {
    return paidPlanEconomics(this.plans, this.pricing);
  }

  /** One plan's worst case (free plans included: "what does a Free user cost me at most?"). */
  forPlan(planId: string): TPlanWorstCase {
    const plan = this.plans.find((p) => p.id === planId);
    if (!plan) throw new AppError('invalid_input', `There is no plan "${planId}".`);
    return planWorstCase(plan, this.pricing);
  }

  /** At start-up: one line per paid plan, a warning for each that can lose money. Returns the rows logged. */
  logAtStart(logger: Pick<Logger, 'info' | 'warn'>): TPlanWorstCase[] {
    const rows = this.paidPlans();
    for (const row of rows) {
      const fields = {
        plan: row.plan,
        priceMonthlyMicroUsd: row.priceMonthlyMicroUsd,
        yearlyMonthlyEquivalentMicroUsd: row.yearlyMonthlyEquivalentMicroUsd,
        worstCaseMicroUsd: row.worstCaseMicroUsd,
        marginMicroUsd: row.marginMicroUsd,
        yearlyMarginMicroUsd: row.yearlyMarginMicroUsd,
        model: row.model?.model ?? null,
        capped: row.capped,
      };
      const money = `worst-case provider cost ${formatMicroUsd(row.worstCaseMicroUsd, { maxFractionDigits: 2 })} a month against ${formatMicroUsd(row.priceMonthlyMicroUsd, { maxFractionDigits: 2 })}`;
      if (row.canLoseMoney) {
        const yearly = row.yearlyMarginMicroUsd !== null && row.yearlyMarginMicroUsd < 0 && row.marginMicroUsd >= 0;
        logger.warn(
          fields,
          `plan ${row.plan} can lose money: ${money}${yearly ? ` (${formatMicroUsd(row.yearlyMonthlyEquivalentMicroUsd!, { maxFractionDigits: 2 })} a month paid yearly)` : ''}; set limits.costPerMonthMicroUsd or a higher price (docs/architecture.md, "Plan economics")`,
        );
      } else {
        logger.info(fields, `plan ${row.plan}: ${money}`);
      }
    }
    return rows;
  }
}
