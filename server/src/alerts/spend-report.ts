// The weekly spend report for the admins: the week's figures against the week before,
// the top users, the plans and the month's projection, as plain text for an e-mail
// and a webhook post. Pure: the figures and the clock are parameters (the query is in
// alert-service.ts).
import { formatMicroUsd } from '@chatmeter/shared/money';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The week just ended is reported from this hour on Monday (UTC): late reservations have settled by then. */
export const SPEND_REPORT_FROM_HOUR_UTC = 1;
export const SPEND_REPORT_TOP_USERS = 5;

export interface IsoWeek {
  /** e.g. 2026-W49 */
  label: string;
  /** Monday 00:00 UTC, and the next Monday. */
  start: Date;
  end: Date;
}

/** The ISO week (Monday to Sunday, UTC) that contains `at`. */
export function isoWeekOf(at: Date): IsoWeek {
  const day = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday 0 ... Sunday 6
  const start = new Date(day - weekday * DAY_MS);
  // The ISO year is the one of the week's Thursday; week 1 holds the year's first Thursday.
  const thursday = new Date(start.getTime() + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return { label: `${year}-W${String(week).padStart(2, '0')}`, start, end: new Date(start.getTime() + 7 * DAY_MS) };
}

/** The week to report at `now`: the last complete one, once Monday has reached SPEND_REPORT_FROM_HOUR_UTC; undefined before. */
export function reportableWeek(now: Date): IsoWeek | undefined {
  const current = isoWeekOf(now);
  if (now.getTime() < current.start.getTime() + SPEND_REPORT_FROM_HOUR_UTC * 60 * 60 * 1000) return undefined;
  return isoWeekOf(new Date(current.start.getTime() - DAY_MS));
}

export interface SpendFigures {
  costMicroUsd: number;
  tokens: number;
  requests: number;
}

export interface SpendReportData {
  week: IsoWeek;
  thisWeek: SpendFigures;
  weekBefore: SpendFigures;
  /** The accounts that cost most in the week (a deleted one's usage is under "deleted accounts"). */
  topUsers: (SpendFigures & { who: string; plan: string })[];
  /** By the users' current plan (guests: guest). */
  plans: (SpendFigures & { plan: string; users: number })[];
  /** The calendar month of the week's last day, up to the end of the week (or of the month, if sooner). */
  month: { start: Date; costToDate: number; capMicroUsd: number | null };
}

export interface SpendReport {
  title: string;
  body: string;
  details: Record<string, string | number>;
}

/** The month's cost projected from its first days: to-date / days elapsed x days in the month, rounded. */
export function projectMonth(costToDate: number, daysElapsed: number, daysInMonth: number): number {
  if (daysElapsed <= 0) return 0;
  const scaled = BigInt(costToDate) * BigInt(daysInMonth);
  return Number((scaled + BigInt(daysElapsed) / 2n) / BigInt(daysElapsed));
}

/** "+23 %", "−5 %", "no change", "new" (nothing the week before). */
export function change(now: number, before: number): string {
  if (before === 0) return now === 0 ? 'no change' : 'new';
  const percent = Math.round(((now - before) * 100) / before);
  if (percent === 0) return 'no change';
  return percent > 0 ? `+${percent} %` : `−${-percent} %`;
}

const count = new Intl.NumberFormat('en-US');
const usd = (micros: number) => formatMicroUsd(micros, { maxFractionDigits: 2 });
const date = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
const monthName = new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' });

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('   ')
      .trimEnd(),
  );
}

export function spendReportText(d: SpendReportData): SpendReport {
  const lastDay = new Date(d.week.end.getTime() - DAY_MS);
  const monthEnd = new Date(Date.UTC(d.month.start.getUTCFullYear(), d.month.start.getUTCMonth() + 1, 1));
  const daysInMonth = Math.round((monthEnd.getTime() - d.month.start.getTime()) / DAY_MS);
  const toDateEnd = Math.min(d.week.end.getTime(), monthEnd.getTime());
  const daysElapsed = Math.round((toDateEnd - d.month.start.getTime()) / DAY_MS);
  const projected = projectMonth(d.month.costToDate, daysElapsed, daysInMonth);

  const lines = [`ChatMeter spend report, week ${d.week.label} (${date.format(d.week.start)} to ${date.format(lastDay)}, UTC; settled usage)`, ''];
  lines.push(
    ...table([
      ['', 'this week', 'week before', 'change'],
      ['Provider cost', usd(d.thisWeek.costMicroUsd), usd(d.weekBefore.costMicroUsd), change(d.thisWeek.costMicroUsd, d.weekBefore.costMicroUsd)],
      ['Tokens', count.format(d.thisWeek.tokens), count.format(d.weekBefore.tokens), change(d.thisWeek.tokens, d.weekBefore.tokens)],
      ['Requests', count.format(d.thisWeek.requests), count.format(d.weekBefore.requests), change(d.thisWeek.requests, d.weekBefore.requests)],
    ]),
    '',
  );
  const cap =
    d.month.capMicroUsd === null
      ? ''
      : projected > d.month.capMicroUsd
        ? ` That is above the monthly cost cap of ${usd(d.month.capMicroUsd)}: chats will be refused once it is reached.`
        : ` The monthly cost cap is ${usd(d.month.capMicroUsd)}.`;
  lines.push(
    `${monthName.format(d.month.start)}: ${usd(d.month.costToDate)} in its first ${daysElapsed} ${daysElapsed === 1 ? 'day' : 'days'}; at that pace, ${usd(projected)} for the month.${cap}`,
    '',
  );
  lines.push('Top users by cost');
  if (d.topUsers.length === 0) lines.push('  (no usage this week)');
  d.topUsers.forEach((u, i) => {
    lines.push(
      `  ${i + 1}. ${u.who} (${u.plan}): ${usd(u.costMicroUsd)}, ${count.format(u.tokens)} tokens, ${count.format(u.requests)} ${u.requests === 1 ? 'request' : 'requests'}`,
    );
  });
  lines.push('', 'By plan (current plan of each account)');
  if (d.plans.length === 0) lines.push('  (no usage this week)');
  else
    lines.push(
      ...table([
        ['plan', 'users', 'cost', 'tokens', 'requests'],
        ...d.plans.map((p) => [p.plan, count.format(p.users), usd(p.costMicroUsd), count.format(p.tokens), count.format(p.requests)]),
      ]).map((l) => `  ${l}`),
    );

  return {
    title: `Weekly spend report ${d.week.label}: ${usd(d.thisWeek.costMicroUsd)} (${change(d.thisWeek.costMicroUsd, d.weekBefore.costMicroUsd)} on the week before)`,
    body: lines.join('\n'),
    details: {
      week: d.week.label,
      costMicroUsd: d.thisWeek.costMicroUsd,
      costWeekBeforeMicroUsd: d.weekBefore.costMicroUsd,
      tokens: d.thisWeek.tokens,
      requests: d.thisWeek.requests,
      projectedMonthMicroUsd: projected,
    },
  };
}
