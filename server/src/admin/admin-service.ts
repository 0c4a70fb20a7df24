// The operator's controls: user search and detail, credit adjustments, plans,
// blocking, the global settings. Every change is one transaction that also
// appends its audit row; role rules beyond "support or admin" (the support
// adjustment limits, whose credits and roles may be changed) are decided here,
// not in the router.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { TAdjustCreditsInput, TAdminUsersInput, TAuditLogInput, TSetRoleInput, TUpdateSettingsInput } from '@chatmeter/shared/admin';
import type { TRole } from '@chatmeter/shared/auth';
import type { TPlan } from '@chatmeter/shared/plans';
import type { SessionService } from '../auth/session.ts';
import type { PlanSubject } from '../plans/plan-resolver.ts';
import { AppError } from '../lib/app-error.ts';
import { addCredits, type CreditAdded, takeCreditsUpTo } from '../metering/credits.ts';
import { adjust, COUNTER, GLOBAL_SUBJECT, read, tryIncrement, userSubject } from '../metering/counters.ts';
import { dayStart, monthStart, nextDay, nextMonth } from '../metering/periods.ts';
import type { UsageService } from '../usage/usage-service.ts';
import { decodeCursor, encodeCursor, keysetPage } from '../lib/cursor.ts';
import { appendAudit, listAudit, type Actor } from '../audit/audit-log.ts';
import { addDays, utcDay } from '../lib/days.ts';

export interface AdminServiceOptions {
  prisma: PrismaClient;
  plans: readonly TPlan[];
  usage: UsageService;
  sessions: SessionService;
  planFor: (user: PlanSubject) => TPlan;
  supportMaxAdjustmentTokens: number;
  supportMaxAdjustmentTokensPerDay: number;
  defaultDailyTokenCap: number;
  /** The global provider-cost caps when app_settings has none (MAX_COST_PER_DAY_USD / MAX_COST_PER_MONTH_USD), micro-USD; absent: none. */
  defaultCostPerDayMicroUsd?: number | undefined;
  defaultCostPerMonthMicroUsd?: number | undefined;
}

const userListSelect = {
  id: true,
  email: true,
  role: true,
  planId: true,
  isGuest: true,
  blockedAt: true,
  deletedAt: true,
  createdAt: true,
} satisfies Prisma.UserSelect;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RECENT_USAGE = 20;
const LEDGER_ROWS = 50;

export class AdminService {
  constructor(private readonly options: AdminServiceOptions) {}

  /** The audit log, newest first, one keyset page at a time. */
  auditLog(input: TAuditLogInput) {
    return listAudit(this.options.prisma, input);
  }

