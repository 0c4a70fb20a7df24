// The accounting path's database half: reserve before calling the provider,
// settle from the provider's own usage afterwards. Both are one transaction;
// every limit is enforced by a conditional update, so concurrent requests at a
// limit cannot let through what the plan does not allow.
import { randomUUID } from 'node:crypto';
import type { TUsageStatus } from '@chatmeter/shared/chat';
import type { SqlQuery } from '@chatmeter/db/client';
import type { LimitName } from '@chatmeter/shared/errors';
import { costMicroUsd, type TokenPrice } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
import { LIVE_STATUSES } from '../plans/live-statuses.ts';
import { MeterBatcher } from './meter-batch.ts';
import { exhaustedLimits, longestBlock, quotaRefusal, type ExhaustedLimit, type QuotaSnapshot } from './quota-refusal.ts';
import { dayStart, hourStart, nextDay, nextHour, type MonthPeriod } from './periods.ts';

/** Smallest completion worth starting when what is left is nearly spent (CHAT_MIN_COMPLETION_TOKENS). */
export const MIN_COMPLETION_TOKENS = 64;
/** A reservation not settled by then is settled by the sweeper. */
export const RESERVATION_TTL_MS = 10 * 60 * 1000;

export interface MeterSubject {
  id: string;
  isGuest: boolean;
}

export interface ReserveChatInput {
  user: MeterSubject;
  plan: TPlan;
  /** Limits that apply per IP to guests (the guest plan). */
  guestPlan: TPlan;
  ipHash: string;
  model: string;
  /** Prompt estimate from the tokenizer, safety margin included. */
  promptTokens: number;
  /** Requested completion cap; may be lowered to what every limit still covers (shrink to fit). */
  maxTokens: number;
  /** The model's prices: the reservation holds the worst case (the prompt estimate at the input price, the cap at the output price). Absent: free. */
  price?: TokenPrice;
  /** The plan's cheaper model, tried when the one asked for does not fit (limits.fallbackModel), with its prices and cap. */
  fallback?: { model: string; price: TokenPrice; maxTokens: number } | undefined;
  month: MonthPeriod;
  /** Default daily cap when the admin has not set one. */
  defaultDailyTokenCap: number;
  requestId: string;
  conversation: {
    id: string | null;
    title: string;
    userContent: string;
    maxMessages: number;
    /** The message the new user message follows (the conversation's leaf, or an edited message's parent); null for a first one. */
    parentId?: string | null;
    /** Regenerate: the existing user message to answer again (no user message is written). */
    replyTo?: string;
    /** Refuse (`conflict`) while a reply of this conversation is streaming: edit and regenerate. */
    exclusive?: boolean;
  };
  now?: Date;
  /**
   * The request's user was read from this instance's session cache (auth/session.ts): the
   * reservation checks, in the same transaction, that the session still opens and that the
   * user is still as `user` says (plan, guest, verified, not blocked, subscribed).
   */
  session?: { id: string; expect: SessionExpectation } | undefined;
}

/** What the checks before the reservation assumed of the user (a cached session's). */
export interface SessionExpectation {
  planId: string;
  isGuest: boolean;
  emailVerifiedAt: Date | null;
  subscribed?: boolean | undefined;
}

/**
 * The cached session the request was checked with is out of date (the user's plan, state or
 * subscription changed since): the caller reads the session again and retries. Never reaches a client.
 */
export class StaleSessionError extends Error {
  constructor() {
    super('The session changed since it was cached.');
    this.name = 'StaleSessionError';
  }
}

export interface ChatReservation {
  id: string;
  maxTokens: number;
  conversationId: string;
  userMessageId: string;
  fundedBy: 'allowance' | 'credits' | 'none';
  /** The model that answers: the one asked for, or the plan's fallback (then `degradedFrom` names the one asked for). */
  model: string;
  degradedFrom: string | null;
  /** The limit that lowered the completion cap below the one asked for; null when nothing did. */
  limitedBy: LimitName | null;
  /** The worst-case cost held on the dollar counters until settlement. */
  costMicroUsd: number;
}

