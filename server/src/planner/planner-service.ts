// planner.estimate: the shared planner's arithmetic with this server's pricing
// table, plus the "from your data" column: the last 7 and 30 days' averages per
// active user-day, read from the usage_daily roll-up and cached briefly (the
// page asks once per column and per keystroke).
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import {
  estimatePlan,
  observedColumn,
  plannerPricing,
  PlannerError,
  type TObservedColumn,
  type TObservedTotals,
  type TPlannerEstimate,
  type TPlannerInput,
} from '@chatmeter/shared/planner';
import { DEMO_MODEL_ID, type TModelPrice } from '@chatmeter/shared/pricing';
import { addDays, utcDay } from '../lib/days.ts';
import { AppError } from '../lib/app-error.ts';

export const OBSERVED_WINDOWS = [7, 30] as const;
const OBSERVED_TTL_MS = 5 * 60 * 1000;
/** Events of deleted accounts roll up under the nil UUID: many users, not one. */
const ANONYMISED_USER = '00000000-0000-0000-0000-000000000000';

export interface FromYourData {
  /** False for visitors: this server's usage is shown to support and admin accounts only. */
  visible: boolean;
  last7Days: TObservedColumn | null;
  last30Days: TObservedColumn | null;
}

export type PlannerEstimateOutput = TPlannerEstimate & { fromYourData: FromYourData };

export class PlannerService {
  private observedCache: { at: number; value: Promise<Map<number, TObservedTotals>> } | undefined;

  constructor(
    private readonly pricing: readonly TModelPrice[],
    /** Without a database (the CLI offline) there is no "from your data". */
    private readonly prisma?: PrismaClient,
  ) {}

  /** The models the planner offers: the pricing table, the demo model only when it is all there is. */
  models() {
    const real = this.pricing.filter((p) => p.model !== DEMO_MODEL_ID);
    return (real.length > 0 ? real : this.pricing).map((p) => ({
      model: p.model,
      label: p.label ?? p.model,
      inputMicrosPerMillion: p.inputMicrosPerMillion,
      outputMicrosPerMillion: p.outputMicrosPerMillion,
    }));
  }

  /** The estimate alone (the CLI and tests; no database). */
  estimateOnly(input: TPlannerInput): TPlannerEstimate {
    try {
      return estimatePlan(input, plannerPricing(this.models(), input.model, input.pricePer1kTokensUsd));
    } catch (error) {
      if (error instanceof PlannerError) throw new AppError('invalid_input', `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`);
      throw error;
    }
  }

  async estimate(input: TPlannerInput, options: { showObserved: boolean; now?: Date }): Promise<PlannerEstimateOutput> {
    const estimate = this.estimateOnly(input);
    if (!options.showObserved) return { ...estimate, fromYourData: { visible: false, last7Days: null, last30Days: null } };
    const totals = await this.observedTotals(options.now);
    const column = (days: number) => observedColumn(totals.get(days) ?? emptyTotals(days), input.users);
    return { ...estimate, fromYourData: { visible: true, last7Days: column(7), last30Days: column(30) } };
  }

  /** Chat usage per window (today and the days before it), from the daily roll-up; cached for a few minutes (unless `now` is given). */
  observedTotals(now?: Date): Promise<Map<number, TObservedTotals>> {
    if (now) return this.readObserved(now);
    const cached = this.observedCache;
    if (cached && Date.now() - cached.at < OBSERVED_TTL_MS) return cached.value;
    const value = this.readObserved(new Date());
    this.observedCache = { at: Date.now(), value };
    value.catch(() => {
      if (this.observedCache?.value === value) this.observedCache = undefined;
    });
    return value;
  }

  private async readObserved(now: Date): Promise<Map<number, TObservedTotals>> {
    if (!this.prisma) throw new Error('the planner has no database');
    const today = utcDay(now);
    const since = addDays(today, -(Math.max(...OBSERVED_WINDOWS) - 1));
    const rows = await this.prisma.$queryRaw<
      { window_days: number; user_days: bigint; days_with_data: bigint; interactions: bigint; prompt: bigint; completion: bigint; cost: bigint }[]
    >(Prisma.sql`
      WITH per_user_day AS (
        SELECT user_id, day, SUM(requests) AS n, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c, SUM(cost_micro_usd) AS cost
          FROM usage_daily
         WHERE kind = 'chat' AND day BETWEEN ${since}::date AND ${today}::date AND user_id <> ${ANONYMISED_USER}::uuid
         GROUP BY user_id, day
      )
      SELECT w.days AS window_days, COUNT(d.day)::bigint AS user_days, COUNT(DISTINCT d.day)::bigint AS days_with_data,
             COALESCE(SUM(d.n), 0)::bigint AS interactions, COALESCE(SUM(d.p), 0)::bigint AS prompt,
             COALESCE(SUM(d.c), 0)::bigint AS completion, COALESCE(SUM(d.cost), 0)::bigint AS cost
        FROM (VALUES ${Prisma.join(OBSERVED_WINDOWS.map((d) => Prisma.sql`(${d}::int)`))}) AS w(days)
        LEFT JOIN per_user_day d ON d.day > ${today}::date - w.days
       GROUP BY w.days`);
    return new Map(
      rows.map((r) => [
        Number(r.window_days),
        {
          windowDays: Number(r.window_days),
          activeUserDays: Number(r.user_days),
          daysWithData: Number(r.days_with_data),
          interactions: Number(r.interactions),
          promptTokens: Number(r.prompt),
          completionTokens: Number(r.completion),
          costMicroUsd: Number(r.cost),
        },
      ]),
    );
  }
}

function emptyTotals(windowDays: number): TObservedTotals {
  return { windowDays, activeUserDays: 0, daysWithData: 0, interactions: 0, promptTokens: 0, completionTokens: 0, costMicroUsd: 0 };
}
