// What a user has used in each period, read from the same counters the
// reservation path writes, and the usage events for cost and history.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { TPlan } from '@chatmeter/shared/plans';
import { COUNTER, read, userSubject } from '../metering/counters.ts';
import { creditBalance } from '../metering/credits.ts';
import { calendarMonth, dayStart, hourStart, type KnownSubscription, type MonthFor } from '../metering/periods.ts';
import type { Limiters } from '../rate-limit/limiters.ts';
import { usageBreakdown } from './usage-breakdown.ts';
import { usageDaily } from './usage-daily.ts';
import { usageHistory } from './usage-history.ts';

export class UsageService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly limiters: Limiters,
    private readonly monthFor: MonthFor = async (_id, now) => calendarMonth(now),
  ) {}

  /** This billing period's usage per kind, model and provider. */
  async breakdown(user: { id: string } & KnownSubscription, now = new Date()) {
    const month = await this.monthFor(user.id, now, { subscribed: user.subscribed });
    return usageBreakdown(this.prisma, user.id, month);
  }

  /** `user.subscribed` (from the session lookup): false spares the subscription read. */
  /** Newest first, keyset paged (usage-history.ts). */
  history(userId: string, page: { cursor?: string | undefined; limit: number }) {
    return usageHistory(this.prisma, userId, page);
  }

  /** The last `days` UTC days, oldest first, every day present (usage-daily.ts). */
  daily(userId: string, days: number) {
    return usageDaily(this.prisma, userId, days);
  }

  async summary(user: { id: string } & KnownSubscription, plan: TPlan, now = new Date()) {
    const subject = userSubject(user.id);
    const month = await this.monthFor(user.id, now, { subscribed: user.subscribed });
    const [messagesThisHour, messagesToday, tokensThisMonth, ttsCharsToday, credits, costs, minute, planCost, spend, personal] = await Promise.all([
      read(this.prisma, subject, COUNTER.messagesHour, hourStart(now)),
      read(this.prisma, subject, COUNTER.messagesDay, dayStart(now)),
      read(this.prisma, subject, COUNTER.tokensMonth, month.start),
      read(this.prisma, subject, COUNTER.ttsCharsDay, dayStart(now)),
      creditBalance(this.prisma, user.id),
      // The period from raw events (RETENTION_DAYS keeps at least two months of them);
      // lifetime from the daily roll-up, which retention does not thin out.
      this.prisma.$queryRaw<{ month: bigint | null; lifetime: bigint | null }[]>(Prisma.sql`
        SELECT (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_events
                 WHERE user_id = ${user.id}::uuid AND created_at >= ${month.start})::bigint AS month,
               (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_daily WHERE user_id = ${user.id}::uuid)::bigint AS lifetime`),
      this.limiters
        .limiter('chat', { points: plan.limits.requestsPerMinute, duration: 60 })
        .get(user.id)
        .catch(() => null),
      read(this.prisma, subject, COUNTER.costMonth, month.start),
      read(this.prisma, subject, COUNTER.spendMonth, month.start),
      this.prisma.userPreference.findUnique({ where: { userId: user.id }, select: { monthlySpendLimitMicroUsd: true } }),
    ]);
    const costCap = plan.limits.costPerMonthMicroUsd ?? null;
    const personalLimit = personal?.monthlySpendLimitMicroUsd == null ? null : Number(personal.monthlySpendLimitMicroUsd);
    // The counters hold what streaming replies may still cost (their worst case) besides what was settled.
    const remaining = [
      // Credits pay past the plan's cap, so it binds only while there are none.
      costCap !== null && credits <= 0n ? costCap - Number(planCost) : null,
      personalLimit !== null ? personalLimit - Number(spend) : null,
    ].filter((v): v is number => v !== null);
    return {
      plan: plan.id,
      period: { start: month.start, end: month.end },
      limits: { ...plan.limits, costPerMonthMicroUsd: costCap },
      used: {
        requestsThisMinute: minute?.consumedPoints ?? 0,
        messagesThisHour: Number(messagesThisHour),
        messagesToday: Number(messagesToday),
        tokensThisMonth: Number(tokensThisMonth),
        ttsCharsToday: Number(ttsCharsToday),
        /** Provider cost settled this period (chat and voice). */
        costThisPeriodMicroUsd: Number(costs[0]?.month ?? 0),
      },
      /** The tightest dollar budget left this period (plan cap while no credits, personal limit); null: none applies. */
      budget: {
        personalLimitMicroUsd: personalLimit,
        remainingMicroUsd: remaining.length > 0 ? Math.max(0, Math.min(...remaining)) : null,
      },
      credits: { tokens: Number(credits) },
      costMicroUsd: { thisMonth: Number(costs[0]?.month ?? 0), lifetime: Number(costs[0]?.lifetime ?? 0) },
    };
  }
}
