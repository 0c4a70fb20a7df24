// Which alert thresholds a quota reading has reached, and the words of the
// notification. Pure: the clock and the figures are parameters.
import { QUOTA_ALERT_THRESHOLDS, type TQuotaAlertKind } from '@chatmeter/shared/alerts';

export interface QuotaReading {
  kind: TQuotaAlertKind;
  used: number;
  limit: number;
  /** Start of the period (the hour, the UTC day, the billing month). */
  periodStart: Date;
  resetAt: Date;
}

/** The thresholds (80, 90, 100) that `used` has reached; none for a limit of 0 (not part of the plan). */
export function reachedThresholds(used: number, limit: number): number[] {
  if (limit <= 0) return [];
  return QUOTA_ALERT_THRESHOLDS.filter((t) => BigInt(used) * 100n >= BigInt(limit) * BigInt(t));
}

/** Unique per period: the period's start, as ISO text. */
export function periodKey(periodStart: Date): string {
  return periodStart.toISOString();
}

const WHAT: Record<TQuotaAlertKind, { of: string; unit: string }> = {
  messages_day: { of: "today's messages", unit: 'messages' },
  messages_hour: { of: "this hour's messages", unit: 'messages' },
  tokens_month: { of: "this period's tokens", unit: 'tokens' },
  tts_chars_day: { of: "today's text-to-speech characters", unit: 'characters' },
};

const count = new Intl.NumberFormat('en-US');
const when = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

export function quotaAlertText(reading: QuotaReading, threshold: number, planName: string): { title: string; body: string } {
  const what = WHAT[reading.kind];
  const title = threshold >= 100 ? `You have used all of ${what.of}` : `You have used ${threshold}% of ${what.of}`;
  const used = `${count.format(Math.min(reading.used, reading.limit))} of ${count.format(reading.limit)} ${what.unit} on the ${planName} plan.`;
  const next =
    threshold >= 100
      ? reading.kind === 'tokens_month'
        ? ' Credits (if you have any) pay for further messages; otherwise upgrade or buy a credit pack.'
        : ' More become available when the allowance resets.'
      : '';
  return { title, body: `${used}${next} Resets ${when.format(reading.resetAt)} UTC.` };
}