/** The limit each shrink of cm_reserve_chat stands for. */
const LIMITED_BY: Record<string, LimitName> = {
  tokens: 'tokensPerMonth',
  cost_month: 'costPerMonth',
  personal: 'personalSpendLimit',
  credits: 'credits',
  global_cap: 'globalTokensPerDay',
  global_cost_day: 'globalCostPerDay',
  global_cost_month: 'globalCostPerMonth',
};

/** Options of the wallet (from the environment): the smallest completion and the global dollar caps when the admin has set none. */
export interface MeterOptions {
  /** Longest wait of a batch for a row lock held elsewhere (meter-batch.ts). */
  lockTimeoutMs?: number;
  minCompletionTokens?: number;
  defaultCostPerDayMicroUsd?: number | undefined;
  defaultCostPerMonthMicroUsd?: number | undefined;
}

/** The limit each refusal of cm_reserve_chat stands for. */
const REFUSED_LIMIT: Record<string, ExhaustedLimit['limit']> = {
  messages_hour: 'messagesPerHour',
  messages_day: 'messagesPerDay',
  ip_day: 'networkMessagesPerDay',
  credits: 'credits',
  tokens: 'tokensPerMonth',
  cost_month: 'costPerMonth',
  personal: 'personalSpendLimit',
};

/** Limits that reset with the user's billing period. */
const MONTHLY = new Set<LimitName>(['credits', 'tokensPerMonth', 'costPerMonth', 'personalSpendLimit']);

/** The first instant of the next calendar month (UTC): the global monthly cap's reset. */
export function nextCalendarMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

export function calendarMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** What a refusal is weighed against: the request's subject, plans and month. */
export interface QuotaRefusalInput {
  user: MeterSubject;
  plan: TPlan;
  guestPlan: TPlan;
  ipHash: string;
  month: MonthPeriod;
  /** The request's prompt estimate (0 when not known yet). */
  promptTokens: number;
  /** The worst-case cost of the smallest reply (prompt estimate + the smallest completion) at the model's prices; 0 when not known. */
  costNeeded?: number;
}

export class Meter {
  readonly batcher: MeterBatcher;
  readonly minCompletionTokens: number;
  private readonly defaultCostPerDay: number | null;
  private readonly defaultCostPerMonth: number | null;

  constructor(
    private readonly query: SqlQuery,
    options: MeterOptions = {},
  ) {
    this.batcher = new MeterBatcher(query, options.lockTimeoutMs);
    this.minCompletionTokens = options.minCompletionTokens ?? MIN_COMPLETION_TOKENS;
    this.defaultCostPerDay = options.defaultCostPerDayMicroUsd ?? null;
    this.defaultCostPerMonth = options.defaultCostPerMonthMicroUsd ?? null;
  }

  /**
   * The refusal for a request some quota turned away: every exhausted limit is read (one
   * query, on refusals only) and the one that resets last is named, with its reset.
   * `refused`: the limit the reservation stopped at, named when the read finds nothing
   * exhausted (a concurrent request took the last unit, then settled). Undefined (from
   * `longerBlock`) when nothing is exhausted.
   */
  async quotaRefusal(input: QuotaRefusalInput, now: Date, refused: ExhaustedLimit['limit']): Promise<AppError> {
    const context = {
      isGuest: input.user.isGuest,
      plan: input.plan,
      guestPlan: input.guestPlan,
      month: input.month,
      tokensNeeded: input.promptTokens + this.minCompletionTokens,
      costNeeded: input.costNeeded ?? 0,
      now,
    };
    const exhausted = exhaustedLimits(await this.quotaSnapshot(input, now), context);
    const fallback: ExhaustedLimit = {
      limit: refused,
      resetAt: refused === 'messagesPerHour' ? nextHour(now) : MONTHLY.has(refused) ? input.month.end : nextDay(now),
    };
    return quotaRefusal(longestBlock([fallback, ...exhausted])!, context);
  }

