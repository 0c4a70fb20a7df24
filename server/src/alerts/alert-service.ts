// Alerts after metered usage (docs/architecture.md, "Alerts"). After a chat is
// settled (or a text is spoken) one query reads the user's quota counters and
// the global one; a threshold reached for the first time in its period becomes
// a row whose unique key makes it fire once however many instances race: only
// the instance whose INSERT ... ON CONFLICT DO NOTHING returned the row sends the
// e-mail (or, for service alerts, e-mails the admins and posts the webhook).
// Everything here is best effort and off the request path: a failure is logged,
// never returned to the user.
import { Prisma, type PrismaClient, type SqlQuery } from '@chatmeter/db/client';
import type { TQuotaAlertKind } from '@chatmeter/shared/alerts';
import { formatMicroUsd } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Metrics } from '../metrics.ts';
import type { PlanSubject } from '../plans/plan-resolver.ts';
import { COUNTER, GLOBAL_SUBJECT, userSubject } from '../metering/counters.ts';
import { dayStart, hourStart, nextDay, nextHour, type MonthFor, type MonthPeriod } from '../metering/periods.ts';
import { periodKey, quotaAlertText, reachedThresholds, type QuotaReading } from './quota-alerts.ts';

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
  webhookUrl?: string | undefined;
  velocityFactor: number;
  velocityFloorMicroUsd: number;
  origin: string;
}

/** Service alerts for admins. */
export interface ServiceAlertInput {
  kind: 'global_tokens' | 'spend_velocity' | 'reconcile_drift';
  subject: string;
  threshold: number;
  periodKey: string;
  title: string;
  body: string;
  details: Record<string, string | number>;
}

/** The global cap's warning level (percent). */
export const GLOBAL_ALERT_PERCENT = 80;
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
const EMAILED: ReadonlySet<TQuotaAlertKind> = new Set(['messages_day', 'tokens_month', 'tts_chars_day']);

export class AlertService {
  /** Keys already fired (or found fired) by this instance: the common case skips the insert. */
  private readonly fired = new Map<string, true>();
  private readonly velocityCheckedAt = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  /** Per user: a check is running; `next` is the one to run after it (the latest wins). */
  private readonly running = new Map<string, { next: UsageCheck | null }>();

  constructor(private readonly o: AlertServiceOptions) {}

