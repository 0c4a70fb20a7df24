// Which service alerts the service-wide figures call for, and their words. Pure: the
// figures (settled usage, read from usage_daily) and the limits are parameters.
//
// The global caps (today's tokens, today's and this month's provider cost) alert at
// 80 % and again at 100 %; a jump past both announces only the cap reached. The
// spending alerts (ALERT_COST_PER_DAY_USD / ALERT_COST_PER_MONTH_USD) alert once per
// UTC day / calendar month when the cost passes them; unset, they default to 80 % of
// the matching cap, which is the cap's own 80 % alert (sent once, not twice).
import { formatMicroUsd } from '@chatmeter/shared/money';
import { GLOBAL_SUBJECT } from '../metering/counters.ts';
import { periodKey } from './quota-alerts.ts';

export const GLOBAL_CAP_THRESHOLDS = [80, 100] as const;

export type GlobalAlertKind = 'global_tokens' | 'global_cost_day' | 'global_cost_month' | 'cost_alert_day' | 'cost_alert_month';

export interface GlobalReading {
  /** Settled chat tokens (prompt + completion) today, UTC. */
  tokensToday: number;
  /** Settled provider cost today and this calendar month (UTC), micro-USD. */
  costToday: number;
  costMonth: number;
  /** The daily token cap in force (app_settings, else MAX_TOKENS_PER_DAY); 0: none. */
  tokenCap: number;
  /** The cost caps in force (app_settings, else MAX_COST_PER_*_USD); null: none. */
  costDayCap: number | null;
  costMonthCap: number | null;
  /** ALERT_COST_PER_DAY_USD / ALERT_COST_PER_MONTH_USD; null: unset. */
  alertDay: number | null;
  alertMonth: number | null;
  day: Date;
  /** Start of the calendar month (UTC). */
  month: Date;
}

export interface GlobalAlert {
  kind: GlobalAlertKind;
  subject: string;
  threshold: number;
  periodKey: string;
  title: string;
  body: string;
  details: Record<string, string | number>;
}

/** The highest cap threshold (80, 100) that `used` has reached; none without a cap. */
export function capThreshold(used: number, cap: number | null): number | undefined {
  if (cap === null || cap <= 0) return undefined;
  return GLOBAL_CAP_THRESHOLDS.filter((t) => BigInt(used) * 100n >= BigInt(cap) * BigInt(t)).at(-1);
}

/**
 * The explicit spending alert's amount, when it is one of its own: unset (or equal to
 * 80 % of the cap, to the micro-dollar) it is the cap's 80 % alert.
 */
export function separateSpendAlert(alert: number | null, cap: number | null): number | null {
  if (alert === null) return null;
  if (cap !== null && cap > 0 && BigInt(alert) * 100n === BigInt(cap) * 80n) return null;
  return alert;
}

const count = new Intl.NumberFormat('en-US');
const usd = (micros: number) => formatMicroUsd(micros, { maxFractionDigits: 2 });

export function globalAlerts(r: GlobalReading): GlobalAlert[] {
  const out: GlobalAlert[] = [];
  const dayKey = periodKey(r.day);
  const monthKey = periodKey(r.month);

  const tokens = capThreshold(r.tokensToday, r.tokenCap);
  if (tokens !== undefined) {
    out.push({
      kind: 'global_tokens',
      subject: GLOBAL_SUBJECT,
      threshold: tokens,
      periodKey: dayKey,
      title: tokens >= 100 ? "ChatMeter has reached today's global token cap" : `ChatMeter has used ${tokens}% of today's global token cap`,
      body: `${count.format(r.tokensToday)} of ${count.format(r.tokenCap)} tokens settled today (UTC). ${
        tokens >= 100 ? 'Chats are refused until midnight UTC' : 'At the cap every chat is refused until midnight UTC'
      }; raise it in the Admin tab (or MAX_TOKENS_PER_DAY) if this is expected.`,
      details: { used: r.tokensToday, cap: r.tokenCap },
    });
  }

  for (const p of [
    { kind: 'global_cost_day', used: r.costToday, cap: r.costDayCap, key: dayKey, of: 'today', until: 'midnight UTC', env: 'MAX_COST_PER_DAY_USD' },
    {
      kind: 'global_cost_month',
      used: r.costMonth,
      cap: r.costMonthCap,
      key: monthKey,
      of: 'this month',
      until: 'the 1st of next month (UTC)',
      env: 'MAX_COST_PER_MONTH_USD',
    },
  ] as const) {
    const t = capThreshold(p.used, p.cap);
    if (t === undefined || p.cap === null) continue;
    const which = p.kind === 'global_cost_day' ? "today's provider-cost cap" : "this month's provider-cost cap";
    out.push({
      kind: p.kind,
      subject: GLOBAL_SUBJECT,
      threshold: t,
      periodKey: p.key,
      title: t >= 100 ? `ChatMeter has reached ${which} (${usd(p.cap)})` : `ChatMeter has used ${t}% of ${which} (${usd(p.used)} of ${usd(p.cap)})`,
      body: `${usd(p.used)} of ${usd(p.cap)} in provider cost ${p.of} (UTC), from settled usage. ${
        t >= 100 ? `Chats are refused until ${p.until}` : `At the cap every chat is refused until ${p.until}`
      }; raise it in the Admin tab (or ${p.env}) if this is expected.`,
      details: { usedMicroUsd: p.used, capMicroUsd: p.cap },
    });
  }

  for (const p of [
    { kind: 'cost_alert_day', used: r.costToday, alert: separateSpendAlert(r.alertDay, r.costDayCap), key: dayKey, of: 'today', env: 'ALERT_COST_PER_DAY_USD' },
    {
      kind: 'cost_alert_month',
      used: r.costMonth,
      alert: separateSpendAlert(r.alertMonth, r.costMonthCap),
      key: monthKey,
      of: 'this month',
      env: 'ALERT_COST_PER_MONTH_USD',
    },
  ] as const) {
    if (p.alert === null || p.used < p.alert) continue;
    out.push({
      kind: p.kind,
      subject: GLOBAL_SUBJECT,
      threshold: 0,
      periodKey: p.key,
      title: `Provider cost ${p.of} has passed ${usd(p.alert)}: ${usd(p.used)}`,
      body: `${usd(p.used)} in provider cost ${p.of} (UTC), from settled usage; ${p.env} alerts at ${usd(p.alert)}. Nothing is refused because of it; the Admin tab shows who spends what.`,
      details: { usedMicroUsd: p.used, alertMicroUsd: p.alert },
    });
  }
  return out;
}