  /**
   * A quota that keeps the user out for longer than `until` (e.g. a rate limit's wait), as
   * its refusal; undefined when none does. On refusals only.
   */
  async longerBlock(input: QuotaRefusalInput, now: Date, until: Date): Promise<AppError | undefined> {
    const context = {
      isGuest: input.user.isGuest,
      plan: input.plan,
      guestPlan: input.guestPlan,
      month: input.month,
      tokensNeeded: input.promptTokens + this.minCompletionTokens,
      costNeeded: input.costNeeded ?? 0,
      now,
    };
    const block = longestBlock(exhaustedLimits(await this.quotaSnapshot(input, now), context));
    return block && block.resetAt.getTime() > until.getTime() ? quotaRefusal(block, context) : undefined;
  }

  private async quotaSnapshot(input: QuotaRefusalInput, now: Date): Promise<QuotaSnapshot> {
    const rows = await this.query<{ k: string; used: string | bigint | number | null }>(
      `SELECT q.kind || CASE WHEN q.subject = $1 THEN '' ELSE ':ip' END AS k, q.used FROM quota_counters q
        WHERE (q.subject = $1 AND ((q.kind = 'messages_hour' AND q.period_start = $3::timestamptz)
                                OR (q.kind = 'messages_day' AND q.period_start = $4::timestamptz)
                                OR (q.kind IN ('tokens_month', 'cost_month', 'spend_month') AND q.period_start = $5::timestamptz)))
           OR (q.subject = $2 AND q.kind = 'messages_day' AND q.period_start = $4::timestamptz)
       UNION ALL
       SELECT 'credits', c.balance_tokens FROM credit_accounts c WHERE c.user_id = $6::uuid
       UNION ALL
       SELECT 'personal_limit', p.monthly_spend_limit_micro_usd FROM user_preferences p WHERE p.user_id = $6::uuid AND NOT $7::boolean`,
      [`u:${input.user.id}`, `ip:${input.ipHash}`, hourStart(now), dayStart(now), input.month.start, input.user.id, input.user.isGuest],
    );
    const value = (k: string) => rows.find((r) => r.k === k)?.used;
    const used = (k: string) => Number(value(k) ?? 0);
    const personal = value('personal_limit');
    return {
      messagesHour: used('messages_hour'),
      messagesDay: used('messages_day'),
      networkMessagesDay: input.user.isGuest ? used('messages_day:ip') : 0,
      tokensMonth: used('tokens_month'),
      creditTokens: used('credits'),
      costMonth: used('cost_month'),
      spendMonth: used('spend_month'),
      personalLimit: personal === undefined || personal === null ? null : Number(personal),
    };
  }

  /**
   * Saves what a streaming reply has relayed so far in its reservation (while it is held),
   * so that the sweeper can keep it if this server dies mid-stream. Not a ledger change:
   * outside the batch, and a lost save only loses text the next one would have written.
   */
  async savePartial(reservationId: string, content: string): Promise<void> {
    await this.query(`UPDATE reservations SET partial_content = $2 WHERE id = $1::uuid AND status = 'held' AND NOT anonymised`, [reservationId, content], {
      name: 'save_partial_reply',
    });
  }