  /**
   * Runs the checks in the background; `idle()` waits for them (tests, shutdown).
   * A user's checks are coalesced: while one runs, later ones collapse into one
   * that runs after it, so a burst of messages costs two reads, and the last
   * read always sees the last settlement.
   */
  afterUsage(check: UsageCheck): void {
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
        await this.check(current).catch((error: Error) => this.o.logger.error({ err: error.message, userId: key }, 'alert check failed'));
        current = state.next;
        state.next = null;
      }
    })().finally(() => {
      this.running.delete(key);
      this.pending.delete(run);
    });
    this.pending.add(run);
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async check(check: UsageCheck): Promise<void> {
    const now = check.now ?? new Date();
    const { user } = check;
    const plan = check.plan ?? this.o.planFor(user);
    const month = check.month ?? (await this.o.monthFor(user.id, now));
    const hour = hourStart(now);
    const day = dayStart(now);
    const subject = userSubject(user.id);
    const hourAgo = new Date(now.getTime() - HOUR_MS);
    // Spend velocity rides along (at most once a minute per subject): one round trip per check.
    const velocity = [
      { type: 'user' as const, id: user.id },
      ...(check.ipHash ? [{ type: 'ip' as const, id: check.ipHash }] : []),
    ].filter((v) => this.velocityDue(`${v.type}:${v.id}`, now));
    const params: unknown[] = [subject, COUNTER.messagesHour, hour, COUNTER.messagesDay, day, COUNTER.tokensMonth, month.start, COUNTER.ttsCharsDay, GLOBAL_SUBJECT, COUNTER.globalTokensDay];
    let text = `SELECT kind, used FROM quota_counters
       WHERE (subject = $1 AND (
               (kind = $2 AND period_start = $3::timestamptz)
            OR (kind = $4 AND period_start = $5::timestamptz)
            OR (kind = $6 AND period_start = $7::timestamptz)
            OR (kind = $8 AND period_start = $5::timestamptz)))
          OR (subject = $9 AND kind = $10 AND period_start = $5::timestamptz)
      UNION ALL
      SELECT 'cap', max_tokens_per_day FROM app_settings WHERE id = 1`;
    for (const v of velocity) {
      params.push(`velocity_${v.type}`, v.id, hourAgo);
      const [kind, id, since] = [params.length - 2, params.length - 1, params.length];
      text += ` UNION ALL SELECT $${kind}::text, COALESCE(SUM(cost_micro_usd), 0)::bigint FROM usage_events WHERE ${VELOCITY_SUBJECT[v.type](`$${id}`)} AND created_at >= $${since}::timestamptz`;
    }
    // Without the velocity part (most checks) the statement is always the same: prepared once per connection.
    const rows = await this.o.query<{ kind: string; used: string | bigint | null }>(text, params, velocity.length === 0 ? { name: 'alert_check' } : {});
    const used = (kind: string) => Number(rows.find((r) => r.kind === kind)?.used ?? 0);
    const limits = plan.limits;
    const readings: QuotaReading[] = [
      { kind: 'messages_day', used: used(COUNTER.messagesDay), limit: limits.messagesPerDay, periodStart: day, resetAt: nextDay(now) },
      { kind: 'tokens_month', used: used(COUNTER.tokensMonth), limit: limits.tokensPerMonth, periodStart: month.start, resetAt: month.end },
      { kind: 'tts_chars_day', used: used(COUNTER.ttsCharsDay), limit: limits.ttsCharsPerDay, periodStart: day, resetAt: nextDay(now) },
      { kind: 'messages_hour', used: used(COUNTER.messagesHour), limit: limits.messagesPerHour, periodStart: hour, resetAt: nextHour(now) },
    ];
    const capRow = rows.find((r) => r.kind === 'cap');
    const cap = capRow?.used != null ? Number(capRow.used) : this.o.defaultDailyTokenCap;
    await Promise.all([
      this.quotaAlerts(user, plan, readings),
      this.globalAlert(used(COUNTER.globalTokensDay), cap, day),
      ...velocity.map((v) => this.velocityAlert(v.type, v.id, used(`velocity_${v.type}`), now)),
    ]);
  }

  private remember(key: string): boolean {
    if (this.fired.has(key)) return false;
    this.fired.set(key, true);
    if (this.fired.size > REMEMBERED_MAX) this.fired.delete(this.fired.keys().next().value!);
    return true;
  }

  private async quotaAlerts(user: AlertUser, plan: TPlan, readings: QuotaReading[]): Promise<void> {
    const candidates = readings.flatMap((reading) =>
      reachedThresholds(reading.used, reading.limit)
        .filter((threshold) => !this.fired.has(`${user.id}|${reading.kind}|${threshold}|${periodKey(reading.periodStart)}`))
        .map((threshold) => ({ reading, threshold, ...quotaAlertText(reading, threshold, plan.name) })),
    );
    if (candidates.length === 0) return;
    const inserted = await this.o.prisma.$queryRaw<{ id: bigint; kind: string; threshold: number }[]>(Prisma.sql`
      INSERT INTO notifications (user_id, kind, threshold, period_key, title, body)
      VALUES ${Prisma.join(candidates.map((c) => Prisma.sql`(${user.id}::uuid, ${c.reading.kind}, ${c.threshold}::int, ${periodKey(c.reading.periodStart)}, ${c.title}, ${c.body})`))}
      ON CONFLICT (user_id, kind, threshold, period_key) DO NOTHING
      RETURNING id, kind, threshold`);
    for (const c of candidates) this.remember(`${user.id}|${c.reading.kind}|${c.threshold}|${periodKey(c.reading.periodStart)}`);
    if (inserted.length === 0) return;
    for (const row of inserted) this.o.metrics?.alerts.inc({ kind: `quota_${row.kind}` });

    const toMail = inserted.filter((row) => EMAILED.has(row.kind as TQuotaAlertKind));
    if (toMail.length === 0 || user.isGuest) return;
    const [recipient] = await this.o.prisma.$queryRaw<{ email: string | null; alert_emails: boolean }[]>(Prisma.sql`
      SELECT u.email, COALESCE(p.alert_emails, true) AS alert_emails
        FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id
       WHERE u.id = ${user.id}::uuid AND u.blocked_at IS NULL`);
    if (!recipient?.email || !recipient.alert_emails) return;
    for (const row of toMail) {
      const c = candidates.find((x) => x.reading.kind === row.kind && x.threshold === row.threshold)!;
      await this.o.mailer.send({
        to: recipient.email,
        subject: `ChatMeter: ${c.title}`,
        body: `${c.title}.\n\n${c.body}\n\nSee your usage: ${this.o.origin}/usage\nPlans and credits: ${this.o.origin}/billing\n\nYou get these e-mails at 80%, 90% and 100% of a limit. Turn them off under Preferences on the Usage page.`,
      });
      await this.o.prisma.notification.update({ where: { id: row.id }, data: { emailedAt: new Date() }, select: { id: true } });
    }
  }

  private async globalAlert(used: number, cap: number, day: Date): Promise<void> {
    if (cap <= 0 || reachedPercent(used, cap) < GLOBAL_ALERT_PERCENT) return;
    const key = periodKey(day);
    if (!this.remember(`global_tokens|${GLOBAL_SUBJECT}|${GLOBAL_ALERT_PERCENT}|${key}`)) return;
    const count = new Intl.NumberFormat('en-US');
    await this.fireServiceAlert({
      kind: 'global_tokens',
      subject: GLOBAL_SUBJECT,
      threshold: GLOBAL_ALERT_PERCENT,
      periodKey: key,
      title: `ChatMeter has used ${GLOBAL_ALERT_PERCENT}% of today's global token cap`,
      body: `${count.format(used)} of ${count.format(cap)} tokens today (UTC). At the cap every chat is refused until midnight UTC; raise it in the Admin tab (or MAX_TOKENS_PER_DAY) if this is expected.`,
      details: { used, cap },
    });
  }

  /** True (and noted) when a subject's spend velocity was not looked at in the last minute here. */
  private velocityDue(subject: string, now: Date): boolean {
    const last = this.velocityCheckedAt.get(subject);
    if (last !== undefined && now.getTime() - last < VELOCITY_EVERY_MS) return false;
    this.velocityCheckedAt.set(subject, now.getTime());
    if (this.velocityCheckedAt.size > REMEMBERED_MAX) this.velocityCheckedAt.delete(this.velocityCheckedAt.keys().next().value!);
    return true;
  }

  /** Last hour's cost of a user or an IP against max(k x its trailing 7-day hourly average, a floor). */
  private async velocityAlert(type: 'user' | 'ip', id: string, lastHour: number, now: Date): Promise<void> {
    // Most subjects never spend the floor in an hour: the week's history is read only past it.
    if (lastHour <= this.o.velocityFloorMicroUsd) return;
    const subject = `${type}:${id}`;
    const hourAgo = new Date(now.getTime() - HOUR_MS);
    const [trailing] = await this.o.query<{ cost: string | bigint }>(
      `SELECT COALESCE(SUM(cost_micro_usd), 0)::bigint AS cost FROM usage_events
        WHERE ${VELOCITY_SUBJECT[type]('$1')} AND created_at >= $2::timestamptz AND created_at < $3::timestamptz`,
      [id, new Date(hourAgo.getTime() - TRAILING_HOURS * HOUR_MS), hourAgo],
    );
    const hourlyAverage = Number(trailing?.cost ?? 0) / TRAILING_HOURS;
    const threshold = Math.max(this.o.velocityFactor * hourlyAverage, this.o.velocityFloorMicroUsd);
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
      body: `${who} spent ${formatMicroUsd(lastHour)} in the last hour; its trailing 7-day average is ${formatMicroUsd(Math.round(hourlyAverage))} an hour (alert above ${formatMicroUsd(Math.ceil(threshold))}: ${this.o.velocityFactor}x the average, at least ${formatMicroUsd(this.o.velocityFloorMicroUsd)}). Check it in the Admin tab; block it there if it is abuse.`,
      details: { lastHourMicroUsd: lastHour, hourlyAverageMicroUsd: Math.round(hourlyAverage), thresholdMicroUsd: Math.ceil(threshold) },
    });
  }

  /** Inserts the alert; the instance that inserted it e-mails the admins and posts the webhook. Returns whether it fired here. */
  async fireServiceAlert(alert: ServiceAlertInput): Promise<boolean> {
    const rows = await this.o.prisma.$queryRaw<{ id: bigint }[]>(Prisma.sql`
      INSERT INTO service_alerts (kind, subject, threshold, period_key, title, body, details)
      VALUES (${alert.kind}, ${alert.subject}, ${alert.threshold}::int, ${alert.periodKey}, ${alert.title}, ${alert.body}, ${JSON.stringify(alert.details)}::jsonb)
      ON CONFLICT (kind, subject, threshold, period_key) DO NOTHING
      RETURNING id`);
    const id = rows[0]?.id;
    if (id === undefined) return false;
    this.o.metrics?.alerts.inc({ kind: alert.kind });
    this.o.logger.warn({ kind: alert.kind, subject: alert.subject, details: alert.details }, alert.title);

    const admins = await this.o.prisma.$queryRaw<{ email: string }[]>(Prisma.sql`
      SELECT email FROM users WHERE role = 'admin' AND email IS NOT NULL AND blocked_at IS NULL ORDER BY created_at`);
    let sent = 0;
    for (const admin of admins) {
      try {
        await this.o.mailer.send({ to: admin.email, subject: `[ChatMeter alert] ${alert.title}`, body: `${alert.body}\n\nAdmin tab: ${this.o.origin}/admin` });
        sent++;
      } catch (error) {
        this.o.logger.error({ err: (error as Error).message }, 'service alert e-mail failed');
      }
    }
    const webhookStatus = this.o.webhookUrl ? await this.postWebhook(this.o.webhookUrl, `:rotating_light: ${alert.title}\n${alert.body}`) : null;
    await this.o.prisma.$executeRaw(Prisma.sql`
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
      if (!res.ok) this.o.logger.warn({ status: res.status }, 'alert webhook answered with an error');
      return res.status;
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'alert webhook could not be reached');
      return 0;
    }
  }
}

/** Whole percent of `limit` that `used` is, rounded down. */
function reachedPercent(used: number, limit: number): number {
  return Number((BigInt(used) * 100n) / BigInt(limit));
}
