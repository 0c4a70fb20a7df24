// The accounting path's database half: reserve before calling the provider,
// settle from the provider's own usage afterwards. Both are one transaction;
// every limit is enforced by a conditional update, so concurrent requests at a
// limit cannot let through what the plan does not allow.
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { costMicroUsd, type TokenPrice } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError } from '../lib/app-error.ts';
import { adjust, COUNTER, GLOBAL_SUBJECT, ipSubject, read, tryIncrement, userSubject, type Tx } from './counters.ts';
import { addCredits, creditBalance, takeCreditsUpTo, tryTakeCredits } from './credits.ts';
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

  private async checkSettings(tx: Tx): Promise<{ cap: bigint | null }> {
    const rows = await tx.$queryRaw<{ kill_switch: boolean; max_tokens_per_day: bigint | null }[]>(
      Prisma.sql`SELECT kill_switch, max_tokens_per_day FROM app_settings WHERE id = 1`,
    );
    const settings = rows[0];
    if (settings?.kill_switch) throw new AppError('kill_switch', 'The assistant is paused by the administrator. Please try again later.');
    return { cap: settings?.max_tokens_per_day ?? null };
  }

  async reserveChat(input: ReserveChatInput): Promise<ChatReservation> {
    const now = input.now ?? new Date();
    const limits = input.plan.limits;
    const subject = userSubject(input.user.id);
    return this.prisma.$transaction(async (tx) => {
      const { cap } = await this.checkSettings(tx);

      if ((await tryIncrement(tx, subject, COUNTER.messagesHour, hourStart(now), 1, limits.messagesPerHour)) === null) {
        throw exhausted(`You have used this hour's ${limits.messagesPerHour} messages.`, nextHour(now));
      }
      if ((await tryIncrement(tx, subject, COUNTER.messagesDay, dayStart(now), 1, limits.messagesPerDay)) === null) {
        throw exhausted(`You have used today's ${limits.messagesPerDay} messages.`, nextDay(now));
      }
      if (input.user.isGuest) {
        // Guests are also bounded per network, so new guest sessions do not reset the allowance.
        const perIp = input.guestPlan.limits.messagesPerDay;
        if ((await tryIncrement(tx, ipSubject(input.ipHash), COUNTER.messagesDay, dayStart(now), 1, perIp)) === null) {
          throw exhausted(`Guests on your network have used today's ${perIp} messages. Sign up to keep chatting.`, nextDay(now));
        }
      }

      // Fund the tokens: the plan's monthly allowance first, then prepaid credits.
      let maxTokens = input.maxTokens;
      let fundedBy: ChatReservation['fundedBy'] = 'none';
      let allowanceTokens = 0n;
      let creditTokens = 0n;
      const prompt = BigInt(input.promptTokens);
      const usedMonth = await read(tx, subject, COUNTER.tokensMonth, input.month.start);
      const remaining = BigInt(limits.tokensPerMonth) - usedMonth;
      if (remaining >= prompt + BigInt(MIN_COMPLETION_TOKENS)) {
        maxTokens = Math.min(maxTokens, Number(remaining - prompt));
        const amount = prompt + BigInt(maxTokens);
        if ((await tryIncrement(tx, subject, COUNTER.tokensMonth, input.month.start, amount, limits.tokensPerMonth)) !== null) {
          fundedBy = 'allowance';
          allowanceTokens = amount;
        }
      }
      if (fundedBy === 'none' && !input.user.isGuest) {
        const balance = await creditBalance(tx, input.user.id);
        if (balance >= prompt + BigInt(MIN_COMPLETION_TOKENS)) {
          maxTokens = Math.min(input.maxTokens, Number(balance - prompt));
          const amount = prompt + BigInt(maxTokens);
          const reservationId = randomUUID();
          const taken = await tryTakeCredits(tx, { userId: input.user.id, kind: 'spend', reason: 'chat reservation', reservationId }, amount);
          if (taken !== null) {
            fundedBy = 'credits';
            creditTokens = amount;
            return this.finishReservation(tx, input, now, { id: reservationId, maxTokens, fundedBy, allowanceTokens, creditTokens, cap });
          }
        }
        if (balance > 0n) {
          throw new AppError('credits_exhausted', 'Your monthly tokens are used up and your credits do not cover this message. Top up or upgrade.', {
            upgrade: true,
            resetAt: input.month.end,
          });
        }
      }
      if (fundedBy === 'none') {
        throw exhausted(
          input.user.isGuest
            ? 'The guest allowance is used up. Sign up to keep chatting.'
            : `You have used this month's ${limits.tokensPerMonth.toLocaleString('en-US')} tokens. Upgrade or buy a credit pack to keep chatting.`,
          input.month.end,
        );
      }
      return this.finishReservation(tx, input, now, { id: randomUUID(), maxTokens, fundedBy, allowanceTokens, creditTokens, cap });
    });
  }

  private async finishReservation(
    tx: Tx,
    input: ReserveChatInput,
    now: Date,
    r: { id: string; maxTokens: number; fundedBy: ChatReservation['fundedBy']; allowanceTokens: bigint; creditTokens: bigint; cap: bigint | null },
  ): Promise<ChatReservation> {
    const total = BigInt(input.promptTokens) + BigInt(r.maxTokens);
    const cap = r.cap ?? BigInt(input.defaultDailyTokenCap);
    if ((await tryIncrement(tx, GLOBAL_SUBJECT, COUNTER.globalTokensDay, dayStart(now), total, cap)) === null) {
      throw new AppError('global_cap', "The service has reached today's usage cap. Please try again tomorrow.", {
        retryAfterSeconds: Math.ceil((nextDay(now).getTime() - now.getTime()) / 1000),
        resetAt: nextDay(now),
      });
    }

    // The conversation: new, or the user's own and not over the plan's length.
    let conversationId = input.conversation.id;
    if (conversationId) {
      const { count } = await tx.conversation.updateMany({
        where: {
          id: conversationId,
          userId: input.user.id,
          deletedAt: null,
          messageCount: { lte: input.conversation.maxMessages - 2 },
        },
        data: { messageCount: { increment: 1 }, updatedAt: now },
      });
      if (count !== 1) {
        const exists = await tx.conversation.findFirst({ where: { id: conversationId, userId: input.user.id, deletedAt: null }, select: { id: true } });
        if (!exists) throw new AppError('not_found', 'That conversation does not exist.');
        throw new AppError('conversation_too_long', `This conversation has reached ${input.conversation.maxMessages} messages. Start a new one.`);
      }
    } else {
      const created = await tx.conversation.create({
        data: { userId: input.user.id, title: input.conversation.title, model: input.model, messageCount: 1, createdAt: now, updatedAt: now },
        select: { id: true },
      });
      conversationId = created.id;
    }
    const message = await tx.message.create({
      data: { conversationId, userId: input.user.id, role: 'user', content: input.conversation.userContent, createdAt: now },
      select: { id: true },
    });
    await tx.reservation.create({
      data: {
        id: r.id,
        userId: input.user.id,
        kind: 'chat',
        model: input.model,
        allowanceTokens: r.allowanceTokens,
        creditTokens: r.creditTokens,
        globalTokens: total,
        monthPeriodStart: input.month.start,
        dayPeriodStart: dayStart(now),
        requestId: input.requestId,
        conversationId,
        expiresAt: new Date(now.getTime() + RESERVATION_TTL_MS),
        createdAt: now,
      },
      select: { id: true },
    });
    return { id: r.id, maxTokens: r.maxTokens, conversationId, userMessageId: message.id, fundedBy: r.fundedBy };
  }

  /**
   * Settles a reservation with what was really used (idempotent: a second call
   * finds it settled and returns null). Unused tokens go back to the allowance or
   * the credits; an overrun is charged as far as the credits go.
   */
  async settleChat(input: SettleChatInput): Promise<SettledChat | null> {
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<
        { user_id: string; allowance_tokens: bigint; credit_tokens: bigint; global_tokens: bigint; month_period_start: Date; day_period_start: Date; conversation_id: string | null; request_id: string | null; created_at: Date }[]
      >(Prisma.sql`
        UPDATE reservations SET status = 'settled', settled_at = now()
         WHERE id = ${input.reservationId}::uuid AND status = 'held'
        RETURNING user_id, allowance_tokens, credit_tokens, global_tokens, month_period_start, day_period_start, conversation_id, request_id, created_at`);
      const r = rows[0];
      if (!r) return null;
      const subject = userSubject(r.user_id);
      const used = BigInt(input.promptTokens + input.completionTokens);

      let creditTokens = 0n;
      if (r.allowance_tokens > 0n) {
        await adjust(tx, subject, COUNTER.tokensMonth, r.month_period_start, used - r.allowance_tokens);
      }
      if (r.credit_tokens > 0n) {
        const change = { userId: r.user_id, reservationId: input.reservationId, reason: 'chat settlement' };
        if (used < r.credit_tokens) {
          await addCredits(tx, { ...change, kind: 'spend_release' }, r.credit_tokens - used);
          creditTokens = used;
        } else {
          creditTokens = r.credit_tokens + (await takeCreditsUpTo(tx, { ...change, kind: 'spend' }, used - r.credit_tokens));
        }
      }
      await adjust(tx, GLOBAL_SUBJECT, COUNTER.globalTokensDay, r.day_period_start, used - r.global_tokens);
      if (input.refundMessage) {
        const at = new Date(r.created_at);
        await adjust(tx, subject, COUNTER.messagesHour, hourStart(at), -1);
        await adjust(tx, subject, COUNTER.messagesDay, dayStart(at), -1);
        if (input.isGuest) await adjust(tx, ipSubject(input.ipHash), COUNTER.messagesDay, dayStart(at), -1);
      }

      const cost = costMicroUsd(
        { promptTokens: input.promptTokens, completionTokens: input.completionTokens, cachedPromptTokens: Math.min(input.cachedTokens, input.promptTokens) },
        input.price,
      );
      const event = await tx.usageEvent.create({
        data: {
          userId: r.user_id,
          isGuest: input.isGuest,
          kind: 'chat',
          model: input.model,
          promptTokens: input.promptTokens,
          completionTokens: input.completionTokens,
          cachedTokens: input.cachedTokens,
          costMicroUsd: BigInt(cost),
          creditTokens,
          latencyMs: input.latencyMs,
          status: input.status,
          estimated: input.estimated,
          requestId: r.request_id,
          conversationId: r.conversation_id,
          reservationId: input.reservationId,
          ipHash: input.ipHash,
        },
        select: { id: true },
      });
      if (r.conversation_id && input.assistant && (input.assistant.content.length > 0 || input.status === 'ok')) {
        await tx.message.create({
          data: {
            id: input.assistant.messageId,
            conversationId: r.conversation_id,
            userId: r.user_id,
            role: 'assistant',
            content: input.assistant.content,
            model: input.model,
            status: input.status,
            usageEventId: event.id,
          },
          select: { id: true },
        });
        await tx.conversation.updateMany({ where: { id: r.conversation_id }, data: { messageCount: { increment: 1 }, updatedAt: new Date() } });
      }
      return { usageEventId: event.id, costMicroUsd: cost, creditTokens };
    });
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
