// Which alert thresholds a quota reading has reached, and the words of the
// notification. Pure: the clock and the figures are parameters.
import { QUOTA_ALERT_THRESHOLDS, type TQuotaAlertKind } from '@chatmeter/shared/notifications';
import { formatMicroUsd } from '@chatmeter/shared/money';

export interface QuotaReading {
  kind: TQuotaAlertKind;
  used: number;
  limit: number;
  /** Start of the period (the hour, the UTC day, the billing month). */
  periodStart: Date;
  resetAt: Date;
  /**
   * The allowance no longer pays for messages although `used` is below `limit`: credits
   * took over (tokens_month). The reservation funds a message from credits once what is
   * left cannot cover its prompt and the minimum reply, and never charges the allowance
   * past its limit, so the counter stops short of 100 % and only this says "all used".
   */
  exhausted?: boolean | undefined;
}

/** The thresholds (80, 90, 100) that `used` has reached; none for a limit of 0 (not part of the plan). */
export function reachedThresholds(used: number, limit: number): number[] {
  if (limit <= 0) return [];
  return QUOTA_ALERT_THRESHOLDS.filter((t) => BigInt(used) * 100n >= BigInt(limit) * BigInt(t));
}

/**
 * The one threshold to announce for a reading: the highest one reached. Going from 4 to 5
 * of 5 messages crosses 90 % and 100 % at once; only "all of" is news (and "90 %: 5 of 5"
 * would be wrong). Lower ones are never announced afterwards in the same period.
 */
export function thresholdToAnnounce(used: number, limit: number, exhausted = false): number | undefined {
  if (exhausted && limit > 0) return 100;
  return reachedThresholds(used, limit).at(-1);
}

/**
 * The readings worth announcing: the hourly message cap is left out when it is not below
 * the daily one (then it is never the limit that stops anyone first: the guest plan's
 * 5 an hour and 5 a day would otherwise announce every step twice), and while the day's
 * messages are all used (the day is what stops them, until midnight).
 */
export function announcedReadings(readings: readonly QuotaReading[]): QuotaReading[] {
  const day = readings.find((r) => r.kind === 'messages_day');
  const planCost = readings.find((r) => r.kind === 'cost_month');
  return readings.filter((r) => {
    // The personal spending limit likewise, when it is not below the plan's cost cap: the plan's stops first.
    if (r.kind === 'spend_limit') return !planCost || planCost.limit <= 0 || r.limit < planCost.limit;
    if (r.kind !== 'messages_hour' || !day || day.limit <= 0) return true;
    return r.limit < day.limit && day.used < day.limit;
  });
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
  cost_month: { of: "this period's spending allowance", unit: 'USD' },
  spend_limit: { of: 'your monthly spending limit', unit: 'USD' },
};

const count = new Intl.NumberFormat('en-US');
const when = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

export function quotaAlertText(reading: QuotaReading, threshold: number, planName: string): { title: string; body: string } {
  const what = WHAT[reading.kind];
  const resets = ` Resets ${when.format(reading.resetAt)} UTC.`;
  if (reading.kind === 'tokens_month' && threshold >= 100 && reading.used < reading.limit) {
    // Credits took over before the counter reached the limit (QuotaReading.exhausted).
    return {
      title: "You have used this period's tokens: credits now pay for your messages",
      body: `${count.format(reading.used)} of ${count.format(reading.limit)} tokens on the ${planName} plan; what is left does not cover a message, so your credits pay for further messages until the allowance resets.${resets}`,
    };
  }
  const title = threshold >= 100 ? `You have used all of ${what.of}` : `You have used ${threshold}% of ${what.of}`;
  const shown = Math.min(reading.used, reading.limit);
  const used =
    reading.kind === 'cost_month'
      ? `${formatMicroUsd(shown)} of ${formatMicroUsd(reading.limit)} in provider cost on the ${planName} plan.`
      : reading.kind === 'spend_limit'
        ? `${formatMicroUsd(shown)} of the ${formatMicroUsd(reading.limit)} you set as your limit.`
        : `${count.format(shown)} of ${count.format(reading.limit)} ${what.unit} on the ${planName} plan.`;
  const next =
    threshold >= 100
      ? reading.kind === 'tokens_month'
        ? ' Credits (if you have any) pay for further messages; otherwise upgrade or buy a credit pack.'
        : reading.kind === 'spend_limit'
          ? ' Raise or remove your limit on the Usage page to keep chatting before it resets.'
          : reading.kind === 'cost_month'
            ? ' Credits (if you have any) pay for further messages; otherwise upgrade or wait until it resets.'
            : ' More become available when the allowance resets.'
      : '';
  return { title, body: `${used}${next}${resets}` };
}