  /**
   * Reserves with cm_reserve_chat (migration 20261123040000), in the next
   * group-committed batch (meter-batch.ts): a refusal has rolled back
   * everything this reservation did and comes back as an outcome.
   */
  async reserveChat(input: ReserveChatInput): Promise<ChatReservation> {
    const now = input.now ?? new Date();
    const limits = input.plan.limits;
    const reservationId = randomUUID();
    const row = await this.batcher.submit('reserve', {
      reservation_id: reservationId,
      user_id: input.user.id,
      is_guest: input.user.isGuest,
      ip_hash: input.ipHash,
      at_now: now,
      at_hour: hourStart(now),
      at_day: dayStart(now),
      at_month: input.month.start,
      expires_at: new Date(now.getTime() + RESERVATION_TTL_MS),
      messages_hour_limit: limits.messagesPerHour,
      messages_day_limit: limits.messagesPerDay,
      ip_day_limit: input.guestPlan.limits.messagesPerDay,
      tokens_month_limit: limits.tokensPerMonth,
      prompt: input.promptTokens,
      max_tokens: input.maxTokens,
      min_completion: this.minCompletionTokens,
      default_cap: input.defaultDailyTokenCap,
      in_price: input.price?.inputMicrosPerMillion ?? 0,
      out_price: input.price?.outputMicrosPerMillion ?? 0,
      cost_month_limit: limits.costPerMonthMicroUsd ?? null,
      default_cost_day_cap: this.defaultCostPerDay,
      default_cost_month_cap: this.defaultCostPerMonth,
      at_global_month: calendarMonthStart(now),
      fallback_model: input.fallback?.model ?? null,
      fallback_in_price: input.fallback?.price.inputMicrosPerMillion ?? null,
      fallback_out_price: input.fallback?.price.outputMicrosPerMillion ?? null,
      fallback_max_tokens: input.fallback?.maxTokens ?? null,
      model: input.model,
      request_id: input.requestId,
      conversation_id: input.conversation.id,
      title: input.conversation.title,
      content: input.conversation.userContent,
      max_messages: input.conversation.maxMessages,
      parent_id: input.conversation.parentId ?? null,
      reply_to: input.conversation.replyTo ?? null,
      exclusive: input.conversation.exclusive ?? false,
      ...(input.session
        ? {
            session_id: input.session.id,
            expect_plan: input.session.expect.planId,
            expect_verified: input.session.expect.emailVerifiedAt !== null,
            expect_subscribed: input.session.expect.subscribed ?? false,
            live_statuses: LIVE_STATUSES,
          }
        : {}),
    });

    switch (row.o_outcome) {
      case 'ok':
        return {
          id: reservationId,
          maxTokens: Number(row.o_max_tokens),
          conversationId: row.o_conversation_id!,
          userMessageId: row.o_user_message_id!,
          fundedBy: row.o_funded_by as ChatReservation['fundedBy'],
          model: row.o_model ?? input.model,
          degradedFrom: row.o_model && row.o_model !== input.model ? input.model : null,
          limitedBy: row.o_limited_by ? (LIMITED_BY[row.o_limited_by] ?? null) : null,
          costMicroUsd: Number(row.o_cost ?? 0),
        };
      case 'kill_switch':
        throw new AppError('kill_switch', 'The assistant is paused by the administrator. Please try again later.');
      case 'messages_hour':
      case 'messages_day':
      case 'ip_day':
      case 'credits':
      case 'tokens':
      case 'cost_month':
      case 'personal':
        // The refusal names the limit that keeps the user out longest, and its real reset.
        throw await this.quotaRefusal({ ...input, costNeeded: this.smallestCost(input) }, now, REFUSED_LIMIT[row.o_outcome]!);
      case 'global_cap':
        throw globalCapRefusal('globalTokensPerDay', "The service has reached today's usage cap. Please try again tomorrow.", nextDay(now), now);
      case 'global_cost_day':
        throw globalCapRefusal('globalCostPerDay', "The service has reached today's spending cap. Please try again tomorrow.", nextDay(now), now);
      case 'global_cost_month':
        throw globalCapRefusal(
          'globalCostPerMonth',
          "The service has reached this month's spending cap. Please try again next month.",
          nextCalendarMonth(now),
          now,
        );
      case 'conversation_too_long':
        throw new AppError('conversation_too_long', `This conversation has reached ${input.conversation.maxMessages} messages. Start a new one.`);
      case 'not_found':
        throw new AppError('not_found', input.conversation.exclusive ? 'That message does not exist.' : 'That conversation does not exist.');
      case 'conversation_busy':
        throw new AppError('conflict', 'A reply is still being written in this conversation. Wait for it to finish, or stop it, then try again.');
      case 'session_gone':
        throw new AppError('unauthenticated', 'Please sign in first.');
      case 'session_changed':
        throw new StaleSessionError();
      case 'account_deleted':
        // The session was valid when the request began; the account was deleted since.
        throw new AppError('unauthenticated', 'This account has been deleted.');
      default:
        throw new Error(`cm_reserve_chat: unknown outcome ${row.o_outcome}`);
    }
  }

