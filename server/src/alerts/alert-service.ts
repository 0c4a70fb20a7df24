// Alerts after metered usage (docs/architecture.md, "Alerts"). After a chat is
// settled (or a text is spoken) one query reads the user's quota counters and
// the global one (after a chat, unless this instance's projection of the user's
// quotas shows no threshold reached: usage-projection.ts); a threshold reached for the first time in its period becomes
// a row whose unique key makes it fire once however many instances race: only
// the instance whose INSERT ... ON CONFLICT DO NOTHING returned the row sends the
// e-mail (or, for service alerts, e-mails the admins and posts the webhook).
// Everything here is best effort and off the request path: a failure is logged,
// never returned to the user.
//
// Service-wide figures (global caps, the spending alerts, the weekly report) are read
// from settled usage (usage_daily), not from the reservation counters: after usage at
// most every GLOBAL_EVERY_MS per instance, and every minute from start()'s timer.
import { Prisma, type PrismaClient, type SqlQuery } from '@chatmeter/db/client';
import { QUOTA_ALERT_THRESHOLDS, type TQuotaAlertKind } from '@chatmeter/shared/notifications';
import { formatMicroUsd } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import { BoundedMap } from '../lib/bounded-map.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Metrics } from '../metrics.ts';
import type { PlanSubject } from '../plans/plan-resolver.ts';
import { COUNTER, GLOBAL_SUBJECT, userSubject } from '../metering/counters.ts';
import { dayStart, hourStart, monthStart, nextDay, nextHour, type MonthFor, type MonthPeriod } from '../metering/periods.ts';
import { GLOBAL_CAP_THRESHOLDS, type GlobalAlertKind, globalAlerts } from './global-alerts.ts';
import { announcedReadings, periodKey, quotaAlertText, thresholdToAnnounce, type QuotaReading } from './quota-alerts.ts';
import { reportableWeek, SPEND_REPORT_TOP_USERS, type SpendReportData, spendReportText } from './spend-report.ts';
import { type UsageDelta, UsageProjections } from './usage-projection.ts';

export interface AlertUser extends PlanSubject {
  id: string;
}

export interface UsageCheck {
  user: AlertUser;
  /** Known already on the chat path; looked up otherwise. */
  plan?: TPlan | undefined;
  month?: MonthPeriod | undefined;
  /** The client's hashed IP, for the per-IP spend velocity check (chat only). */
  ipHash?: string | undefined;
  now?: Date | undefined;
  /** What the settled chat added (with plan and month): the check is skipped when the projection shows no threshold reached (usage-projection.ts). */
  delta?: UsageDelta | undefined;
}

export interface AlertServiceOptions {
  prisma: PrismaClient;
  /** The per-settlement check runs outside Prisma (Database.query): it follows every chat. */
  query: SqlQuery;
  logger: Logger;
  mailer: Mailer;
  metrics?: Metrics | undefined;
  planFor: (user: PlanSubject) => TPlan;
  monthFor: MonthFor;
  /** The global daily cap when app_settings has none (MAX_TOKENS_PER_DAY). */
  defaultDailyTokenCap: number;
  /** The global cost caps when app_settings has none (MAX_COST_PER_DAY_USD / MAX_COST_PER_MONTH_USD), micro-USD. */
  defaultCostCaps?: { day?: number | undefined; month?: number | undefined } | undefined;
  /** ALERT_COST_PER_DAY_USD / ALERT_COST_PER_MONTH_USD, micro-USD. */
  costAlerts?: { day?: number | undefined; month?: number | undefined } | undefined;
  webhookUrl?: string | undefined;
  velocityFactor: number;
  velocityFloorMicroUsd: number;
  origin: string;
}

/** Service alerts for admins. */
export interface ServiceAlertInput {
  kind: GlobalAlertKind | 'spend_velocity' | 'reconcile_drift' | 'spend_report';
  subject: string;
  threshold: number;
  periodKey: string;
  title: string;
  body: string;
  details: Record<string, string | number>;
  /** Thresholds that rise within a period (80, then 100): none is inserted once a higher one of the period exists. */
  rising?: boolean | undefined;
  /** Opens the webhook post (Slack emoji). */
  icon?: string | undefined;
}

