// admin.overview: totals for today, 7 and 30 days, a daily series, usage by
// model, top users, upgrade candidates and the month-end projection against
// plan revenue. Everything is read from the roll-ups (usage_daily,
// refusals_daily) and quota_counters, never from raw usage events. The days
// before today are aggregated once per UTC day (they no longer change); each
// call adds today's rows: a handful of small queries, run in parallel.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { centsToMicros } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import { COUNTER } from '../metering/counters.ts';
import { ANONYMOUS_USER_ID } from '../metering/anonymous-user.ts';
import { dayStart, monthStart } from '../metering/periods.ts';
import { addDays, dayRange, utcDay } from '../lib/days.ts';
import { projectMonthCost, TREND_DAYS, type Projection } from './projection.ts';

/** A free user at or above this share of a limit is an upgrade candidate. */
export const UPGRADE_THRESHOLD = 0.8;
const TOP_USERS = 10;
const MAX_CANDIDATES = 25;
/**
 * Just after midnight, events of the day before may still commit (a settlement
 * stamped 23:59:59 commits at 00:00:01): closed days read in this window are
 * read again after a minute.
 */
const CLOSING_GRACE_MS = 15 * 60_000;
const CLOSING_REFRESH_MS = 60_000;
const WARM_EVERY_MS = 5 * 60_000;

export interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  costMicroUsd: number;
  ttsChars: number;
  /** Signed-in accounts with any usage in the window. */
  activeUsers: number;
  /** Guest sessions with any usage in the window. */
  guests: number;
  guestRequests: number;
  providerErrors: number;
  refusals: { total: number; byReason: Record<string, number> };
}

export interface SeriesPoint {
  day: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  costMicroUsd: number;
  ttsChars: number;
  providerErrors: number;
  refusals: number;
}

export interface ModelRow {
  model: string;
  /** The provider that served it ('' for voice and usage from before providers were recorded). */
  provider: string;
  kind: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  costMicroUsd: number;
  ttsChars: number;
  errors: number;
}

export interface TopUser {
  userId: string;
  email: string | null;
  plan: string | null;
  isGuest: boolean;
  deleted: boolean;
  requests: number;
  tokens: number;
  costMicroUsd: number;
}

export interface UpgradeCandidate {
  userId: string;
  email: string | null;
  messagesToday: number;
  messagesPerDay: number;
  tokensThisMonth: number;
  tokensPerMonth: number;
  /** The larger of the two shares of the limit, 0..1+. */
  fraction: number;
  limits: ('messagesPerDay' | 'tokensPerMonth')[];
}

export interface Overview {
  generatedAt: Date;
  days: 1 | 7 | 30;
  today: string;
  totals: { today: Totals; last7: Totals; last30: Totals };
  series: SeriesPoint[];
  byModel: ModelRow[];
  topUsers: TopUser[];
  /** The most pressed first, at most 25 of them. */
  upgradeCandidates: UpgradeCandidate[];
  upgradeCandidatesTotal: number;
  projection: Projection & {
    revenueMicroUsd: number;
    marginMicroUsd: number;
    paidPlans: { plan: string; name: string; users: number; yearlyUsers: number; priceMonthlyCents: number; revenueMicroUsd: number }[];
  };
}

/** Sums arrive as bigint from plain columns and as numbers from JSON ones. */
interface DimensionRow {
  day: string;
  model: string;
  provider: string;
  kind: string;
  status: string;
  is_guest: boolean;
  requests: bigint | number;
  prompt: bigint | number;
  completion: bigint | number;
  cost: bigint | number;
  tts: bigint | number;
}

interface LiveRow {
  dimensions: DimensionRow[] | null;
  users: { u: string; g: boolean; r: number; t: number; c: number }[] | null;
  refusals: { day: string; reason: string; count: number }[] | null;
  plans: { plan_id: string; price_id: string | null; users: number }[] | null;
}

interface Sums {
  requests: number;
  tokens: number;
  cost: number;
}

/**
 * What the days before today add up to. A closed UTC day no longer changes
 * (events are written with the time they are settled), so this is read once
 * per day per instance and prepared for merging: every call then only
 * aggregates today's roll-up rows and touches today's users.
 */