  /** Newest first; `query` matches a user id exactly or any part of the e-mail address. */
  async users(input: TAdminUsersInput) {
    const cursor = decodeCursor(input.cursor);
    const q = input.query?.trim().toLowerCase();
    const where: Prisma.UserWhereInput = {
      ...(q ? (UUID.test(q) ? { id: q } : { email: { contains: q } }) : {}),
      ...(cursor ? { OR: [{ createdAt: { lt: cursor.at } }, { createdAt: cursor.at, id: { lt: cursor.id } }] } : {}),
    };
    const rows = await this.options.prisma.user.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: input.limit + 1,
      select: userListSelect,
    });
    const { rows: page, nextCursor } = keysetPage(rows, input.limit, (last) => encodeCursor(last.createdAt, last.id));
    const balances = page.length
      ? await this.options.prisma.creditAccount.findMany({ where: { userId: { in: page.map((u) => u.id) } }, select: { userId: true, balanceTokens: true } })
      : [];
    const items = page.map((u) => ({
      ...toUser(u),
      creditTokens: Number(balances.find((b) => b.userId === u.id)?.balanceTokens ?? 0n),
    }));
    return { items, nextCursor };
  }

  /** Plan, usage summary, recent usage, credit ledger and live sessions of one user. */
  async user(userId: string, now = new Date()) {
    const prisma = this.options.prisma;
    const user = await prisma.user.findUnique({ where: { id: userId }, select: { ...userListSelect, emailVerifiedAt: true } });
    if (!user) throw new AppError('not_found', 'That user does not exist.');
    const plan = this.options.planFor(user);
    const from30 = addDays(utcDay(now), -29);
    const [summary, totals, recentUsage, ledger, sessions] = await Promise.all([
      this.options.usage.summary(user, plan, now),
      prisma.$queryRaw<{ requests: bigint; tokens: bigint; cost: bigint; requests30: bigint; tokens30: bigint; cost30: bigint }[]>(Prisma.sql`
        SELECT COALESCE(sum(requests), 0)::bigint AS requests,
               COALESCE(sum(prompt_tokens + completion_tokens), 0)::bigint AS tokens,
               COALESCE(sum(cost_micro_usd), 0)::bigint AS cost,
               COALESCE(sum(requests) FILTER (WHERE day >= ${from30}::date), 0)::bigint AS requests30,
               COALESCE(sum(prompt_tokens + completion_tokens) FILTER (WHERE day >= ${from30}::date), 0)::bigint AS tokens30,
               COALESCE(sum(cost_micro_usd) FILTER (WHERE day >= ${from30}::date), 0)::bigint AS cost30
          FROM usage_daily WHERE user_id = ${userId}::uuid`),
      prisma.usageEvent.findMany({
        where: { userId },
        orderBy: { id: 'desc' },
        take: RECENT_USAGE,
        select: {
          id: true,
          createdAt: true,
          kind: true,
          model: true,
          promptTokens: true,
          completionTokens: true,
          costMicroUsd: true,
          ttsChars: true,
          status: true,
          estimated: true,
        },
      }),
      prisma.$queryRaw<
        {
          id: bigint;
          created_at: Date;
          delta_tokens: bigint;
          balance_after: bigint;
          kind: string;
          reason: string;
          actor_id: string | null;
          actor_email: string | null;
        }[]
      >(Prisma.sql`
        SELECT l.id, l.created_at, l.delta_tokens, l.balance_after, l.kind, l.reason, l.actor_id::text AS actor_id, a.email AS actor_email
          FROM credit_ledger l LEFT JOIN users a ON a.id = l.actor_id
         WHERE l.user_id = ${userId}::uuid
         ORDER BY l.id DESC LIMIT ${LEDGER_ROWS}`),
      this.options.sessions.listForUser(userId, now),
    ]);
    const t = totals[0];
    return {
      user: toUser(user),
      plan: { id: plan.id, name: plan.name, priceMonthlyCents: plan.priceMonthlyCents, limits: plan.limits },
      summary,
      totals: {
        lifetime: { requests: Number(t?.requests ?? 0n), tokens: Number(t?.tokens ?? 0n), costMicroUsd: Number(t?.cost ?? 0n) },
        last30: { requests: Number(t?.requests30 ?? 0n), tokens: Number(t?.tokens30 ?? 0n), costMicroUsd: Number(t?.cost30 ?? 0n) },
      },
      recentUsage: recentUsage.map((e) => ({ ...e, id: e.id.toString(), costMicroUsd: Number(e.costMicroUsd) })),
      ledger: ledger.map((l) => ({
        id: l.id.toString(),
        createdAt: l.created_at,
        deltaTokens: Number(l.delta_tokens),
        balanceAfter: Number(l.balance_after),
        kind: l.kind,
        reason: l.reason,
        actorId: l.actor_id,
        actorEmail: l.actor_email,
      })),
      // The session id is half of a session token: it stays on the server.
      sessions: sessions.map(({ id: _id, ...s }) => s),
    };
  }

  /**
   * Signed adjustment of a user's credits: an immutable ledger row of kind
   * 'adjustment' with the actor and the reason. A negative one never takes the
   * balance below zero; the ledger records what was actually taken.
   *
   * Nobody adjusts their own credits. Support adjusts only accounts of role
   * user, at most supportMaxAdjustmentTokens a call and
   * supportMaxAdjustmentTokensPerDay a UTC day (absolute values summed). The
   * daily sum is a quota counter taken by a conditional increment in the same
   * transaction as the ledger row, so parallel calls cannot pass it together.
   */
  async adjustCredits(actor: Actor, input: TAdjustCreditsInput, now = new Date()) {
    if (input.userId === actor.id) {
      throw new AppError('forbidden_role', `You cannot adjust your own credits; ask ${actor.role === 'admin' ? 'another' : 'an'} admin.`);
    }
    const isSupport = actor.role !== 'admin';
    const limit = this.options.supportMaxAdjustmentTokens;
    if (isSupport && Math.abs(input.tokens) > limit) {
      throw new AppError('forbidden_role', `Support can adjust at most ${limit.toLocaleString('en-US')} tokens at a time; ask an admin for more.`, {
        maxTokens: limit,
      });
    }
    return this.options.prisma.$transaction(async (tx) => {
      const user = await this.lockLiveAccount(tx, input.userId);
      if (isSupport && user.role !== 'user') {
        throw new AppError('forbidden_role', 'Support can adjust the credits of user accounts only, not of support or admin accounts; ask an admin.');
      }
      const requested = BigInt(Math.abs(input.tokens));
      const day = dayStart(now);
      if (isSupport) await this.takeSupportAllowance(tx, actor.id, requested, now);
      const change = { userId: input.userId, kind: 'adjustment' as const, reason: input.reason, actorId: actor.id };
      let result: CreditAdded;
      let applied: bigint;
      if (input.tokens > 0) {
        result = await addCredits(tx, change, requested);
        applied = requested;
      } else {
        // A take-back never goes below zero: it applies what the balance holds.
        const taken = await takeCreditsUpTo(tx, change, requested);
        result = taken;
        applied = -taken.taken;
      }
      const balance = result.balance;
      // A take-back that found less than asked counts only what it took.
      const unapplied = requested - (applied < 0n ? -applied : applied);
      if (isSupport && unapplied > 0n) await adjust(tx, userSubject(actor.id), COUNTER.supportAdjustDay, day, -unapplied);
      const ledgerEntryId = result.entryId?.toString() ?? null;
      await appendAudit(tx, actor, {
        action: 'credits.adjust',
        targetUserId: input.userId,
        before: { balanceTokens: balance - applied },
        after: { balanceTokens: balance, requestedTokens: input.tokens, appliedTokens: applied, ledgerEntryId },
        reason: input.reason,
      });
      return { balanceTokens: Number(balance), appliedTokens: Number(applied), requestedTokens: input.tokens, ledgerEntryId };
    });
  }

  /** Adds `tokens` to a support account's adjustments today, or refuses when that passes the daily cap. */
  private async takeSupportAllowance(tx: Prisma.TransactionClient, actorId: string, tokens: bigint, now: Date): Promise<void> {
    const perDay = this.options.supportMaxAdjustmentTokensPerDay;
    const subject = userSubject(actorId);
    const used = await tryIncrement(tx, subject, COUNTER.supportAdjustDay, dayStart(now), tokens, perDay);
    if (used !== null) return;
    const usedToday = await read(tx, subject, COUNTER.supportAdjustDay, dayStart(now));
    const left = BigInt(perDay) > usedToday ? BigInt(perDay) - usedToday : 0n;
    throw new AppError(
      'forbidden_role',
      `Support can adjust at most ${perDay.toLocaleString('en-US')} tokens a day and has ${Number(left).toLocaleString('en-US')} left today (the count starts again at midnight UTC); ask an admin for more.`,
      { maxTokensPerDay: perDay, usedToday: Number(usedToday), resetAt: nextDay(now) },
    );
  }

  async setPlan(actor: Actor, input: { userId: string; plan: string }) {
    const plan = this.options.plans.find((p) => p.id === input.plan);
    if (!plan || plan.id === 'guest') throw new AppError('invalid_input', `There is no plan "${input.plan}" to give an account.`);
    return this.options.prisma.$transaction(async (tx) => {
      const user = await this.lockLiveAccount(tx, input.userId);
      if (user.is_guest) throw new AppError('invalid_input', 'A guest has no account to change the plan of.');
      await tx.user.update({ where: { id: input.userId }, data: { planId: plan.id }, select: { id: true } });
      await appendAudit(tx, actor, { action: 'user.set_plan', targetUserId: input.userId, before: { plan: user.plan_id }, after: { plan: plan.id } });
      return { userId: input.userId, plan: plan.id };
    });
  }

  /**
   * Gives or takes the support role. Admin accounts are out of reach (an admin
   * is made by ADMIN_EMAIL), and nobody changes their own role. The role is
   * read from the database on every request, so the change applies at once.
   */
  async setRole(actor: Actor, input: TSetRoleInput) {
    if (input.userId === actor.id) throw new AppError('forbidden_role', 'You cannot change your own role; ask another admin.');
    return this.options.prisma.$transaction(async (tx) => {
      const user = await this.lockLiveAccount(tx, input.userId);
      if (user.role === 'admin')
        throw new AppError('forbidden_role', "An admin's role cannot be changed here; admins are made and removed by the operator (ADMIN_EMAIL).");
      if (user.is_guest) throw new AppError('invalid_input', 'A guest has no account to give a role to.');
      if (user.role !== input.role) {
        await tx.user.update({ where: { id: input.userId }, data: { role: input.role }, select: { id: true } });
        await appendAudit(tx, actor, { action: 'user.set_role', targetUserId: input.userId, before: { role: user.role }, after: { role: input.role } });
      }
      return { userId: input.userId, role: input.role, changed: user.role !== input.role };
    });
  }

  async setBlocked(actor: Actor, input: { userId: string; blocked: boolean }, now = new Date()) {
    if (input.userId === actor.id && input.blocked) throw new AppError('invalid_input', 'You cannot block your own account.');
    return this.options.prisma.$transaction(async (tx) => {
      const user = await this.lockLiveAccount(tx, input.userId);
      const blockedAt = input.blocked ? (user.blocked_at ?? now) : null;
      await tx.user.update({ where: { id: input.userId }, data: { blockedAt }, select: { id: true } });
      await appendAudit(tx, actor, {
        action: 'user.set_blocked',
        targetUserId: input.userId,
        before: { blocked: user.blocked_at !== null },
        after: { blocked: input.blocked },
      });
      return { userId: input.userId, blocked: input.blocked, blockedAt };
    });
  }

  /**
   * The global settings: each cap as the admin set it (null: the environment's), the
   * environment's default, the one in force, and what its counter holds (settled usage plus
   * the worst case of what is still streaming, as the reservations count it).
   */
  async settings(now = new Date()) {
    const [row, usedToday, costToday, costThisMonth] = await Promise.all([
      this.options.prisma.appSettings.findUnique({
        where: { id: 1 },
        select: { killSwitch: true, maxTokensPerDay: true, maxCostPerDayMicroUsd: true, maxCostPerMonthMicroUsd: true, updatedAt: true, updatedBy: true },
      }),
      read(this.options.prisma, GLOBAL_SUBJECT, COUNTER.globalTokensDay, dayStart(now)),
      read(this.options.prisma, GLOBAL_SUBJECT, COUNTER.globalCostDay, dayStart(now)),
      // The global monthly cap runs on the calendar month (cm_reserve_chat's p_global_month).
      read(this.options.prisma, GLOBAL_SUBJECT, COUNTER.globalCostMonth, monthStart(now)),
    ]);
    const maxTokensPerDay = row?.maxTokensPerDay == null ? null : Number(row.maxTokensPerDay);
    const maxCostPerDayMicroUsd = row?.maxCostPerDayMicroUsd == null ? null : Number(row.maxCostPerDayMicroUsd);
    const maxCostPerMonthMicroUsd = row?.maxCostPerMonthMicroUsd == null ? null : Number(row.maxCostPerMonthMicroUsd);
    const defaultMaxCostPerDayMicroUsd = this.options.defaultCostPerDayMicroUsd ?? null;
    const defaultMaxCostPerMonthMicroUsd = this.options.defaultCostPerMonthMicroUsd ?? null;
    return {
      killSwitch: row?.killSwitch ?? false,
      maxTokensPerDay,
      defaultMaxTokensPerDay: this.options.defaultDailyTokenCap,
      effectiveMaxTokensPerDay: maxTokensPerDay ?? this.options.defaultDailyTokenCap,
      tokensUsedToday: Number(usedToday),
      maxCostPerDayMicroUsd,
      defaultMaxCostPerDayMicroUsd,
      /** Null: no daily dollar cap at all. */
      effectiveMaxCostPerDayMicroUsd: maxCostPerDayMicroUsd ?? defaultMaxCostPerDayMicroUsd,
      costUsedTodayMicroUsd: Number(costToday),
      costDayResetAt: nextDay(now),
      maxCostPerMonthMicroUsd,
      defaultMaxCostPerMonthMicroUsd,
      effectiveMaxCostPerMonthMicroUsd: maxCostPerMonthMicroUsd ?? defaultMaxCostPerMonthMicroUsd,
      costUsedThisMonthMicroUsd: Number(costThisMonth),
      costMonthResetAt: nextMonth(now),
      supportMaxAdjustmentTokens: this.options.supportMaxAdjustmentTokens,
      supportMaxAdjustmentTokensPerDay: this.options.supportMaxAdjustmentTokensPerDay,
      updatedAt: row?.updatedAt ?? null,
      updatedBy: row?.updatedBy ?? null,
    };
  }

  async updateSettings(actor: Actor, input: TUpdateSettingsInput, now = new Date()) {
    // undefined keeps what is set, null goes back to the environment's default.
    const next = (value: number | null | undefined, current: bigint | null) => (value === undefined ? current : value === null ? null : BigInt(value));
    await this.options.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<
        { kill_switch: boolean; max_tokens_per_day: bigint | null; max_cost_per_day_micro_usd: bigint | null; max_cost_per_month_micro_usd: bigint | null }[]
      >(Prisma.sql`
        SELECT kill_switch, max_tokens_per_day, max_cost_per_day_micro_usd, max_cost_per_month_micro_usd FROM app_settings WHERE id = 1 FOR UPDATE`);
      const before = rows[0] ?? { kill_switch: false, max_tokens_per_day: null, max_cost_per_day_micro_usd: null, max_cost_per_month_micro_usd: null };
      const after = {
        killSwitch: input.killSwitch ?? before.kill_switch,
        maxTokensPerDay: next(input.maxTokensPerDay, before.max_tokens_per_day),
        maxCostPerDayMicroUsd: next(input.maxCostPerDayMicroUsd, before.max_cost_per_day_micro_usd),
        maxCostPerMonthMicroUsd: next(input.maxCostPerMonthMicroUsd, before.max_cost_per_month_micro_usd),
      };
      await tx.$executeRaw(Prisma.sql`
        INSERT INTO app_settings (id, kill_switch, max_tokens_per_day, max_cost_per_day_micro_usd, max_cost_per_month_micro_usd, updated_at, updated_by)
        VALUES (1, ${after.killSwitch}, ${after.maxTokensPerDay}::bigint, ${after.maxCostPerDayMicroUsd}::bigint, ${after.maxCostPerMonthMicroUsd}::bigint,
                ${now}::timestamptz, ${actor.id}::uuid)
        ON CONFLICT (id) DO UPDATE SET kill_switch = EXCLUDED.kill_switch, max_tokens_per_day = EXCLUDED.max_tokens_per_day,
                                       max_cost_per_day_micro_usd = EXCLUDED.max_cost_per_day_micro_usd,
                                       max_cost_per_month_micro_usd = EXCLUDED.max_cost_per_month_micro_usd,
                                       updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`);
      await appendAudit(tx, actor, {
        action: 'settings.update',
        before: {
          killSwitch: before.kill_switch,
          maxTokensPerDay: before.max_tokens_per_day,
          maxCostPerDayMicroUsd: before.max_cost_per_day_micro_usd,
          maxCostPerMonthMicroUsd: before.max_cost_per_month_micro_usd,
        },
        after,
      });
    });
    return this.settings(now);
  }

  /** The row of a user that exists and is not deleted, locked for the rest of the transaction. */
  private async lockLiveAccount(tx: Prisma.TransactionClient, userId: string) {
    const rows = await tx.$queryRaw<{ role: TRole; plan_id: string; is_guest: boolean; blocked_at: Date | null; deleted_at: Date | null }[]>(Prisma.sql`
      SELECT role::text AS role, plan_id, is_guest, blocked_at, deleted_at FROM users WHERE id = ${userId}::uuid FOR NO KEY UPDATE`);
    const user = rows[0];
    if (!user || user.deleted_at) throw new AppError('not_found', 'That user does not exist.');
    return user;
  }
}

function toUser(u: {
  id: string;
  email: string | null;
  role: string;
  planId: string;
  isGuest: boolean;
  blockedAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
}) {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    plan: u.planId,
    isGuest: u.isGuest,
    blocked: u.blockedAt !== null,
    blockedAt: u.blockedAt,
    deleted: u.deletedAt !== null,
    deletedAt: u.deletedAt,
    createdAt: u.createdAt,
  };
}