  /** The worst-case cost of the smallest reply the request could get (the cheapest of the model and its fallback). */
  private smallestCost(input: ReserveChatInput): number {
    const cost = (price: TokenPrice | undefined, cap: number) =>
      price
        ? Math.ceil((input.promptTokens * price.inputMicrosPerMillion + Math.min(this.minCompletionTokens, cap) * price.outputMicrosPerMillion) / 1_000_000)
        : 0;
    const own = cost(input.price, input.maxTokens);
    return input.fallback ? Math.min(own, cost(input.fallback.price, input.fallback.maxTokens)) : own;
  }

  /**
   * Settles a reservation with what was really used, with cm_settle_chat in the
   * next batch (idempotent: a second call finds it settled and returns
   * null). Unused tokens go back to the allowance or the credits; an overrun is
   * charged as far as the credits go. A reservation whose account was deleted
   * meanwhile settles anonymised (migration 20261204051000). The provider is recorded on
   * the usage event (migration 20261205090000).
   */
  async settleChat(input: SettleChatInput): Promise<SettledChat | null> {
    const cost = costMicroUsd(
      { promptTokens: input.promptTokens, completionTokens: input.completionTokens, cachedPromptTokens: Math.min(input.cachedTokens, input.promptTokens) },
      input.price,
    );
    const row = await this.batcher.submit('settle', {
      reservation_id: input.reservationId,
      is_guest: input.isGuest,
      ip_hash: input.ipHash,
      model: input.model,
      prompt: input.promptTokens,
      completion: input.completionTokens,
      cached: input.cachedTokens,
      cost,
      status: input.status,
      estimated: input.estimated,
      latency_ms: input.latencyMs,
      refund_message: input.refundMessage ?? false,
      assistant_id: input.assistant?.messageId ?? randomUUID(),
      assistant_content: input.assistant?.content ?? '',
      finish_reason: input.assistant?.finishReason ?? null,
      provider: input.provider ?? null,
      ...(input.assistant?.status ? { message_status: input.assistant.status } : {}),
      ...(input.clearPartial ? { clear_partial: true } : {}),
    });
    if (row.o_outcome !== 'ok' && row.o_outcome !== 'anonymised') return null;
    return {
      usageEventId: BigInt(row.o_usage_event_id!),
      costMicroUsd: cost,
      creditTokens: BigInt(row.o_credit_tokens!),
      anonymised: row.o_outcome === 'anonymised',
    };
  }
}

/** A refusal by a global cap (tokens or dollars): `data.limit` names it, with its reset. Voice uses it too (tts-meter.ts). */
export function globalCapRefusal(limit: LimitName, message: string, resetAt: Date, now: Date): AppError {
  return new AppError('global_cap', message, { limit, retryAfterSeconds: Math.ceil((resetAt.getTime() - now.getTime()) / 1000), resetAt });
}

export type UsageStatus = TUsageStatus;

export interface SettleChatInput {
  reservationId: string;
  isGuest: boolean;
  ipHash: string;
  model: string;
  /** The provider that served it (usage_events.provider, migration 20261205090000). */
  provider?: string | null;
  price: TokenPrice;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  estimated: boolean;
  status: UsageStatus;
  latencyMs: number;
  /** Give the message back (the provider failed before answering). */
  refundMessage?: boolean;
  /**
   * The reply to store (when there is a conversation and text, or the status is ok), with how it
   * ended; `status` when the stored reply's differs from the usage's (the sweeper: 'interrupted').
   */
  assistant?: { messageId: string; content: string; finishReason?: string | null; status?: string };
  /** The reservation holds saved partial text (savePartial): drop it with the settlement. */
  clearPartial?: boolean;
}

export interface SettledChat {
  usageEventId: bigint;
  costMicroUsd: number;
  creditTokens: bigint;
  /** The account was deleted while the reply streamed: recorded without the person. */
  anonymised: boolean;
}
