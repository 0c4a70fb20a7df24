// Reconciliation with the provider's bill (docs/providers.md, "Reconciliation").
//
// Once a day (with OPENAI_ADMIN_KEY only) the provider's cost of each of the
// last RECONCILE_FETCH_DAYS closed UTC days is read from OpenAI's Costs API and
// stored in provider_costs; each day is compared with what ChatMeter metered
// for it (usage_daily: chat usage of real models, not the demo model), and a
// day whose drift passes RECONCILE_ALERT_PERCENT alerts the admins once.
//
// Every instance schedules it; it runs once across them. The claim is the
// job_runs row: an upsert that moves started_at forward only when the last run
// began on an earlier UTC day (or failed, or never finished, more than an hour
// ago). Concurrent upserts of one row are serialised by Postgres, and the
// loser's WHERE then sees the winner's started_at: only one instance fetches.
// The alert's own unique key (service_alerts) makes it once per day as well.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { formatMicroUsd } from '@chatmeter/shared/money';
import { addDays, dayRange, dayStartOf, utcDay } from '../lib/days.ts';
import type { ServiceAlertInput } from '../alerts/alert-service.ts';
import type { Logger } from '../lib/logger.ts';
import { providerDays, type ProviderDay } from './costs-page.ts';
import { compareDay } from './drift.ts';
import { CostsApiError, type CostsSource } from './openai-costs.ts';

export const RECONCILE_JOB = 'reconcile';
/** The provider whose bill is read (the Costs API is OpenAI's). */
export const RECONCILED_PROVIDER = 'openai';
/** Closed days read on each run: recent days are read again, so late corrections by the provider replace what was stored. */
export const RECONCILE_FETCH_DAYS = 7;
/** A day's run starts from this hour (UTC): the provider's figures for the day before need a few hours to settle. */
export const RECONCILE_FROM_HOUR_UTC = 6;
/** A failed (or abandoned) run is tried again after this long, the same day. */
export const RECONCILE_RETRY_MS = 60 * 60 * 1000;
const TICK_MS = 60 * 60 * 1000;
/** Models whose usage is not a provider call: the offline demo model, and events without a model. */
const NOT_PROVIDER_MODELS = ['demo', ''];

export interface ReconcileDay {
  /** UTC 'YYYY-MM-DD'. */
  day: string;
  meteredMicroUsd: number;
  /** null: no figure from the provider for this day. */
  providerMicroUsd: number | null;
  /** (provider - metered) / provider in percent, two decimals; null when there is no provider figure or it is 0 and we metered something. */
  driftPercent: number | null;
  /** The drift passes RECONCILE_ALERT_PERCENT (or the provider reports nothing for a day we metered). */
  overThreshold: boolean;
  source: 'api' | 'file' | null;
}

export interface ReconcileReport {
  configured: boolean;
  alertPercent: number;
  /** Only some projects' costs are read (RECONCILE_PROJECT_IDS). */
  projectsOnly: boolean;
  /** The window, oldest first: `days` closed days ending yesterday (UTC). */
  days: ReconcileDay[];
  /** Over the days that have a provider figure. */
  totals: { days: number; meteredMicroUsd: number; providerMicroUsd: number; driftPercent: number | null };
  lastRun: { startedAt: Date; finishedAt: Date | null; result: unknown } | null;
}

export type ReconcileRunResult =
  | { ran: true; ok: true; from: string; to: string; days: number; alerted: string[] }
  | { ran: true; ok: false; error: string; status: number | null }
  | { ran: false; skipped: 'not_configured' | 'too_early' | 'done_today' };

export interface ReconcileServiceOptions {
  prisma: PrismaClient;
  logger: Logger;
  /** The Costs API; undefined without OPENAI_ADMIN_KEY (the job then never runs). */
  costs: CostsSource | undefined;
  alertPercent: number;
  projectIds: readonly string[];
  /**
   * With several providers (PROVIDERS_FILE): the ids of the `kind: "openai"` ones. Only
   * their usage (and usage recorded before providers were, provider '') is compared with
   * OpenAI's bill. Undefined with the one-provider shorthand: all chat usage counts.
   */
  openaiProviderIds?: readonly string[] | undefined;
  fireAlert: (alert: ServiceAlertInput) => Promise<boolean>;
}

export class ReconcileService {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;

  constructor(private readonly options: ReconcileServiceOptions) {}

  get configured(): boolean {
    return this.options.costs !== undefined;
  }

