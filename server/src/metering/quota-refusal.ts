// A chat refused by a quota tells the truth about the wait: it names the limit
// that keeps the user out longest and when that one resets. cm_reserve_chat stops
// at the first limit it finds exhausted (the hour before the day), and the
// per-minute limiter refuses before the quotas are looked at; a guest who had
// used up the day was told "resets in 29 min" (the hour) or "45 seconds" (the
// minute). On a refusal only (never on the accepted path), the counters are read
// once and every exhausted limit is weighed: the latest reset wins.
import type { LimitName } from '@chatmeter/shared/errors';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
import { nextDay, nextHour, type MonthPeriod } from './periods.ts';

/** The counters a refusal is explained from (0 when a row does not exist). */
export interface QuotaSnapshot {
  messagesHour: number;
  messagesDay: number;
  /** The guest's network's messages today (guests only). */
  networkMessagesDay: number;
  tokensMonth: number;
  creditTokens: number;
  /** Provider cost this period paid by the plan's allowance (its cap), and all of the user's (the personal limit). */
  costMonth: number;
  spendMonth: number;
  /** The user's own monthly spending limit; null: none. */
  personalLimit: number | null;
}

export interface QuotaContext {
  isGuest: boolean;
  plan: TPlan;
  guestPlan: TPlan;
  month: MonthPeriod;
  /** The tokens the request needs at least (its prompt estimate plus the smallest completion). */
  tokensNeeded: number;
  /** The worst-case cost of that smallest reply in micro-USD (0: not known, or a free model). */
  costNeeded: number;
  now: Date;
}

export interface ExhaustedLimit {
  limit: LimitName;
  resetAt: Date;
}

/** Every quota limit the snapshot shows exhausted, with its reset. */
export function exhaustedLimits(snapshot: QuotaSnapshot, context: QuotaContext): ExhaustedLimit[] {
  const { limits } = context.plan;
  const out: ExhaustedLimit[] = [];
  if (snapshot.messagesHour >= limits.messagesPerHour) out.push({ limit: 'messagesPerHour', resetAt: nextHour(context.now) });
  if (snapshot.messagesDay >= limits.messagesPerDay) out.push({ limit: 'messagesPerDay', resetAt: nextDay(context.now) });
  if (context.isGuest && snapshot.networkMessagesDay >= context.guestPlan.limits.messagesPerDay) {
    out.push({ limit: 'networkMessagesPerDay', resetAt: nextDay(context.now) });
  }
  // The plan's allowance is out of tokens or of dollars (its cap counts what the allowance paid for).
  const tokensOut = limits.tokensPerMonth - snapshot.tokensMonth < context.tokensNeeded;
  const cap = limits.costPerMonthMicroUsd;
  const dollarsOut = cap !== null && cap !== undefined && cap - snapshot.costMonth < context.costNeeded;
  if (tokensOut || dollarsOut) {
    // Credits pay once the allowance is used; guests have none.
    const creditsCover = !context.isGuest && snapshot.creditTokens >= context.tokensNeeded;
    if (!creditsCover) {
      const limit = !context.isGuest && snapshot.creditTokens > 0 ? 'credits' : tokensOut ? 'tokensPerMonth' : 'costPerMonth';
      out.push({ limit, resetAt: context.month.end });
    }
  }
  if (snapshot.personalLimit !== null && snapshot.personalLimit - snapshot.spendMonth < context.costNeeded) {
    out.push({ limit: 'personalSpendLimit', resetAt: context.month.end });
  }
  return out;
}

/** How long a limit's window is: on a tie of resets the wider one is named (in the last hour of the day the hour and the day both end at midnight, and "today's messages" is the truth the user needs). */
function breadth(limit: LimitName): number {
  if (limit === 'messagesPerHour') return 0;
  if (limit === 'messagesPerDay' || limit === 'networkMessagesPerDay') return 1;
  return 2;
}

/** Of several exhausted limits, the one that keeps the user out longest (on a tie, the widest window; then the first listed). */
export function longestBlock(limits: readonly ExhaustedLimit[]): ExhaustedLimit | undefined {
  let best: ExhaustedLimit | undefined;
  for (const l of limits) {
    const later = best ? l.resetAt.getTime() - best.resetAt.getTime() : 1;
    if (!best || later > 0 || (later === 0 && breadth(l.limit) > breadth(best.limit))) best = l;
  }
  return best;
}

const count = (n: number) => n.toLocaleString('en-US');
const usd = (micros: number) => `$${(micros / 1_000_000).toFixed(2)}`;

/** The refusal for an exhausted limit: `data.limit`, the real `resetAt` and `retryAfterSeconds`. */
export function quotaRefusal(block: ExhaustedLimit, context: Pick<QuotaContext, 'isGuest' | 'plan' | 'guestPlan' | 'now'>): AppError {
  const { limits } = context.plan;
  const retryAfterSeconds = Math.max(1, Math.ceil((block.resetAt.getTime() - context.now.getTime()) / 1000));
  const details = { limit: block.limit, resetAt: block.resetAt, retryAfterSeconds, upgrade: true };
  switch (block.limit) {
    case 'messagesPerHour':
      return new AppError('quota_exhausted', `You have used this hour's ${count(limits.messagesPerHour)} messages.`, details);
    case 'messagesPerDay':
      return new AppError('quota_exhausted', `You have used today's ${count(limits.messagesPerDay)} messages.`, details);
    case 'networkMessagesPerDay':
      return new AppError(
        'quota_exhausted',
        `Guests on your network have used today's ${count(context.guestPlan.limits.messagesPerDay)} messages. Sign up to keep chatting.`,
        details,
      );
    case 'costPerMonth':
      return new AppError(
        'quota_exhausted',
        `You have used the ${usd(limits.costPerMonthMicroUsd ?? 0)} of AI usage your ${context.plan.name} plan includes this month. Upgrade or buy a credit pack to keep chatting.`,
        details,
      );
    case 'personalSpendLimit':
      return new AppError('quota_exhausted', 'You have reached the monthly spending limit you set. Raise or remove it on the Usage page to keep chatting.', {
        ...details,
        upgrade: false,
      });
    case 'credits':
      return new AppError('credits_exhausted', 'Your monthly tokens are used up and your credits do not cover this message. Top up or upgrade.', details);
    default:
      return new AppError(
        'quota_exhausted',
        context.isGuest
          ? 'The guest allowance is used up. Sign up to keep chatting.'
          : `You have used this month's ${count(limits.tokensPerMonth)} tokens. Upgrade or buy a credit pack to keep chatting.`,
        details,
      );
  }
}
