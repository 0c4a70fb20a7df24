// The accounting path's database half: reserve before calling the provider,
// settle from the provider's own usage afterwards. Both are one transaction;
// every limit is enforced by a conditional update, so concurrent requests at a
// limit cannot let through what the plan does not allow.
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { costMicroUsd, type TokenPrice } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
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
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Reserves in one round trip (cm_reserve_chat, migration 20261123040000): a
   * refusal has rolled back everything and comes back as an outcome.
   */
  async reserveChat(input: ReserveChatInput): Promise<ChatReservation> {
    const now = input.now ?? new Date();
    const limits = input.plan.limits;
    const reservationId = randomUUID();
    const rows = await this.prisma.$queryRaw<
      { outcome: string; max_tokens: bigint; funded_by: ChatReservation['fundedBy']; conversation_id: string | null; user_message_id: string | null; credit_balance: bigint }[]
    >(Prisma.sql`SELECT * FROM cm_reserve_chat(
      ${reservationId}::uuid, ${input.user.id}::uuid, ${input.user.isGuest}, ${input.ipHash},
      ${now}::timestamptz, ${hourStart(now)}::timestamptz, ${dayStart(now)}::timestamptz, ${input.month.start}::timestamptz,
      ${new Date(now.getTime() + RESERVATION_TTL_MS)}::timestamptz,
      ${limits.messagesPerHour}::bigint, ${limits.messagesPerDay}::bigint, ${input.guestPlan.limits.messagesPerDay}::bigint, ${limits.tokensPerMonth}::bigint,
      ${input.promptTokens}::bigint, ${input.maxTokens}::bigint, ${MIN_COMPLETION_TOKENS}::bigint, ${input.defaultDailyTokenCap}::bigint,
      ${input.model}, ${input.requestId}, ${input.conversation.id}::uuid, ${input.conversation.title}, ${input.conversation.userContent},
      ${input.conversation.maxMessages}::int)`);
    const row = rows[0];
    if (!row) throw new Error('cm_reserve_chat returned no row');
    switch (row.outcome) {
      case 'ok':
        return { id: reservationId, maxTokens: Number(row.max_tokens), conversationId: row.conversation_id!, userMessageId: row.user_message_id!, fundedBy: row.funded_by };
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
      default:
        throw new Error(`cm_reserve_chat: unknown outcome ${row.outcome}`);
    }
  }

  /**
   * Settles a reservation with what was really used, in one round trip
   * (cm_settle_chat; idempotent: a second call finds it settled and returns
   * null). Unused tokens go back to the allowance or the credits; an overrun is
   * charged as far as the credits go.
   */
  async settleChat(input: SettleChatInput): Promise<SettledChat | null> {
    const cost = costMicroUsd(
      { promptTokens: input.promptTokens, completionTokens: input.completionTokens, cachedPromptTokens: Math.min(input.cachedTokens, input.promptTokens) },
      input.price,
    );
    const rows = await this.prisma.$queryRaw<{ usage_event_id: bigint; credit_tokens: bigint }[]>(Prisma.sql`SELECT * FROM cm_settle_chat(
      ${input.reservationId}::uuid, ${input.isGuest}, ${input.ipHash}, ${input.model},
      ${input.promptTokens}::int, ${input.completionTokens}::int, ${input.cachedTokens}::int, ${cost}::bigint,
      ${input.status}, ${input.estimated}, ${input.latencyMs}::int, ${input.refundMessage ?? false},
      ${input.assistant?.messageId ?? randomUUID()}::uuid, ${input.assistant?.content ?? ''})`);
    const row = rows[0];
    if (!row) return null;
    return { usageEventId: row.usage_event_id, costMicroUsd: cost, creditTokens: row.credit_tokens };
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
  assistant?: { messageId: string; content: string };
}

export interface SettledChat {
  usageEventId: bigint;
  costMicroUsd: number;
  creditTokens: bigint;
}