  /** Stores the provider's figures (a later fetch or file overwrites a day). */
  async store(days: readonly ProviderDay[], source: 'api' | 'file'): Promise<void> {
    if (days.length === 0) return;
    await this.options.prisma.$executeRaw(Prisma.sql`
      INSERT INTO provider_costs (provider, day, cost_micro_usd, source, fetched_at)
      VALUES ${Prisma.join(days.map((d) => Prisma.sql`(${RECONCILED_PROVIDER}, ${d.day}::date, ${d.costMicroUsd}::bigint, ${source}, now())`))}
      ON CONFLICT (provider, day) DO UPDATE SET cost_micro_usd = EXCLUDED.cost_micro_usd, source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at`);
  }

  /** Metered and provider figures for each of `days` (UTC 'YYYY-MM-DD'), in that order. */
  async compare(days: readonly string[]): Promise<ReconcileDay[]> {
    if (days.length === 0) return [];
    const sorted = [...days].sort();
    const from = sorted[0]!;
    const to = sorted.at(-1)!;
    const [metered, provider] = await Promise.all([
      this.options.prisma.$queryRaw<{ day: string; cost: bigint }[]>(Prisma.sql`
        SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(cost_micro_usd)::bigint AS cost
          FROM usage_daily
         WHERE day BETWEEN ${from}::date AND ${to}::date AND kind = 'chat' AND model NOT IN (${Prisma.join(NOT_PROVIDER_MODELS)})
           ${this.options.openaiProviderIds ? Prisma.sql`AND provider IN (${Prisma.join(['', ...this.options.openaiProviderIds])})` : Prisma.empty}
         GROUP BY day`),
      this.options.prisma.$queryRaw<{ day: string; cost: bigint; source: 'api' | 'file' }[]>(Prisma.sql`
        SELECT to_char(day, 'YYYY-MM-DD') AS day, cost_micro_usd AS cost, source
          FROM provider_costs WHERE provider = ${RECONCILED_PROVIDER} AND day BETWEEN ${from}::date AND ${to}::date`),
    ]);
    const meteredBy = new Map(metered.map((r) => [r.day, Number(r.cost)]));
    const providerBy = new Map(provider.map((r) => [r.day, r]));
    return days.map((day): ReconcileDay => {
      const m = meteredBy.get(day) ?? 0;
      const p = providerBy.get(day);
      if (!p) return { day, meteredMicroUsd: m, providerMicroUsd: null, driftPercent: null, overThreshold: false, source: null };
      const c = compareDay(m, Number(p.cost), this.options.alertPercent);
      return { day, meteredMicroUsd: m, providerMicroUsd: c.providerMicroUsd, driftPercent: c.driftPercent, overThreshold: c.overThreshold, source: p.source };
    });
  }

  /** admin.reconciliation: the `days` closed UTC days ending yesterday. */
  async report(days: number, now = new Date()): Promise<ReconcileReport> {
    const yesterday = addDays(utcDay(now), -1);
    const [rows, lastRun] = await Promise.all([this.compare(dayRange(addDays(yesterday, -(days - 1)), yesterday)), this.lastRun()]);
    const withProvider = rows.filter((r) => r.providerMicroUsd !== null);
    const meteredMicroUsd = withProvider.reduce((s, r) => s + r.meteredMicroUsd, 0);
    const providerMicroUsd = withProvider.reduce((s, r) => s + r.providerMicroUsd!, 0);
    return {
      configured: this.configured,
      alertPercent: this.options.alertPercent,
      projectsOnly: this.options.projectIds.length > 0,
      days: rows,
      totals: {
        days: withProvider.length,
        meteredMicroUsd,
        providerMicroUsd,
        driftPercent: withProvider.length ? compareDay(meteredMicroUsd, providerMicroUsd, this.options.alertPercent).driftPercent : null,
      },
      lastRun,
    };
  }

  async lastRun(): Promise<{ startedAt: Date; finishedAt: Date | null; result: unknown } | null> {
    return this.options.prisma.jobRun.findUnique({ where: { job: RECONCILE_JOB }, select: { startedAt: true, finishedAt: true, result: true } });
  }