interface ClosedDays {
  today: string;
  dimensions: DimensionRow[];
  /** Last active day per `${userId}|${isGuest}` (accounts and guests are counted apart). */
  lastDay: Map<string, string>;
  /** Active accounts / guests in the closed part of each window. */
  active: { accounts7: number; accounts30: number; guests7: number; guests30: number };
  /** Per user (guest flags merged): the closed part of the 7- and 30-day windows. */
  sums: Map<string, { last7: Sums; last30: Sums }>;
  /** User ids by the closed part of each window, largest first (the top users' order). */
  ranked: { 7: string[]; 30: string[] };
}

const byCost = (a: [string, Sums], b: [string, Sums]) => b[1].cost - a[1].cost || b[1].tokens - a[1].tokens || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

const n = (v: bigint | number | null | undefined) => Number(v ?? 0);
const noSums = (): Sums => ({ requests: 0, tokens: 0, cost: 0 });

function emptyTotals(): Totals {
  return {
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    tokens: 0,
    costMicroUsd: 0,
    ttsChars: 0,
    activeUsers: 0,
    guests: 0,
    guestRequests: 0,
    providerErrors: 0,
    refusals: { total: 0, byReason: {} },
  };
}

/** The first day any part of the overview reads: 30 days, the calendar month, the trend's days. */
function firstDayRead(now: Date): string {
  const today = utcDay(now);
  return [addDays(today, -29), utcDay(monthStart(now)), addDays(today, -TREND_DAYS)].sort()[0]!;
}

const dimensionColumns = Prisma.sql`
  model, provider, kind, status, is_guest, sum(requests)::bigint AS requests, sum(prompt_tokens)::bigint AS prompt,
  sum(completion_tokens)::bigint AS completion, sum(cost_micro_usd)::bigint AS cost, sum(tts_chars)::bigint AS tts`;

/** The usage amounts a series point, a window's totals and a model row all add up. */
type UsageSums = Pick<Totals, 'requests' | 'promptTokens' | 'completionTokens' | 'tokens' | 'costMicroUsd' | 'ttsChars'>;

interface RowAmounts {
  requests: number;
  prompt: number;
  completion: number;
  cost: number;
  tts: number;
}

function addUsage(target: UsageSums, a: RowAmounts): void {
  target.requests += a.requests;
  target.promptTokens += a.prompt;
  target.completionTokens += a.completion;
  target.tokens += a.prompt + a.completion;
  target.costMicroUsd += a.cost;
  target.ttsChars += a.tts;
}

const emptyPoint = (day: string): SeriesPoint => ({
  day,
  requests: 0,
  promptTokens: 0,
  completionTokens: 0,
  tokens: 0,
  costMicroUsd: 0,
  ttsChars: 0,
  providerErrors: 0,
  refusals: 0,
});

/**
 * The roll-up rows (closed days and today) and the refusals, added up into the zero-filled
 * daily series (from `from`), the totals of today / 7 / 30 days, and the rows by model of the
 * requested window (from `fromDays`).
 */
function accumulateUsage(
  dimensions: DimensionRow[],
  refusals: NonNullable<LiveRow['refusals']>,
  range: { from: string; today: string; fromDays: string },
): { points: Map<string, SeriesPoint>; totals: Overview['totals']; models: Map<string, ModelRow>; firstDay: string | undefined } {
  const { today } = range;
  const points = new Map(dayRange(range.from, today).map((day) => [day, emptyPoint(day)]));
  const totals = { today: emptyTotals(), last7: emptyTotals(), last30: emptyTotals() };
  const windows: [Totals, string][] = [
    [totals.today, today],
    [totals.last7, addDays(today, -6)],
    [totals.last30, addDays(today, -29)],
  ];
  const models = new Map<string, ModelRow>();
  let firstDay: string | undefined;
  for (const row of dimensions) {
    const amounts = { requests: n(row.requests), prompt: n(row.prompt), completion: n(row.completion), cost: n(row.cost), tts: n(row.tts) };
    const errors = row.status === 'error' ? amounts.requests : 0;
    if (!firstDay || row.day < firstDay) firstDay = row.day;
    const point = points.get(row.day);
    if (point) {
      addUsage(point, amounts);
      point.providerErrors += errors;
    }
    for (const [t, start] of windows) {
      if (row.day < start) continue;
      addUsage(t, amounts);
      t.providerErrors += errors;
      if (row.is_guest) t.guestRequests += amounts.requests;
    }
    if (row.day >= range.fromDays) {
      const key = `${row.kind}\u0000${row.model}\u0000${row.provider}`;
      const m = models.get(key) ?? {
        model: row.model,
        provider: row.provider,
        kind: row.kind,
        requests: 0,
        promptTokens: 0,
        completionTokens: 0,
        tokens: 0,
        costMicroUsd: 0,
        ttsChars: 0,
        errors: 0,
      };
      addUsage(m, amounts);
      m.errors += errors;
      models.set(key, m);
    }
  }
  for (const row of refusals) {
    const count = n(row.count);
    const point = points.get(row.day);
    if (point) point.refusals += count;
    for (const [t, start] of windows) {
      if (row.day < start) continue;
      t.refusals.total += count;
      t.refusals.byReason[row.reason] = (t.refusals.byReason[row.reason] ?? 0) + count;
    }
  }
  return { points, totals, models, firstDay };
}

