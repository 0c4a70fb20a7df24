// usage.daily -> the chart's points and the panel's accessible summary. Pure.
import { microsToUsd } from '@chatmeter/shared/money';

export interface DailyPoint {
  day: string;
  /** "23 Nov" (the day is UTC; so is the label). */
  label: string;
  tokens: number;
  /** Dollars as a float: for the chart only. */
  costUsd: number;
  messages: number;
}

const dayLabel = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

export function dailyPoints(days: readonly { day: string; tokens: number; costMicroUsd: number; messages: number }[]): DailyPoint[] {
  return days.map((d) => ({
    day: d.day,
    label: dayLabel.format(new Date(`${d.day}T00:00:00Z`)),
    tokens: d.tokens,
    costUsd: microsToUsd(d.costMicroUsd),
    messages: d.messages,
  }));
}

/** The busiest day, for the chart's text alternative; null when nothing was used. */
export function busiestDay(points: readonly DailyPoint[]): DailyPoint | null {
  return points.reduce<DailyPoint | null>((best, p) => (p.tokens > 0 && (!best || p.tokens > best.tokens) ? p : best), null);
}