  /**
   * One run: claim today's run, fetch the last RECONCILE_FETCH_DAYS closed days, store
   * them, alert on the days past the threshold. `force` ignores the time of day and the
   * once-a-day rule (not the claim: two forced runs still take turns). Never throws for
   * the provider's errors: they are logged and recorded in job_runs.
   */
  async run(opts: { now?: Date; force?: boolean } = {}): Promise<ReconcileRunResult> {
    const costs = this.options.costs;
    if (!costs) return { ran: false, skipped: 'not_configured' };
    const now = opts.now ?? new Date();
    const today = utcDay(now);
    if (!opts.force && now.getUTCHours() < RECONCILE_FROM_HOUR_UTC) return { ran: false, skipped: 'too_early' };
    const retryBefore = new Date(now.getTime() - RECONCILE_RETRY_MS);
    const due = opts.force
      ? Prisma.sql`TRUE`
      : Prisma.sql`job_runs.started_at < ${dayStartOf(today)}::timestamptz
          OR (job_runs.started_at <= ${retryBefore}::timestamptz AND (job_runs.finished_at IS NULL OR job_runs.result->>'ok' = 'false'))`;
    const claimed = await this.options.prisma.$queryRaw<{ job: string }[]>(Prisma.sql`
      INSERT INTO job_runs (job, started_at) VALUES (${RECONCILE_JOB}, ${now}::timestamptz)
      ON CONFLICT (job) DO UPDATE SET started_at = EXCLUDED.started_at, finished_at = NULL, result = NULL
       WHERE ${due}
      RETURNING job`);
    if (claimed.length === 0) return { ran: false, skipped: 'done_today' };

    const from = addDays(today, -RECONCILE_FETCH_DAYS);
    const to = today;
    let result: ReconcileRunResult;
    try {
      const pages = await costs.fetchPages({ from: dayStartOf(from), to: dayStartOf(to) });
      // The API applied the project filter itself (its results then carry no project id).
      const days = providerDays(pages).filter((d) => d.day >= from && d.day < to);
      await this.store(days, 'api');
      const rows = await this.compare(days.map((d) => d.day));
      const alerted: string[] = [];
      for (const row of rows.filter((r) => r.overThreshold)) {
        if (await this.options.fireAlert(this.alertFor(row))) alerted.push(row.day);
      }
      result = { ran: true, ok: true, from, to: addDays(to, -1), days: days.length, alerted };
      this.options.logger.info(result, 'reconciliation ran');
    } catch (error) {
      const status = error instanceof CostsApiError ? (error.status ?? null) : null;
      result = { ran: true, ok: false, error: (error as Error).message, status };
      this.options.logger.error({ err: result.error, status }, 'reconciliation failed');
    }
    await this.options.prisma.$executeRaw(Prisma.sql`
      UPDATE job_runs SET finished_at = now(), result = ${JSON.stringify(result)}::jsonb WHERE job = ${RECONCILE_JOB}`);
    return result;
  }

  private alertFor(row: ReconcileDay): ServiceAlertInput {
    const metered = formatMicroUsd(row.meteredMicroUsd);
    const provider = formatMicroUsd(row.providerMicroUsd!);
    const drift = row.driftPercent === null ? 'no cost reported by OpenAI' : `${row.driftPercent > 0 ? '+' : ''}${row.driftPercent} %`;
    const direction =
      row.driftPercent === null
        ? 'OpenAI reports no cost for a day ChatMeter metered: its figures may not have arrived yet, or the usage went to another organization or project.'
        : row.driftPercent > 0
          ? 'OpenAI billed more than ChatMeter metered: calls made outside ChatMeter with the same organization (or project), unmetered calls, or prices in the pricing table below OpenAI’s.'
          : 'ChatMeter metered more than OpenAI billed: prices in the pricing table above OpenAI’s, or usage metered on estimates that the provider counted lower.';
    return {
      kind: 'reconcile_drift',
      subject: RECONCILED_PROVIDER,
      threshold: 0,
      periodKey: row.day,
      title: `Metered cost and OpenAI's bill differ on ${row.day}: ${drift}`,
      body: `On ${row.day} (UTC) ChatMeter metered ${metered} of chat usage; OpenAI's Costs API reports ${provider}. Drift (provider − metered) / provider: ${drift}, beyond RECONCILE_ALERT_PERCENT (${this.options.alertPercent} %). ${direction} See the reconciliation panel on the Admin overview.`,
      details: {
        day: row.day,
        meteredMicroUsd: row.meteredMicroUsd,
        providerMicroUsd: row.providerMicroUsd!,
        driftPercent: row.driftPercent ?? 'undefined',
        alertPercent: this.options.alertPercent,
      },
    };
  }

  /** Hourly on every instance with the key (the first a minute after start); the claim makes it once a day across them. */
  start(): void {
    if (this.timer || !this.options.costs) return;
    const tick = () => void this.run().catch((error: Error) => this.options.logger.error({ err: error.message }, 'reconciliation could not run'));
    this.first = setTimeout(tick, 60_000);
    this.first.unref();
    this.timer = setInterval(tick, TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.first);
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