/** Advisory lock class for a user's quota notifications (the second key is the user id's hash). */
const QUOTA_ALERT_LOCK = 72707371;
/** Advisory lock class for a rising service alert (the second key is the hash of its kind and subject). */
const SERVICE_ALERT_LOCK = 72707372;

/** Service-wide figures are read at most this often per instance after usage (start()'s timer reads them every minute). */
const GLOBAL_EVERY_MS = 15 * 1000;
const TICK_MS = 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const TRAILING_HOURS = 7 * 24;
/** The usage events of a spend-velocity subject, given the placeholder of its id. */
const VELOCITY_SUBJECT = {
  user: (id: string) => `user_id = ${id}::uuid`,
  ip: (id: string) => `ip_hash = ${id}`,
} as const;

/** A subject's spend velocity is looked at most this often per instance. */
const VELOCITY_EVERY_MS = 60 * 1000;
const WEBHOOK_TIMEOUT_MS = 5_000;
const REMEMBERED_MAX = 20_000;

/** Quotas that e-mail (the hourly one is in-app only: it could otherwise mail three times an hour). */
const EMAILED: ReadonlySet<TQuotaAlertKind> = new Set(['messages_day', 'tokens_month', 'tts_chars_day', 'cost_month', 'spend_limit']);

export class AlertService {
  /** Keys already fired (or found fired) by this instance: the common case skips the insert. */
  private readonly fired = new BoundedMap<string, true>(REMEMBERED_MAX);
  private readonly velocityCheckedAt = new BoundedMap<string, number>(REMEMBERED_MAX);
  private readonly pending = new Set<Promise<void>>();
  /** Per user: a check is running; `next` is the one to run after it (the latest wins). */
  private readonly running = new Map<string, { next: UsageCheck | null }>();
  private readonly projections = new UsageProjections(REMEMBERED_MAX);
  /** Quota reads run, and checks after a chat skipped on the projection (usage-projection.ts). */
  readonly stats = { reads: 0, skipped: 0 };
  private globalCheckedAt = 0;
  private global: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AlertServiceOptions) {}

  /**
   * Runs the checks in the background; `idle()` waits for them (tests, shutdown).
   * A user's checks are coalesced: while one runs, later ones collapse into one
   * that runs after it, so a burst of messages costs two reads, and the last
   * read always sees the last settlement.
   */
  afterUsage(check: UsageCheck): void {
    if (this.skippable(check)) return;
    const key = check.user.id;
    const running = this.running.get(key);
    if (running) {
      running.next = check;
      return;
    }
    const state = { next: null as UsageCheck | null };
    this.running.set(key, state);
    const run = (async () => {
      let current: UsageCheck | null = check;
      while (current) {
        await this.check(current).catch((error: Error) => this.options.logger.error({ err: error.message, userId: key }, 'alert check failed'));
        current = state.next;
        state.next = null;
      }
    })().finally(() => {
      this.running.delete(key);
      this.pending.delete(run);
    });
    this.pending.add(run);
  }

  /**
   * A settled chat whose user's projection (usage-projection.ts) reaches no threshold, and no spend
   * velocity look due: no read. The service-wide figures are still read when due.
   */
  private skippable(check: UsageCheck): boolean {
    const { delta, plan, month, user } = check;
    if (!delta || !plan || !month) return false;
    const now = check.now ?? new Date();
    if (this.velocityWouldRun(`user:${user.id}`, now) || (check.ipHash && this.velocityWouldRun(`ip:${check.ipHash}`, now))) return false;
    if (!this.projections.skip(user.id, delta, now, { hour: hourStart(now), day: dayStart(now), month: month.start })) return false;
    this.stats.skipped++;
    if (this.globalDue(now)) {
      const run = this.checkGlobal(now)
        .catch((error: Error) => this.options.logger.error({ err: error.message }, 'global alert check failed'))
        .finally(() => this.pending.delete(run));
      this.pending.add(run);
    }
    return true;
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async check(check: UsageCheck): Promise<void> {
    const now = check.now ?? new Date();
    const { user } = check;
    const plan = check.plan ?? this.options.planFor(user);
    const month = check.month ?? (await this.options.monthFor(user.id, now));
    const hour = hourStart(now);
    const day = dayStart(now);
    const subject = userSubject(user.id);
    const hourAgo = new Date(now.getTime() - HOUR_MS);
    // Spend velocity rides along (at most once a minute per subject): one round trip per check.
    const velocity = [{ type: 'user' as const, id: user.id }, ...(check.ipHash ? [{ type: 'ip' as const, id: check.ipHash }] : [])].filter((v) =>
      this.velocityDue(`${v.type}:${v.id}`, now),
    );
    this.projections.reading(user.id);
    this.stats.reads++;
    // The billing period's settled cost and credit-funded tokens: whole UTC days from the
    // roll-up, the period's first partial day (a subscription's period starts at any time) from the events.
    const firstWholeDay = dayStart(month.start).getTime() === month.start.getTime() ? month.start : nextDay(month.start);
    const params: unknown[] = [
      subject,
      COUNTER.messagesHour,
      hour,
      COUNTER.messagesDay,
      day,
      COUNTER.tokensMonth,
      month.start,
      COUNTER.ttsCharsDay,
      user.id,
      firstWholeDay.toISOString().slice(0, 10),
      firstWholeDay,
    ];
    let text = `SELECT kind, used FROM quota_counters
       WHERE subject = $1 AND (
               (kind = $2 AND period_start = $3::timestamptz)
            OR (kind = $4 AND period_start = $5::timestamptz)
            OR (kind = $6 AND period_start = $7::timestamptz)
            OR (kind = $8 AND period_start = $5::timestamptz))
      UNION ALL
      SELECT 'spend_limit', monthly_spend_limit_micro_usd FROM user_preferences WHERE user_id = $9::uuid
      UNION ALL
      SELECT 'cost_period',
             (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_daily WHERE user_id = $9::uuid AND day >= $10::date)
           + (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_events
               WHERE user_id = $9::uuid AND created_at >= $7::timestamptz AND created_at < $11::timestamptz)
      UNION ALL
      SELECT 'credit_period',
             (SELECT COALESCE(SUM(credit_tokens), 0) FROM usage_daily WHERE user_id = $9::uuid AND day >= $10::date AND kind = 'chat')
           + (SELECT COALESCE(SUM(credit_tokens), 0) FROM usage_events
               WHERE user_id = $9::uuid AND created_at >= $7::timestamptz AND created_at < $11::timestamptz AND kind = 'chat')`;
    for (const v of velocity) {
      params.push(`velocity_${v.type}`, v.id, hourAgo);
      const [kind, id, since] = [params.length - 2, params.length - 1, params.length];
      text += ` UNION ALL SELECT $${kind}::text, COALESCE(SUM(cost_micro_usd), 0)::bigint FROM usage_events WHERE ${VELOCITY_SUBJECT[v.type](`$${id}`)} AND created_at >= $${since}::timestamptz`;
    }
    // Without the velocity part (most checks) the statement is always the same: prepared once per connection.
    const rows = await this.options
      .query<{ kind: string; used: string | bigint | null }>(text, params, velocity.length === 0 ? { name: 'alert_check' } : {})
      .catch((error: unknown) => {
        this.projections.forget(user.id);
        throw error;
      });
    const used = (kind: string) => Number(rows.find((r) => r.kind === kind)?.used ?? 0);
    const limits = plan.limits;
    const spendLimit = rows.find((r) => r.kind === 'spend_limit')?.used;
    const readings: QuotaReading[] = [
      { kind: 'messages_day', used: used(COUNTER.messagesDay), limit: limits.messagesPerDay, periodStart: day, resetAt: nextDay(now) },
      {
        kind: 'tokens_month',
        used: used(COUNTER.tokensMonth),
        limit: limits.tokensPerMonth,
        periodStart: month.start,
        resetAt: month.end,
        // Credits funded a message of the period: the allowance no longer covers one.
        exhausted: used('credit_period') > 0,
      },
      { kind: 'tts_chars_day', used: used(COUNTER.ttsCharsDay), limit: limits.ttsCharsPerDay, periodStart: day, resetAt: nextDay(now) },
      { kind: 'messages_hour', used: used(COUNTER.messagesHour), limit: limits.messagesPerHour, periodStart: hour, resetAt: nextHour(now) },
      { kind: 'cost_month', used: used('cost_period'), limit: limits.costPerMonthMicroUsd ?? 0, periodStart: month.start, resetAt: month.end },
      { kind: 'spend_limit', used: used('cost_period'), limit: spendLimit == null ? 0 : Number(spendLimit), periodStart: month.start, resetAt: month.end },
    ];
    this.projections.read(user.id, readings, now.getTime());
    await Promise.all([
      this.quotaAlerts(user, plan, readings),
      this.globalDue(now) ? this.checkGlobal(now) : undefined,
      ...velocity.map((v) => this.velocityAlert(v.type, v.id, used(`velocity_${v.type}`), now)),
    ]);
  }

  /** True (and noted) when the service-wide figures were not read in the last GLOBAL_EVERY_MS here. */
  private globalDue(now: Date): boolean {
    if (Math.abs(now.getTime() - this.globalCheckedAt) < GLOBAL_EVERY_MS) return false;
    this.globalCheckedAt = now.getTime();
    return true;
  }

  /**
   * The global caps and the spending alerts, on settled usage: today's chat tokens and
   * provider cost, and this calendar month's cost, from usage_daily. One check at a time per
   * instance (a second caller waits for the running one and then runs its own).
   */
  async checkGlobal(now = new Date()): Promise<void> {
    while (this.global) await this.global.catch(() => {});
    const run = this.readGlobal(now);
    this.global = run;
    try {
      await run;
    } finally {
      this.global = null;
    }
  }

  private async readGlobal(now: Date): Promise<void> {
    const day = dayStart(now);
    const month = monthStart(now);
    const [row] = await this.options.query<{
      tokens_today: string | bigint;
      cost_today: string | bigint;
      cost_month: string | bigint;
      token_cap: string | bigint | null;
      cost_day_cap: string | bigint | null;
      cost_month_cap: string | bigint | null;
    }>(
      `SELECT (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage_daily WHERE day = $1::date AND kind = 'chat')::bigint AS tokens_today,
              (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_daily WHERE day = $1::date)::bigint AS cost_today,
              (SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_daily WHERE day >= $2::date AND day <= $1::date)::bigint AS cost_month,
              s.max_tokens_per_day AS token_cap, s.max_cost_per_day_micro_usd AS cost_day_cap, s.max_cost_per_month_micro_usd AS cost_month_cap
         FROM (SELECT 1) one LEFT JOIN app_settings s ON s.id = 1`,
      [day.toISOString().slice(0, 10), month.toISOString().slice(0, 10)],
      { name: 'alert_global' },
    );
    const num = (v: string | bigint | null | undefined) => (v == null ? null : Number(v));
    const alerts = globalAlerts({
      tokensToday: num(row?.tokens_today) ?? 0,
      costToday: num(row?.cost_today) ?? 0,
      costMonth: num(row?.cost_month) ?? 0,
      tokenCap: num(row?.token_cap) ?? this.options.defaultDailyTokenCap,
      costDayCap: num(row?.cost_day_cap) ?? this.options.defaultCostCaps?.day ?? null,
      costMonthCap: num(row?.cost_month_cap) ?? this.options.defaultCostCaps?.month ?? null,
      alertDay: this.options.costAlerts?.day ?? null,
      alertMonth: this.options.costAlerts?.month ?? null,
      day,
      month,
    });
    for (const alert of alerts) {
      const key = (t: number) => `${alert.kind}|${alert.subject}|${t}|${alert.periodKey}`;
      if (this.fired.has(key(alert.threshold))) continue;
      await this.fireServiceAlert({ ...alert, rising: true });
      // This threshold and every lower one of the period are done with (fired here or elsewhere).
      this.remember(key(alert.threshold));
      for (const t of GLOBAL_CAP_THRESHOLDS) if (t < alert.threshold) this.remember(key(t));
    }
  }

  /**
   * The weekly spend report, once the last ISO week is over (Monday from 01:00 UTC); the
   * service_alerts row of the week makes it once across instances. Returns whether it was sent here.
   */
  async weeklyReport(now = new Date()): Promise<boolean> {
    const week = reportableWeek(now);
    if (!week) return false;
    const key = `spend_report|${GLOBAL_SUBJECT}|0|${week.label}`;
    if (this.fired.has(key)) return false;
    const exists = await this.options.prisma.$queryRaw<{ id: bigint }[]>(Prisma.sql`
      SELECT id FROM service_alerts WHERE kind = 'spend_report' AND subject = ${GLOBAL_SUBJECT} AND threshold = 0 AND period_key = ${week.label}`);
    if (exists.length > 0) {
      this.remember(key);
      return false;
    }
    const report = spendReportText(await this.spendReportData(week));
    const sent = await this.fireServiceAlert({
      kind: 'spend_report',
      subject: GLOBAL_SUBJECT,
      threshold: 0,
      periodKey: week.label,
      icon: ':bar_chart:',
      ...report,
    });
    this.remember(key);
    return sent;
  }

  private async spendReportData(week: SpendReportData['week']): Promise<SpendReportData> {
    const iso = (d: Date) => d.toISOString().slice(0, 10);
    const lastDay = new Date(week.end.getTime() - DAY_MS);
    const before = new Date(week.start.getTime() - 7 * DAY_MS);
    const month = monthStart(lastDay);
    const [totals, top, plans, monthCost, settings] = await Promise.all([
      this.options.prisma.$queryRaw<{ this_week: boolean; cost: bigint; tokens: bigint; requests: bigint }[]>(Prisma.sql`
        SELECT day >= ${iso(week.start)}::date AS this_week, COALESCE(SUM(cost_micro_usd), 0)::bigint AS cost,
               COALESCE(SUM(prompt_tokens + completion_tokens), 0)::bigint AS tokens, COALESCE(SUM(requests), 0)::bigint AS requests
          FROM usage_daily WHERE day >= ${iso(before)}::date AND day < ${iso(week.end)}::date
         GROUP BY 1`),
      this.options.prisma.$queryRaw<
        { user_id: string; email: string | null; plan: string; is_guest: boolean; cost: bigint; tokens: bigint; requests: bigint }[]
      >(Prisma.sql`
        SELECT d.user_id::text AS user_id, u.email, COALESCE(u.plan_id, '') AS plan, bool_or(d.is_guest) AS is_guest,
               SUM(d.cost_micro_usd)::bigint AS cost, SUM(d.prompt_tokens + d.completion_tokens)::bigint AS tokens, SUM(d.requests)::bigint AS requests
          FROM usage_daily d LEFT JOIN users u ON u.id = d.user_id
         WHERE d.day >= ${iso(week.start)}::date AND d.day < ${iso(week.end)}::date
         GROUP BY d.user_id, u.email, u.plan_id
         ORDER BY cost DESC, requests DESC, d.user_id
         LIMIT ${SPEND_REPORT_TOP_USERS}`),
      this.options.prisma.$queryRaw<{ plan: string; users: bigint; cost: bigint; tokens: bigint; requests: bigint }[]>(Prisma.sql`
        SELECT CASE WHEN u.id IS NULL THEN '(deleted accounts)' WHEN d.is_guest THEN 'guest' ELSE u.plan_id END AS plan,
               COUNT(DISTINCT d.user_id)::bigint AS users, SUM(d.cost_micro_usd)::bigint AS cost,
               SUM(d.prompt_tokens + d.completion_tokens)::bigint AS tokens, SUM(d.requests)::bigint AS requests
          FROM usage_daily d LEFT JOIN users u ON u.id = d.user_id
         WHERE d.day >= ${iso(week.start)}::date AND d.day < ${iso(week.end)}::date
         GROUP BY 1 ORDER BY cost DESC, plan`),
      this.options.prisma.$queryRaw<{ cost: bigint }[]>(Prisma.sql`
        SELECT COALESCE(SUM(cost_micro_usd), 0)::bigint AS cost FROM usage_daily WHERE day >= ${iso(month)}::date AND day < ${iso(week.end)}::date`),
      this.options.prisma.appSettings.findUnique({ where: { id: 1 }, select: { maxCostPerMonthMicroUsd: true } }),
    ]);
    const figures = (r: { cost: bigint; tokens: bigint; requests: bigint } | undefined) => ({
      costMicroUsd: Number(r?.cost ?? 0),
      tokens: Number(r?.tokens ?? 0),
      requests: Number(r?.requests ?? 0),
    });
    const cap = settings?.maxCostPerMonthMicroUsd ?? null;
    return {
      week,
      thisWeek: figures(totals.find((t) => t.this_week)),
      weekBefore: figures(totals.find((t) => !t.this_week)),
      topUsers: top.map((u) => ({
        ...figures(u),
        who: u.email ?? (u.is_guest ? `guest ${u.user_id.slice(0, 8)}` : u.plan === '' ? 'deleted accounts' : `account ${u.user_id.slice(0, 8)}`),
        plan: u.is_guest ? 'guest' : u.plan === '' ? '-' : u.plan,
      })),
      plans: plans.map((p) => ({ ...figures(p), plan: p.plan, users: Number(p.users) })),
      month: {
        start: month,
        costToDate: Number(monthCost[0]?.cost ?? 0),
        capMicroUsd: cap === null ? (this.options.defaultCostCaps?.month ?? null) : Number(cap),
      },
    };
  }

  /** Every minute on every instance (the first a few seconds after start): the global checks and the weekly report. */
  start(): void {
    if (this.timer) return;
    const tick = () =>
      void (async () => {
        await this.checkGlobal();
        await this.weeklyReport();
      })().catch((error: Error) => this.options.logger.error({ err: error.message }, 'service alert check failed'));
    this.timer = setInterval(tick, TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private remember(key: string): boolean {
    if (this.fired.has(key)) return false;
    this.fired.set(key, true);
    return true;
  }

  private async quotaAlerts(user: AlertUser, plan: TPlan, readings: QuotaReading[]): Promise<void> {
    const firedKey = (kind: string, threshold: number, periodStart: Date) => `${user.id}|${kind}|${threshold}|${periodKey(periodStart)}`;
    const candidates = announcedReadings(readings).flatMap((reading) => {
      const threshold = thresholdToAnnounce(reading.used, reading.limit, reading.exhausted);
      if (threshold === undefined || this.fired.has(firedKey(reading.kind, threshold, reading.periodStart))) return [];
      return [{ reading, threshold, ...quotaAlertText(reading, threshold, plan.name) }];
    });
    if (candidates.length === 0) return;
    // Under a per-user lock, a threshold is inserted only when neither it nor a higher one of the same
    // period exists: instances racing on one crossing insert one row, and 90 % never follows 100 %.
    const [, inserted] = await this.options.prisma.$transaction([
      this.options.prisma.$executeRaw(Prisma.sql`SELECT pg_advisory_xact_lock(${QUOTA_ALERT_LOCK}::int, hashtext(${user.id}))`),
      this.options.prisma.$queryRaw<{ id: bigint; kind: string; threshold: number }[]>(Prisma.sql`
        INSERT INTO notifications (user_id, kind, threshold, period_key, title, body)
        SELECT v.user_id, v.kind, v.threshold, v.period_key, v.title, v.body
          FROM (VALUES ${Prisma.join(candidates.map((c) => Prisma.sql`(${user.id}::uuid, ${c.reading.kind}, ${c.threshold}::int, ${periodKey(c.reading.periodStart)}, ${c.title}, ${c.body})`))})
               AS v(user_id, kind, threshold, period_key, title, body)
         WHERE NOT EXISTS (SELECT 1 FROM notifications n
                            WHERE n.user_id = v.user_id AND n.kind = v.kind AND n.period_key = v.period_key AND n.threshold >= v.threshold)
        ON CONFLICT (user_id, kind, threshold, period_key) DO NOTHING
        RETURNING id, kind, threshold`),
    ]);
    // This threshold and every lower one of the period are done with.
    for (const c of candidates) {
      for (const t of QUOTA_ALERT_THRESHOLDS) if (t <= c.threshold) this.remember(firedKey(c.reading.kind, t, c.reading.periodStart));
    }
    if (inserted.length === 0) return;
    for (const row of inserted) this.options.metrics?.alerts.inc({ kind: `quota_${row.kind}` });

    const toMail = inserted.filter((row) => EMAILED.has(row.kind as TQuotaAlertKind));
    if (toMail.length === 0 || user.isGuest) return;
    const [recipient] = await this.options.prisma.$queryRaw<{ email: string | null; alert_emails: boolean }[]>(Prisma.sql`
      SELECT u.email, COALESCE(p.alert_emails, true) AS alert_emails
        FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id
       WHERE u.id = ${user.id}::uuid AND u.blocked_at IS NULL`);
    if (!recipient?.email || !recipient.alert_emails) return;
    for (const row of toMail) {
      const c = candidates.find((x) => x.reading.kind === row.kind && x.threshold === row.threshold)!;
      await this.options.mailer.send({
        to: recipient.email,
        subject: `ChatMeter: ${c.title}`,
        body: `${c.title}.\n\n${c.body}\n\nSee your usage: ${this.options.origin}/usage\nPlans and credits: ${this.options.origin}/billing\n\nYou get these e-mails at 80%, 90% and 100% of a limit. Turn them off under Preferences on the Usage page.`,
      });
      await this.options.prisma.notification.update({ where: { id: row.id }, data: { emailedAt: new Date() }, select: { id: true } });
    }
  }

  /** True when a subject's spend velocity was not looked at in the last minute here (nothing noted). */
  private velocityWouldRun(subject: string, now: Date): boolean {
    const last = this.velocityCheckedAt.get(subject);
    return last === undefined || now.getTime() - last >= VELOCITY_EVERY_MS;
  }

  /** True (and noted) when a subject's spend velocity was not looked at in the last minute here. */
  private velocityDue(subject: string, now: Date): boolean {
    if (!this.velocityWouldRun(subject, now)) return false;
    this.velocityCheckedAt.set(subject, now.getTime());
    return true;
  }

  /** Last hour's cost of a user or an IP against max(k x its trailing 7-day hourly average, a floor). */
  private async velocityAlert(type: 'user' | 'ip', id: string, lastHour: number, now: Date): Promise<void> {
    // Most subjects never spend the floor in an hour: the week's history is read only past it.
    if (lastHour <= this.options.velocityFloorMicroUsd) return;
    const subject = `${type}:${id}`;
    const hourAgo = new Date(now.getTime() - HOUR_MS);
    const [trailing] = await this.options.query<{ cost: string | bigint }>(
      `SELECT COALESCE(SUM(cost_micro_usd), 0)::bigint AS cost FROM usage_events
        WHERE ${VELOCITY_SUBJECT[type]('$1')} AND created_at >= $2::timestamptz AND created_at < $3::timestamptz`,
      [id, new Date(hourAgo.getTime() - TRAILING_HOURS * HOUR_MS), hourAgo],
    );
    const hourlyAverage = Number(trailing?.cost ?? 0) / TRAILING_HOURS;
    const threshold = Math.max(this.options.velocityFactor * hourlyAverage, this.options.velocityFloorMicroUsd);
    if (lastHour <= threshold) return;
    const key = periodKey(hourStart(now));
    if (!this.remember(`spend_velocity|${subject}|0|${key}`)) return;
    const who = type === 'user' ? `User ${id}` : `Client IP (hashed) ${id}`;
    await this.fireServiceAlert({
      kind: 'spend_velocity',
      subject,
      threshold: 0,
      periodKey: key,
      title: `Unusual spend: ${type === 'user' ? 'a user' : 'a client IP'} spent ${formatMicroUsd(lastHour)} in the last hour`,
      body: `${who} spent ${formatMicroUsd(lastHour)} in the last hour; its trailing 7-day average is ${formatMicroUsd(Math.round(hourlyAverage))} an hour (alert above ${formatMicroUsd(Math.ceil(threshold))}: ${this.options.velocityFactor}x the average, at least ${formatMicroUsd(this.options.velocityFloorMicroUsd)}). Check it in the Admin tab; block it there if it is abuse.`,
      details: { lastHourMicroUsd: lastHour, hourlyAverageMicroUsd: Math.round(hourlyAverage), thresholdMicroUsd: Math.ceil(threshold) },
    });
  }

  /** Inserts the alert; the instance that inserted it e-mails the admins and posts the webhook. Returns whether it fired here. */
  async fireServiceAlert(alert: ServiceAlertInput): Promise<boolean> {
    const insert = Prisma.sql`
      INSERT INTO service_alerts (kind, subject, threshold, period_key, title, body, details)
      SELECT ${alert.kind}, ${alert.subject}, ${alert.threshold}::int, ${alert.periodKey}, ${alert.title}, ${alert.body}, ${JSON.stringify(alert.details)}::jsonb
       WHERE ${
         alert.rising
           ? Prisma.sql`NOT EXISTS (SELECT 1 FROM service_alerts a WHERE a.kind = ${alert.kind} AND a.subject = ${alert.subject}
                                      AND a.period_key = ${alert.periodKey} AND a.threshold >= ${alert.threshold}::int)`
           : Prisma.sql`TRUE`
       }
      ON CONFLICT (kind, subject, threshold, period_key) DO NOTHING
      RETURNING id`;
    // A rising alert's thresholds are inserted under a lock: instances racing on 80 and 100 insert one of them.
    const rows = alert.rising
      ? (
          await this.options.prisma.$transaction([
            this.options.prisma.$executeRaw(
              Prisma.sql`SELECT pg_advisory_xact_lock(${SERVICE_ALERT_LOCK}::int, hashtext(${`${alert.kind}|${alert.subject}`}))`,
            ),
            this.options.prisma.$queryRaw<{ id: bigint }[]>(insert),
          ])
        )[1]
      : await this.options.prisma.$queryRaw<{ id: bigint }[]>(insert);
    const id = rows[0]?.id;
    if (id === undefined) return false;
    this.options.metrics?.alerts.inc({ kind: alert.kind });
    this.options.logger.warn({ kind: alert.kind, subject: alert.subject, details: alert.details }, alert.title);

    const admins = await this.options.prisma.$queryRaw<{ email: string }[]>(Prisma.sql`
      SELECT email FROM users WHERE role = 'admin' AND email IS NOT NULL AND blocked_at IS NULL ORDER BY created_at`);
    let sent = 0;
    for (const admin of admins) {
      try {
        await this.options.mailer.send({
          to: admin.email,
          subject: `[ChatMeter alert] ${alert.title}`,
          body: `${alert.body}\n\nAdmin tab: ${this.options.origin}/admin`,
        });
        sent++;
      } catch (error) {
        this.options.logger.error({ err: (error as Error).message }, 'service alert e-mail failed');
      }
    }
    const webhookStatus = this.options.webhookUrl
      ? await this.postWebhook(this.options.webhookUrl, `${alert.icon ?? ':rotating_light:'} ${alert.title}\n${alert.body}`)
      : null;
    await this.options.prisma.$executeRaw(Prisma.sql`
      UPDATE service_alerts SET emails_sent = ${sent}::int, webhook_status = ${webhookStatus}::int, delivered_at = now() WHERE id = ${id}`);
    return true;
  }

  /** Slack-compatible incoming webhook: POST { text }. Returns the HTTP status, 0 when it could not be reached. */
  private async postWebhook(url: string, text: string): Promise<number> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => {});
      if (!res.ok) this.options.logger.warn({ status: res.status }, 'alert webhook answered with an error');
      return res.status;
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'alert webhook could not be reached');
      return 0;
    }
  }
}
