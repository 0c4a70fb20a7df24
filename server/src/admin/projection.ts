// Month-end cost projection: what the calendar month has cost so far plus the
// trend of the recent complete days carried to the end of the month. The trend
// is a least-squares line through up to the last 14 complete days (an average
// when there are fewer than 3), never below zero.
import { addDays, dayRange, dayStartOf, utcDay } from '../lib/days.ts';

export const TREND_DAYS = 14;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ProjectionInput {
  now: Date;
  /** Cost per UTC day ('YYYY-MM-DD' -> micro-USD); missing days cost nothing. */
  dailyCost: ReadonlyMap<string, number>;
  /** The first day with any usage at all, so days before it do not pull the trend to zero. */
  firstDay?: string | undefined;
}

export interface Projection {
  monthStart: Date;
  monthEnd: Date;
  costToDateMicroUsd: number;
  projectedCostMicroUsd: number;
  /** The trend's estimate of a full day's cost today and on the last day of the month. */
  trendPerDayMicroUsd: { today: number; monthEnd: number };
  trendDays: number;
  method: 'linear' | 'average' | 'none';
}

/** Least squares through (0, y0) ... (n-1, yn-1); returns intercept and slope. */
export function linearFit(values: readonly number[]): { intercept: number; slope: number } {
  const n = values.length;
  if (n === 0) return { intercept: 0, slope: 0 };
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  values.forEach((y, x) => {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
  });
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { intercept: meanY - slope * meanX, slope };
}

export function projectMonthCost(input: ProjectionInput): Projection {
  const { now, dailyCost } = input;
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const monthEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const today = utcDay(now);
  const cost = (day: string) => dailyCost.get(day) ?? 0;

  const costToDate = dayRange(utcDay(monthStart), today).reduce((sum, day) => sum + cost(day), 0);

  // Complete days only: today is still filling up.
  let firstTrendDay = addDays(today, -TREND_DAYS);
  if (input.firstDay && input.firstDay > firstTrendDay) firstTrendDay = input.firstDay;
  const trendDays = firstTrendDay <= addDays(today, -1) ? dayRange(firstTrendDay, addDays(today, -1)) : [];
  const values = trendDays.map(cost);

  let method: Projection['method'] = 'none';
  let predict: (offsetFromToday: number) => number = () => 0;
  if (values.length >= 3) {
    const { intercept, slope } = linearFit(values);
    // x of today is values.length (the day after the last complete one).
    predict = (offset) => Math.max(0, intercept + slope * (values.length + offset));
    method = 'linear';
  } else if (values.length > 0) {
    const average = values.reduce((a, b) => a + b, 0) / values.length;
    predict = () => average;
    method = 'average';
  } else {
    // No complete day yet: today's rate so far.
    const elapsed = (now.getTime() - dayStartOf(today).getTime()) / DAY_MS;
    const rate = elapsed > 0 ? cost(today) / elapsed : 0;
    predict = () => rate;
    method = cost(today) > 0 ? 'average' : 'none';
  }

  const elapsedToday = (now.getTime() - dayStartOf(today).getTime()) / DAY_MS;
  let remaining = predict(0) * (1 - elapsedToday);
  const lastDay = utcDay(new Date(monthEnd.getTime() - 1));
  const futureDays = today < lastDay ? dayRange(addDays(today, 1), lastDay) : [];
  futureDays.forEach((_, i) => {
    remaining += predict(i + 1);
  });

  return {
    monthStart,
    monthEnd,
    costToDateMicroUsd: costToDate,
    projectedCostMicroUsd: costToDate + Math.round(remaining),
    trendPerDayMicroUsd: { today: Math.round(predict(0)), monthEnd: Math.round(predict(futureDays.length)) },
    trendDays: values.length,
    method,
  };
}
