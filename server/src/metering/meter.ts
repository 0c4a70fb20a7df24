// The accounting path's database half: reserve before calling the provider,
// settle from the provider's own usage afterwards. Both are one transaction;
// every limit is enforced by a conditional update, so concurrent requests at a
// limit cannot let through what the plan does not allow.
import { randomUUID } from 'node:crypto';
import type { SqlQuery } from '@chatmeter/db/client';
import { costMicroUsd, type TokenPrice } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
import { MeterBatcher } from './meter-batch.ts';
import { dayStart, hourStart, nextDay, nextHour, type MonthPeriod } from './periods.ts';

/** Smallest completion worth starting when the allowance is nearly spent. */
export const MIN_COMPLETION_TOKENS = 16;
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
  /** Requested completion cap; may be lowered to what the allowance still covers. */
  maxTokens: number;
  month: MonthPeriod;
  /** Default daily cap when the admin has not set one. */
  defaultDailyTokenCap: number;
  requestId: string;
  conversation: { id: string | null; title: string; userContent: string; maxMessages: number };
  now?: Date;
}

export interface ChatReservation {
  id: string;
  maxTokens: number;
  conversationId: string;
  userMessageId: string;
  fundedBy: 'allowance' | 'credits' | 'none';
}

function exhausted(message: string, resetAt: Date): AppError {
  return new AppError('quota_exhausted', message, { resetAt, upgrade: true, retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000)) });
}

export class Meter {
  readonly batcher: MeterBatcher;

  /** `lockTimeoutMs`: longest wait of a batch for a row lock held elsewhere (meter-batch.ts). */
  constructor(query: SqlQuery, options: { lockTimeoutMs?: number } = {}) {
    this.batcher = new MeterBatcher(query, options.lockTimeoutMs);
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
      min_completion: MIN_COMPLETION_TOKENS,
      default_cap: input.defaultDailyTokenCap,
      model: input.model,
      request_id: input.requestId,
      conversation_id: input.conversation.id,
      title: input.conversation.title,
      content: input.conversation.userContent,
      max_messages: input.conversation.maxMessages,
    });

    switch (row.o_outcome) {
      case 'ok':
        return {
          id: reservationId,
          maxTokens: Number(row.o_max_tokens),
          conversationId: row.o_conversation_id!,
          userMessageId: row.o_user_message_id!,
          fundedBy: row.o_funded_by as ChatReservation['fundedBy'],
        };
      case 'kill_switch':
        throw new AppError('kill_switch', 'The assistant is paused by the administrator. Please try again later.');
      case 'messages_hour':
        throw exhausted(`You have used this hour's ${limits.messagesPerHour} messages.`, nextHour(now));
      case 'messages_day':
        throw exhausted(`You have used today's ${limits.messagesPerDay} messages.`, nextDay(now));
      case 'ip_day':
        throw exhausted(`Guests on your network have used today's ${input.guestPlan.limits.messagesPerDay} messages. Sign up to keep chatting.`, nextDay(now));
      case 'credits':
        throw new AppError('credits_exhausted', 'Your monthly tokens are used up and your credits do not cover this message. Top up or upgrade.', {
          upgrade: true,
          resetAt: input.month.end,
        });
      case 'tokens':
        throw exhausted(
          input.user.isGuest
            ? 'The guest allowance is used up. Sign up to keep chatting.'
            : `You have used this month's ${limits.tokensPerMonth.toLocaleString('en-US')} tokens. Upgrade or buy a credit pack to keep chatting.`,
          input.month.end,
        );
      case 'global_cap':
        throw new AppError('global_cap', "The service has reached today's usage cap. Please try again tomorrow.", {
          retryAfterSeconds: Math.ceil((nextDay(now).getTime() - now.getTime()) / 1000),
          resetAt: nextDay(now),
        });
      case 'conversation_too_long':
        throw new AppError('conversation_too_long', `This conversation has reached ${input.conversation.maxMessages} messages. Start a new one.`);
      case 'not_found':
        throw new AppError('not_found', 'That conversation does not exist.');
      case 'account_deleted':
        // The session was valid when the request began; the account was deleted since.
        throw new AppError('unauthenticated', 'This account has been deleted.');
      default:
        throw new Error(`cm_reserve_chat: unknown outcome ${row.o_outcome}`);
    }
  }

  /**
   * Settles a reservation with what was really used, with cm_settle_chat in the
   * next batch (idempotent: a second call finds it settled and returns
   * null). Unused tokens go back to the allowance or the credits; an overrun is
   * charged as far as the credits go. A reservation whose account was deleted
   * meanwhile settles anonymised (migration 20261204051000).
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

export type UsageStatus = 'ok' | 'aborted' | 'error' | 'cached' | 'expired';

export interface SettleChatInput {
  reservationId: string;
  isGuest: boolean;
  ipHash: string;
  model: string;
  price: TokenPrice;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  estimated: boolean;
  status: UsageStatus;
  latencyMs: number;
  /** Give the message back (the provider failed before answering). */
  refundMessage?: boolean;
  /** The reply to store (when there is a conversation and text, or the status is ok), with how it ended. */
  assistant?: { messageId: string; content: string; finishReason?: string | null };
}

export interface SettledChat {
  usageEventId: bigint;
  costMicroUsd: number;
  creditTokens: bigint;
  /** The account was deleted while the reply streamed: recorded without the person. */
  anonymised: boolean;
}