/**
 * Active accounts and guests per window (the closed days' prepared counts plus today's
 * users), written into `totals`; returns today's sums per user.
 */
function countPeople(totals: Overview['totals'], closed: ClosedDays, todayUsers: NonNullable<LiveRow['users']>, today: string): Map<string, Sums> {
  const from7 = addDays(today, -6);
  const counts = { ...closed.active, accounts1: 0, guests1: 0 };
  const todayByUser = new Map<string, Sums>();
  for (const t of todayUsers) {
    const last = closed.lastDay.get(`${t.u}|${t.g}`);
    if (t.g) {
      counts.guests1++;
      if (!last || last < from7) counts.guests7++;
      if (!last) counts.guests30++;
    } else {
      counts.accounts1++;
      if (!last || last < from7) counts.accounts7++;
      if (!last) counts.accounts30++;
    }
    const sums = todayByUser.get(t.u) ?? noSums();
    sums.requests += Number(t.r);
    sums.tokens += Number(t.t);
    sums.cost += Number(t.c);
    todayByUser.set(t.u, sums);
  }
  totals.today.activeUsers = counts.accounts1;
  totals.last7.activeUsers = counts.accounts7;
  totals.last30.activeUsers = counts.accounts30;
  totals.today.guests = counts.guests1;
  totals.last7.guests = counts.guests7;
  totals.last30.guests = counts.guests30;
  return todayByUser;
}

/**
 * The top users of the window: anyone active today (closed part + today), or else the
 * best of the closed ranking, whose totals are their closed sums.
 */
function topUsers(days: 1 | 7 | 30, closed: ClosedDays, todayByUser: Map<string, Sums>): [string, Sums][] {
  const candidates: [string, Sums][] = [];
  for (const [id, t] of todayByUser) {
    const c = days === 1 ? undefined : closed.sums.get(id)?.[days === 7 ? 'last7' : 'last30'];
    candidates.push([id, { requests: t.requests + (c?.requests ?? 0), tokens: t.tokens + (c?.tokens ?? 0), cost: t.cost + (c?.cost ?? 0) }]);
  }
  if (days !== 1) {
    let added = 0;
    for (const id of closed.ranked[days]) {
      if (added >= TOP_USERS) break;
      if (todayByUser.has(id)) continue;
      candidates.push([id, closed.sums.get(id)![days === 7 ? 'last7' : 'last30']]);
      added++;
    }
  }
  return candidates
    .filter(([, x]) => x.requests > 0)
    .sort(byCost)
    .slice(0, TOP_USERS);
}

