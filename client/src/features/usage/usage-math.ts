// What is left of a plan's allowance, and when each limit resets, from
// `usage.summary()` (or, for a visitor with no session yet, the guest plan).
// The server counts in UTC periods: the minute, the hour, the day, and the
// billing month (`period`). Pure functions; the clock is a parameter.
import { formatMicroUsd } from '@chatmeter/shared/money';
import type { TPlanLimits } from '@chatmeter/shared/plans';

export interface UsageUsed {
  requestsThisMinute: number;
  messagesThisHour: number;
  messagesToday: number;
  tokensThisMonth: number;
  ttsCharsToday: number;
  /** Provider cost settled this billing period (chat and voice), micro-USD. */
  costThisPeriodMicroUsd: number;
}

export interface UsageSummaryLike {
  plan: string;
  period: { start: Date; end: Date };
  limits: TPlanLimits;
  used: UsageUsed;
  credits: { tokens: number };
  costMicroUsd: { thisMonth: number; lifetime: number };
}

export const NOTHING_USED: UsageUsed = {
  requestsThisMinute: 0,
  messagesThisHour: 0,
  messagesToday: 0,
  tokensThisMonth: 0,
  ttsCharsToday: 0,
  costThisPeriodMicroUsd: 0,
};

export function nextUtcMinute(now: Date): Date {
  const d = new Date(now);
  d.setUTCSeconds(0, 0);
  return new Date(d.getTime() + 60_000);
}

export function nextUtcHour(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours() + 1));
}

export function nextUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

export function nextUtcMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

function left(limit: number, used: number): number {
  return Math.max(0, limit - used);
}

/** The three figures the chat shows: messages today, tokens this month, credits. */
export interface Allowance {
  messagesLeftToday: number;
  messagesPerDay: number;
  /** Lower than messagesLeftToday when the hourly limit bites first. */
  messagesLeftThisHour: number;
  tokensLeftThisMonth: number;
  tokensPerMonth: number;
  /** Prepaid tokens; null for guests, who cannot buy any. */
  creditTokens: number | null;
  /** When the next message can be sent if none are left (the sooner of hour/day resets that apply). */
  messagesResetAt: Date;
  tokensResetAt: Date;
}

export function allowanceOf(
  input: { limits: TPlanLimits; used: UsageUsed; credits: { tokens: number } | null; period: { end: Date } | null },
  now: Date = new Date(),
): Allowance {
  const { limits, used } = input;
  const leftToday = left(limits.messagesPerDay, used.messagesToday);
  const leftHour = left(limits.messagesPerHour, used.messagesThisHour);
  return {
    messagesLeftToday: leftToday,
    messagesPerDay: limits.messagesPerDay,
    messagesLeftThisHour: leftHour,
    tokensLeftThisMonth: left(limits.tokensPerMonth, used.tokensThisMonth),
    tokensPerMonth: limits.tokensPerMonth,
    creditTokens: input.credits ? input.credits.tokens : null,
    messagesResetAt: leftToday === 0 ? nextUtcDay(now) : nextUtcHour(now),
    tokensResetAt: input.period?.end ?? nextUtcMonth(now),
  };
}

/** One bar on the Usage page. */
export interface LimitRow {
  id: keyof UsageUsed;
  label: string;
  unit: string;
  used: number;
  limit: number;
  resetAt: Date;
  /** A sliding window (the per-minute rate limit): it frees up gradually rather than at one time. */
  rolling?: boolean;
  /** `used` and `limit` are micro-USD (the plan's monthly cost cap), shown as dollars. */
  money?: boolean;
}

export function limitRows(summary: Pick<UsageSummaryLike, 'limits' | 'used' | 'period'>, now: Date = new Date()): LimitRow[] {
  const { limits, used } = summary;
  return [
    { id: 'messagesToday', label: 'Messages today', unit: 'messages', used: used.messagesToday, limit: limits.messagesPerDay, resetAt: nextUtcDay(now) },
    {
      id: 'messagesThisHour',
      label: 'Messages this hour',
      unit: 'messages',
      used: used.messagesThisHour,
      limit: limits.messagesPerHour,
      resetAt: nextUtcHour(now),
    },
    {
      id: 'tokensThisMonth',
      label: 'Tokens this month',
      unit: 'tokens',
      used: used.tokensThisMonth,
      limit: limits.tokensPerMonth,
      resetAt: summary.period.end,
    },
    ...(limits.costPerMonthMicroUsd === null || limits.costPerMonthMicroUsd === undefined
      ? []
      : [
          {
            id: 'costThisPeriodMicroUsd' as const,
            label: "Plan's monthly cost cap",
            unit: '',
            used: used.costThisPeriodMicroUsd,
            limit: limits.costPerMonthMicroUsd,
            resetAt: summary.period.end,
            money: true,
          },
        ]),
    {
      id: 'requestsThisMinute',
      label: 'Requests this minute',
      unit: 'requests',
      used: used.requestsThisMinute,
      limit: limits.requestsPerMinute,
      resetAt: nextUtcMinute(now),
      rolling: true,
    },
    {
      id: 'ttsCharsToday',
      label: 'Text to speech today',
      unit: 'characters',
      used: used.ttsCharsToday,
      limit: limits.ttsCharsPerDay,
      resetAt: nextUtcDay(now),
    },
  ];
}

/**
 * A row's amount as its bar shows it: a count ("1,200") or, for a dollar cap, dollars
 * exact to the micro-dollar ("$0.000123", "$5.00").
 */
export function formatLimitAmount(row: Pick<LimitRow, 'money'>, value: number): string {
  return row.money ? formatMicroUsd(value) : plain.format(value);
}

/** 0..1 of a limit used; a limit of 0 counts as fully used. */
export function usedFraction(used: number, limit: number): number {
  if (limit <= 0) return 1;
  return Math.min(1, Math.max(0, used / limit));
}

/** `ok` below 75 %, `warn` up to the limit, `full` at it. */
export function levelOf(used: number, limit: number): 'ok' | 'warn' | 'full' {
  const f = usedFraction(used, limit);
  if (f >= 1) return 'full';
  return f >= 0.75 ? 'warn' : 'ok';
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const plain = new Intl.NumberFormat('en-US');

/** 950 -> "950", 9_812 -> "9.8K", 2_000_000 -> "2M". */
export function formatCompact(value: number): string {
  return Math.abs(value) < 10_000 ? plain.format(value) : compact.format(value);
}

/** "in 45 s", "in 12 min", "in 3 h", "in 2 d"; "now" once the time has passed. */
export function formatIn(date: Date, now: Date = new Date()): string {
  const seconds = Math.ceil((date.getTime() - now.getTime()) / 1000);
  if (seconds <= 0) return 'now';
  if (seconds < 60) return `in ${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} h`;
  return `in ${Math.round(hours / 24)} d`;
}

function sameLocalDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/**
 * A reset time in the visitor's own time zone: "at 14:00", "tomorrow at 01:00",
 * "on Mon 1 Dec at 01:00" (the locale decides 12 or 24 hours). `locale` for tests.
 */
export function formatLocalTime(date: Date, now: Date = new Date(), locale?: string): string {
  const time = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(date);
  if (sameLocalDay(date, now)) return `at ${time}`;
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  if (sameLocalDay(date, tomorrow)) return `tomorrow at ${time}`;
  const day = new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short' }).format(date);
  return `on ${day} at ${time}`;
}

/** "Resets tomorrow at 01:00 (in 3 h)". */
export function describeReset(date: Date, now: Date = new Date(), locale?: string): string {
  return `Resets ${formatLocalTime(date, now, locale)} (${formatIn(date, now)})`;
}