export class OverviewService {
  private closed: { today: string; readAt: number; promise: Promise<ClosedDays> } | undefined;
  private warmer: NodeJS.Timeout | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly plans: readonly TPlan[],
    /** Stripe price id -> billing interval, so yearly subscribers count at a twelfth of the yearly price. */
    private readonly priceIntervals: ReadonlyMap<string, 'month' | 'year'> = new Map(),
  ) {}

  /** Forget the closed days (after something rewrote past roll-ups, e.g. an account deletion). */
  invalidate(): void {
    this.closed = undefined;
  }

  /** Reads the closed days ahead of the first call of a day, so no admin waits for it. */
  startWarming(): void {
    if (this.warmer) return;
    const warm = () => void this.closedDays(new Date()).catch(() => {});
    this.warmer = setInterval(warm, WARM_EVERY_MS);
    this.warmer.unref();
    setTimeout(warm, 5_000).unref();
  }

  stopWarming(): void {
    clearInterval(this.warmer);
    this.warmer = undefined;
  }

  async overview(days: 1 | 7 | 30, now = new Date()): Promise<Overview> {
    const today = utcDay(now);
    const from30 = addDays(today, -29);
    const [closed, live, upgrade] = await Promise.all([this.closedDays(now), this.readToday(today), this.upgradeCandidates(now)]);

    const usage = accumulateUsage([...closed.dimensions, ...(live.dimensions ?? [])], live.refusals ?? [], {
      from: firstDayRead(now),
      today,
      fromDays: addDays(today, -(days - 1)),
    });
    const todayByUser = countPeople(usage.totals, closed, live.users ?? [], today);
    const top = topUsers(days, closed, todayByUser);
    const dailyCost = new Map([...usage.points.values()].map((p) => [p.day, p.costMicroUsd]));
    const projection = projectMonthCost({ now, dailyCost, firstDay: usage.firstDay });
    const paidPlans = this.paidPlanRevenue(live.plans ?? []);
    const revenueMicroUsd = paidPlans.reduce((sum, p) => sum + p.revenueMicroUsd, 0);

    return {
      generatedAt: now,
      days,
      today,
      totals: usage.totals,
      series: dayRange(from30, today)
        .slice(-days)
        .map((day) => usage.points.get(day)!),
      byModel: [...usage.models.values()].sort((a, b) => b.costMicroUsd - a.costMicroUsd || b.requests - a.requests),
      topUsers: await this.describeTopUsers(top),
      upgradeCandidates: upgrade.items,
      upgradeCandidatesTotal: upgrade.total,
      projection: { ...projection, revenueMicroUsd, marginMicroUsd: revenueMicroUsd - projection.projectedCostMicroUsd, paidPlans },
    };
  }

  /** Today's part in one round trip (JSON columns): usage by dimension and by user, 30 days of refusals, accounts per plan. */
  private async readToday(today: string): Promise<LiveRow> {
    const from30 = addDays(today, -29);
    const live = await this.prisma.$queryRaw<[LiveRow]>(Prisma.sql`
      SELECT
        (SELECT json_agg(x) FROM (
           SELECT ${today}::text AS day, ${dimensionColumns}
             FROM usage_daily WHERE day = ${today}::date
            GROUP BY model, provider, kind, status, is_guest) x) AS dimensions,
        (SELECT json_agg(x) FROM (
           SELECT user_id AS u, is_guest AS g, sum(requests) AS r, sum(prompt_tokens + completion_tokens) AS t, sum(cost_micro_usd) AS c
             FROM usage_daily WHERE day = ${today}::date AND user_id <> ${ANONYMOUS_USER_ID}::uuid
            GROUP BY user_id, is_guest) x) AS users,
        (SELECT json_agg(x) FROM (
           SELECT to_char(day, 'YYYY-MM-DD') AS day, reason, count FROM refusals_daily
            WHERE day BETWEEN ${from30}::date AND ${today}::date) x) AS refusals,
        (SELECT json_agg(x) FROM (
           SELECT u.plan_id, s.price_id, count(*) AS users FROM users u
             LEFT JOIN LATERAL (
               SELECT price_id FROM subscriptions
                WHERE user_id = u.id AND status IN ('active', 'trialing', 'past_due')
                ORDER BY updated_at DESC LIMIT 1) s ON true
            WHERE NOT u.is_guest AND u.deleted_at IS NULL GROUP BY u.plan_id, s.price_id) x) AS plans`);
    return live[0];
  }

  /** Each paid plan's accounts and monthly revenue; a yearly subscriber brings a twelfth of the yearly price a month. */
  private paidPlanRevenue(planCounts: NonNullable<LiveRow['plans']>): Overview['projection']['paidPlans'] {
    return this.plans
      .filter((plan) => plan.priceMonthlyCents > 0)
      .map((plan) => {
        const rows = planCounts.filter((row) => row.plan_id === plan.id);
        const users = rows.reduce((sum, row) => sum + n(row.users), 0);
        const yearlyUsers = rows
          .filter((row) => row.price_id != null && this.priceIntervals.get(row.price_id) === 'year')
          .reduce((sum, row) => sum + n(row.users), 0);
        const monthlyUsers = users - yearlyUsers;
        const revenueMicroUsd =
          monthlyUsers * centsToMicros(plan.priceMonthlyCents) +
          Math.round((yearlyUsers * centsToMicros(plan.priceYearlyCents ?? plan.priceMonthlyCents * 12)) / 12);
        return { plan: plan.id, name: plan.name, users, yearlyUsers, priceMonthlyCents: plan.priceMonthlyCents, revenueMicroUsd };
      });
  }

  /** Single flight: concurrent calls on a new day share one read of the closed days. */
  private closedDays(now: Date): Promise<ClosedDays> {
    const today = utcDay(now);
    const at = now.getTime();
    const dayBegan = Date.parse(`${today}T00:00:00Z`);
    const fresh = this.closed?.today === today && (this.closed.readAt >= dayBegan + CLOSING_GRACE_MS || at - this.closed.readAt < CLOSING_REFRESH_MS);
    if (!fresh || !this.closed) {
      const promise = this.readClosedDays(now);
      this.closed = { today, readAt: at, promise };
      promise.catch(() => {
        if (this.closed?.promise === promise) this.closed = undefined;
      });
    }
    return this.closed.promise;
  }

  private async readClosedDays(now: Date): Promise<ClosedDays> {
    const today = utcDay(now);
    const yesterday = addDays(today, -1);
    const from = firstDayRead(now);
    const [dimensions, users] = await Promise.all([
      this.prisma.$queryRaw<DimensionRow[]>(Prisma.sql`
        SELECT to_char(day, 'YYYY-MM-DD') AS day, ${dimensionColumns}
          FROM usage_daily WHERE day BETWEEN ${from}::date AND ${yesterday}::date
         GROUP BY day, model, provider, kind, status, is_guest`),
      // One JSON value instead of a row per user: thousands of users decode in a few ms.
      this.prisma.$queryRaw<
        { users: { u: string; g: boolean; d: string; r7: number; t7: number; c7: number; r30: number; t30: number; c30: number }[] | null }[]
      >(Prisma.sql`
        SELECT json_agg(x) AS users FROM (
          SELECT user_id AS u, is_guest AS g, to_char(max(day), 'YYYY-MM-DD') AS d,
                 COALESCE(sum(requests) FILTER (WHERE day >= ${addDays(today, -6)}::date), 0) AS r7,
                 COALESCE(sum(prompt_tokens + completion_tokens) FILTER (WHERE day >= ${addDays(today, -6)}::date), 0) AS t7,
                 COALESCE(sum(cost_micro_usd) FILTER (WHERE day >= ${addDays(today, -6)}::date), 0) AS c7,
                 sum(requests) AS r30, sum(prompt_tokens + completion_tokens) AS t30, sum(cost_micro_usd) AS c30
            FROM usage_daily
           WHERE day BETWEEN ${addDays(today, -29)}::date AND ${yesterday}::date AND user_id <> ${ANONYMOUS_USER_ID}::uuid
           GROUP BY user_id, is_guest) x`),
    ]);
    const lastDay = new Map<string, string>();
    const active = { accounts7: 0, accounts30: 0, guests7: 0, guests30: 0 };
    const sums = new Map<string, { last7: Sums; last30: Sums }>();
    for (const u of users[0]?.users ?? []) {
      lastDay.set(`${u.u}|${u.g}`, u.d);
      if (u.g) {
        active.guests30++;
        if (u.d >= addDays(today, -6)) active.guests7++;
      } else {
        active.accounts30++;
        if (u.d >= addDays(today, -6)) active.accounts7++;
      }
      const acc = sums.get(u.u) ?? { last7: noSums(), last30: noSums() };
      acc.last7.requests += Number(u.r7);
      acc.last7.tokens += Number(u.t7);
      acc.last7.cost += Number(u.c7);
      acc.last30.requests += Number(u.r30);
      acc.last30.tokens += Number(u.t30);
      acc.last30.cost += Number(u.c30);
      sums.set(u.u, acc);
    }
    const rank = (key: 'last7' | 'last30') =>
      [...sums.entries()]
        .map(([id, s]): [string, Sums] => [id, s[key]])
        .filter(([, s]) => s.requests > 0)
        .sort(byCost)
        .map(([id]) => id);
    return { today, dimensions, lastDay, active, sums, ranked: { 7: rank('last7'), 30: rank('last30') } };
  }

  private async describeTopUsers(top: [string, Sums][]): Promise<TopUser[]> {
    const users = top.length
      ? await this.prisma.user.findMany({
          where: { id: { in: top.map(([id]) => id) } },
          select: { id: true, email: true, planId: true, isGuest: true, deletedAt: true },
        })
      : [];
    return top.map(([id, s]) => {
      const user = users.find((u) => u.id === id);
      return {
        userId: id,
        email: user?.email ?? null,
        plan: user?.planId ?? null,
        isGuest: user?.isGuest ?? false,
        deleted: !user || user.deletedAt !== null,
        requests: s.requests,
        tokens: s.tokens,
        costMicroUsd: s.cost,
      };
    });
  }

  /** Free accounts at or above 80 % of today's messages or this month's tokens (quota_counters), most pressed first. */
  private async upgradeCandidates(now: Date): Promise<{ items: UpgradeCandidate[]; total: number }> {
    const free = this.plans.find((p) => p.id === 'free');
    if (!free) return { items: [], total: 0 };
    const { messagesPerDay, tokensPerMonth } = free.limits;
    const messagesAt = Math.max(1, Math.ceil(messagesPerDay * UPGRADE_THRESHOLD));
    const tokensAt = Math.max(1, Math.ceil(tokensPerMonth * UPGRADE_THRESHOLD));
    const day = dayStart(now);
    const month = monthStart(now);
    const rows = await this.prisma.$queryRaw<{ id: string; email: string | null; messages: bigint; tokens: bigint; total: bigint }[]>(Prisma.sql`
      WITH hot AS (
        SELECT DISTINCT subject FROM quota_counters
         WHERE (kind = ${COUNTER.messagesDay} AND period_start = ${day}::timestamptz AND used >= ${messagesAt}::bigint)
            OR (kind = ${COUNTER.tokensMonth} AND period_start = ${month}::timestamptz AND used >= ${tokensAt}::bigint)
      ), counters AS (
        SELECT h.subject,
               COALESCE((SELECT q.used FROM quota_counters q WHERE q.subject = h.subject AND q.kind = ${COUNTER.messagesDay} AND q.period_start = ${day}::timestamptz), 0) AS messages,
               COALESCE((SELECT q.used FROM quota_counters q WHERE q.subject = h.subject AND q.kind = ${COUNTER.tokensMonth} AND q.period_start = ${month}::timestamptz), 0) AS tokens
          FROM hot h
      )
      SELECT u.id::text AS id, u.email, c.messages, c.tokens, count(*) OVER ()::bigint AS total
        FROM counters c JOIN users u ON c.subject = 'u:' || u.id::text
       WHERE u.plan_id = 'free' AND NOT u.is_guest AND u.deleted_at IS NULL
       ORDER BY GREATEST(c.messages::float8 / ${Math.max(1, messagesPerDay)}::float8, c.tokens::float8 / ${Math.max(1, tokensPerMonth)}::float8) DESC, u.id
       LIMIT ${MAX_CANDIDATES}`);
    const items = rows.map((r) => {
      const messagesToday = n(r.messages);
      const tokensThisMonth = n(r.tokens);
      const limits: UpgradeCandidate['limits'] = [];
      if (messagesToday >= messagesAt) limits.push('messagesPerDay');
      if (tokensThisMonth >= tokensAt) limits.push('tokensPerMonth');
      const fraction = Math.max(messagesPerDay ? messagesToday / messagesPerDay : 0, tokensPerMonth ? tokensThisMonth / tokensPerMonth : 0);
      return { userId: r.id, email: r.email, messagesToday, messagesPerDay, tokensThisMonth, tokensPerMonth, fraction, limits };
    });
    return { items, total: n(rows[0]?.total) };
  }
}
