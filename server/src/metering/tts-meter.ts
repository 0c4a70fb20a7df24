// Voice on the same ledger as chat: the plan's daily characters are the
// COUNTER.ttsCharsDay counter, taken by a conditional increment before any
// synthesis and given back if the synthesis fails. Every path is one transaction:
// a cache hit charges, records and grants access at once; a synthesis reserves
// first and then settles (clip, usage event, access) or releases. A priced engine's
// synthesis records its cost in micro-USD in the usage event (as chat does), so it
// shows wherever chat cost does; a cache hit and a failure cost nothing. Its cost is
// also held, like a chat reply's worst case, on the global dollar caps
// (global_cost_day / global_cost_month), on the plan's dollar cap (cost_month, the
// plan's allowance: credits are tokens and pay for chat only, so past the plan's cap
// a paid clip is refused) and on the user's spend_month (the personal limit), each by
// a conditional increment; settlement adjusts the hold to the real cost, a release or
// the expiry sweep gives it back.
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';
import { adjust, COUNTER, GLOBAL_SUBJECT, read, tryIncrement, userSubject, type Tx } from './counters.ts';
import { calendarMonth, dayStart, monthStart, nextDay, nextMonth, type MonthPeriod } from './periods.ts';
import { globalCapRefusal, type UsageStatus } from './meter.ts';

/** No limit, for cm_counter_try (the largest bigint), as cm_reserve_chat's c_none. */
const NO_LIMIT = 9_223_372_036_854_775_807n;

/** What a priced engine's reservation checks besides the plan's characters; the caps' defaults are the environment's. */
export interface TtsSpend {
  /** MAX_TOKENS_PER_DAY. */
  defaultDailyTokenCap: number;
  /** MAX_COST_PER_DAY_USD / MAX_COST_PER_MONTH_USD in micro-USD; absent: no cap unless the admin set one. */
  defaultCostPerDayMicroUsd?: number | undefined;
  defaultCostPerMonthMicroUsd?: number | undefined;
  /** The plan's limits.costPerMonthMicroUsd (null: no cap): voice spends the plan's dollars as chat does. */
  planCostPerMonthMicroUsd?: number | null | undefined;
}

/** What a voice reservation holds on the dollar counters, and in which periods (its reservations row). */
interface HeldCost {
  user_id: string;
  cost_micro_usd: bigint;
  /** The part of it on the plan's cap (cost_month); 0 for holds made before voice counted there. */
  plan_cost_micro_usd: bigint;
  month_period_start: Date;
  day_period_start: Date;
  global_month_start: Date | null;
}

export interface TtsCharge {
  userId: string;
  isGuest: boolean;
  planName: string;
  /** The plan's ttsCharsPerDay. */
  limit: number;
  chars: number;
  requestId: string;
  conversationId: string;
  messageId: string;
  /** What the synthesis costs in dollars (0 for a free engine); recorded when it settles. */
  costMicroUsd: number;
  /**
   * Set for a priced engine: the reservation passes the admin's kill switch and the global
   * daily token cap, and holds its cost on the global dollar caps and the personal limit.
   */
  spend?: TtsSpend | undefined;
  /** The user's billing month (the personal limit's period, as chat's); absent: the calendar month. */
  month?: MonthPeriod | undefined;
  /**
   * One sentence of a reply read aloud as it streams (tts/reply-speech.ts): access is granted
   * through sentence_clips at this place of the message, which may not be stored yet.
   */
  sentence?: { index: number } | undefined;
  now?: Date;
}

export interface ClipRecord {
  cacheKey: string;
  voice: string;
  engine: string;
  format: string;
  mime: string;
  bytes: number;
  durationMs: number;
  chars: number;
  synthesisMs: number;
}

export interface CachedClip {
  id: string;
  durationMs: number;
  mime: string;
  format: string;
}

export class TtsMeter {
  constructor(private readonly prisma: PrismaClient) {}

  private async take(tx: Tx, input: TtsCharge, now: Date): Promise<void> {
    const added = await tryIncrement(tx, userSubject(input.userId), COUNTER.ttsCharsDay, dayStart(now), input.chars, input.limit);
    if (added !== null) return;
    const resetAt = nextDay(now);
    throw new AppError(
      'quota_exhausted',
      input.isGuest
        ? `Guests can have ${input.limit.toLocaleString('en-US')} characters read aloud a day; this answer does not fit in what is left. Sign up for more.`
        : `You have used today's ${input.limit.toLocaleString('en-US')} characters of voice on the ${input.planName} plan; this answer does not fit in what is left.`,
      { limit: 'ttsCharsPerDay', resetAt, upgrade: true, retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000)) },
    );
  }

  /**
   * The admin's controls over spending (app_settings), as the chat reservation applies them
   * (cm_reserve_chat): the kill switch refuses, and so does a global daily token cap that
   * today's chat has reached (voice dollars are not tokens, so they do not add to that
   * counter; the cap stops paid voice together with chat). Returns the dollar caps in force
   * (null: none).
   */
  private async checkSpend(tx: Tx, spend: TtsSpend, now: Date): Promise<{ costDay: bigint | null; costMonth: bigint | null }> {
    const settings = await tx.$queryRaw<
      { kill_switch: boolean; max_tokens_per_day: bigint | null; max_cost_per_day_micro_usd: bigint | null; max_cost_per_month_micro_usd: bigint | null }[]
    >(Prisma.sql`
      SELECT kill_switch, max_tokens_per_day, max_cost_per_day_micro_usd, max_cost_per_month_micro_usd FROM app_settings WHERE id = 1`);
    const row = settings[0];
    if (row?.kill_switch) throw new AppError('kill_switch', 'Voice is paused by the administrator. Please try again later.');
    const cap = row?.max_tokens_per_day ?? BigInt(spend.defaultDailyTokenCap);
    if ((await read(tx, GLOBAL_SUBJECT, COUNTER.globalTokensDay, dayStart(now))) >= cap) {
      throw globalCapRefusal('globalTokensPerDay', "The service has reached today's usage cap. Please try again tomorrow.", nextDay(now), now);
    }
    const orDefault = (own: bigint | null | undefined, fallback: number | undefined) => own ?? (fallback === undefined ? null : BigInt(fallback));
    return {
      costDay: orDefault(row?.max_cost_per_day_micro_usd, spend.defaultCostPerDayMicroUsd),
      costMonth: orDefault(row?.max_cost_per_month_micro_usd, spend.defaultCostPerMonthMicroUsd),
    };
  }

  /**
   * Holds a clip's cost where chat holds a reply's (cm_reserve_chat): the plan's cost_month
   * (conditional on the plan's dollar cap), the user's spend_month (conditional on the personal
   * limit; guests have none), then the global day and month caps. A refusal throws, and the
   * transaction rolls back whatever was taken before it.
   */
  private async holdCost(
    tx: Tx,
    input: TtsCharge,
    caps: { costDay: bigint | null; costMonth: bigint | null },
    periods: { day: Date; month: MonthPeriod; globalMonth: Date },
    now: Date,
  ): Promise<void> {
    const cost = BigInt(input.costMicroUsd);
    if (cost <= 0n) return;
    const planCap = input.spend?.planCostPerMonthMicroUsd ?? null;
    if (
      (await tryIncrement(tx, userSubject(input.userId), COUNTER.costMonth, periods.month.start, cost, planCap === null ? NO_LIMIT : BigInt(planCap))) === null
    ) {
      const resetAt = periods.month.end;
      throw new AppError(
        'quota_exhausted',
        `Reading this answer aloud would pass what the ${input.planName} plan may spend this month. It resets when your next billing period starts.`,
        { limit: 'costPerMonth', resetAt, retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000)), upgrade: true },
      );
    }
    let personal: bigint | null = null;
    if (!input.isGuest) {
      const prefs = await tx.$queryRaw<{ limit: bigint | null }[]>(Prisma.sql`
        SELECT monthly_spend_limit_micro_usd AS "limit" FROM user_preferences WHERE user_id = ${input.userId}::uuid`);
      personal = prefs[0]?.limit ?? null;
    }
    if ((await tryIncrement(tx, userSubject(input.userId), COUNTER.spendMonth, periods.month.start, cost, personal ?? NO_LIMIT)) === null) {
      const resetAt = periods.month.end;
      throw new AppError('quota_exhausted', 'Reading this answer aloud would pass the monthly spending limit you set. Raise or remove it on the Usage page.', {
        limit: 'personalSpendLimit',
        resetAt,
        retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000)),
        upgrade: false,
      });
    }
    if ((await tryIncrement(tx, GLOBAL_SUBJECT, COUNTER.globalCostDay, periods.day, cost, caps.costDay ?? NO_LIMIT)) === null) {
      throw globalCapRefusal('globalCostPerDay', "The service has reached today's spending cap. Please try again tomorrow.", nextDay(now), now);
    }
    if ((await tryIncrement(tx, GLOBAL_SUBJECT, COUNTER.globalCostMonth, periods.globalMonth, cost, caps.costMonth ?? NO_LIMIT)) === null) {
      throw globalCapRefusal('globalCostPerMonth', "The service has reached this month's spending cap. Please try again next month.", nextMonth(now), now);
    }
  }

  /** Moves what a reservation holds on the dollar counters by `delta` (the real cost minus the hold, or minus the hold to release it). */
  private async moveCost(tx: Tx, held: HeldCost, delta: bigint): Promise<void> {
    if (delta === 0n) return;
    if (held.plan_cost_micro_usd > 0n) await adjust(tx, userSubject(held.user_id), COUNTER.costMonth, held.month_period_start, delta);
    await adjust(tx, userSubject(held.user_id), COUNTER.spendMonth, held.month_period_start, delta);
    await adjust(tx, GLOBAL_SUBJECT, COUNTER.globalCostDay, held.day_period_start, delta);
    // Rows from before the wallet held no cost (delta 0 above), so they never get here without a month.
    if (held.global_month_start) await adjust(tx, GLOBAL_SUBJECT, COUNTER.globalCostMonth, held.global_month_start, delta);
  }

  private async grant(tx: Tx, clipId: string, input: TtsCharge): Promise<void> {
    // The conversation may have been deleted while the worker spoke: then there is
    // nothing to grant, and the whole charge rolls back. FOR SHARE orders this
    // against the deletion (chat/conversation-deletion.ts): whichever commits
    // second sees the other, so no grant outlives its conversation.
    const live = await tx.$queryRaw<{ id: string }[]>(Prisma.sql`
      SELECT c.id::text AS id FROM conversations c
       WHERE c.id = ${input.conversationId}::uuid AND c.user_id = ${input.userId}::uuid AND c.deleted_at IS NULL
       FOR SHARE`);
    if (!live[0]) throw new AppError('not_found', 'That message does not exist.');
    if (input.sentence) {
      await tx.$executeRaw(Prisma.sql`
        INSERT INTO sentence_clips (message_id, idx, clip_id, user_id, conversation_id, chars)
        VALUES (${input.messageId}::uuid, ${input.sentence.index}, ${clipId}::uuid, ${input.userId}::uuid, ${input.conversationId}::uuid, ${input.chars})
        ON CONFLICT (message_id, idx) DO UPDATE SET clip_id = EXCLUDED.clip_id, chars = EXCLUDED.chars`);
      return;
    }
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO spoken_messages (message_id, clip_id, user_id)
      VALUES (${input.messageId}::uuid, ${clipId}::uuid, ${input.userId}::uuid)
      ON CONFLICT (message_id, clip_id) DO NOTHING`);
  }

  /**
   * A cache hit: the characters count (the allowance is what a user consumes), the
   * event costs nothing (no engine was paid) and took no synthesis. Null when the clip was evicted in the
   * meantime (nothing charged; the caller synthesizes instead).
   */
  async chargeCached(input: TtsCharge, clipId: string): Promise<CachedClip | null> {
    const now = input.now ?? new Date();
    return this.prisma.$transaction(async (tx) => {
      // Touching the row first also keeps a concurrent eviction (which deletes only
      // rows not used since it looked) from removing it under us.
      const rows = await tx.$queryRaw<{ id: string; duration_ms: number; mime: string; format: string; engine: string }[]>(Prisma.sql`
        UPDATE audio_clips SET last_used_at = ${now}::timestamptz WHERE id = ${clipId}::uuid
        RETURNING id::text AS id, duration_ms, mime, format, engine`);
      const clip = rows[0];
      if (!clip) return null;
      await this.take(tx, input, now);
      await tx.usageEvent.create({
        data: {
          userId: input.userId,
          isGuest: input.isGuest,
          kind: 'tts',
          model: clip.engine,
          ttsChars: input.chars,
          synthesisMs: 0,
          latencyMs: 0,
          status: 'cached',
          requestId: input.requestId,
          conversationId: input.conversationId,
          createdAt: now,
        },
        select: { id: true },
      });
      await this.grant(tx, clip.id, input);
      return { id: clip.id, durationMs: clip.duration_ms, mime: clip.mime, format: clip.format };
    });
  }

  /** Takes the characters (and a priced clip's cost) before the worker is asked; settle or release afterwards. */
  async reserve(input: TtsCharge, ttlMs: number): Promise<string> {
    const now = input.now ?? new Date();
    const periods = { day: dayStart(now), month: input.month ?? calendarMonth(now), globalMonth: monthStart(now) };
    return this.prisma.$transaction(async (tx) => {
      const caps = input.spend ? await this.checkSpend(tx, input.spend, now) : null;
      await this.take(tx, input, now);
      if (caps) await this.holdCost(tx, input, caps, periods, now);
      const held = caps ? input.costMicroUsd : 0;
      const id = randomUUID();
      await tx.reservation.create({
        data: {
          id,
          userId: input.userId,
          kind: 'tts',
          ttsChars: input.chars,
          monthPeriodStart: periods.month.start,
          dayPeriodStart: periods.day,
          costMicroUsd: BigInt(held),
          planCostMicroUsd: BigInt(held),
          globalMonthStart: periods.globalMonth,
          requestId: input.requestId,
          conversationId: input.conversationId,
          expiresAt: new Date(now.getTime() + ttlMs),
          createdAt: now,
        },
        select: { id: true },
      });
      return id;
    });
  }

  /** The synthesis worked: store the clip (or find the one a concurrent request stored), record, grant. Returns the clip id. */
  async settle(reservationId: string, input: TtsCharge, clip: ClipRecord, latencyMs: number): Promise<string> {
    return this.prisma.$transaction(async (tx) => {
      const held = await tx.$queryRaw<HeldCost[]>(Prisma.sql`
        UPDATE reservations SET status = 'settled', settled_at = now()
         WHERE id = ${reservationId}::uuid AND status = 'held'
        RETURNING user_id::text AS user_id, cost_micro_usd, plan_cost_micro_usd, month_period_start, day_period_start, global_month_start`);
      const cost = BigInt(input.costMicroUsd);
      if (held[0]) {
        // The hold becomes the real cost (a priced engine's; nothing was held for a free one).
        if (held[0].cost_micro_usd > 0n) await this.moveCost(tx, held[0], cost - held[0].cost_micro_usd);
      } else {
        // Released by the expiry sweep while the worker was still busy: the audio
        // exists and was delivered, so the characters (and the dollars the sweep gave back) count after all.
        await adjust(tx, userSubject(input.userId), COUNTER.ttsCharsDay, dayStart(input.now ?? new Date()), input.chars);
        const released = await tx.$queryRaw<HeldCost[]>(Prisma.sql`
          UPDATE reservations SET status = 'settled', settled_at = now() WHERE id = ${reservationId}::uuid
          RETURNING user_id::text AS user_id, cost_micro_usd, plan_cost_micro_usd, month_period_start, day_period_start, global_month_start`);
        if (released[0] && released[0].cost_micro_usd > 0n) await this.moveCost(tx, released[0], cost);
      }
      const stored = await tx.$queryRaw<{ id: string }[]>(Prisma.sql`
        INSERT INTO audio_clips (id, cache_key, voice, engine, format, mime, bytes, duration_ms, chars, synthesis_ms)
        VALUES (${randomUUID()}::uuid, ${clip.cacheKey}, ${clip.voice}, ${clip.engine}, ${clip.format}, ${clip.mime},
                ${clip.bytes}, ${clip.durationMs}, ${clip.chars}, ${clip.synthesisMs})
        ON CONFLICT (cache_key) DO UPDATE
           SET last_used_at = now(), bytes = EXCLUDED.bytes, duration_ms = EXCLUDED.duration_ms, mime = EXCLUDED.mime
        RETURNING id::text AS id`);
      const clipId = stored[0]!.id;
      await tx.usageEvent.create({
        data: {
          userId: input.userId,
          isGuest: input.isGuest,
          kind: 'tts',
          model: clip.engine,
          ttsChars: input.chars,
          costMicroUsd: BigInt(input.costMicroUsd),
          synthesisMs: clip.synthesisMs,
          latencyMs,
          status: 'ok',
          requestId: input.requestId,
          conversationId: input.conversationId,
          reservationId,
        },
        select: { id: true },
      });
      await this.grant(tx, clipId, input);
      return clipId;
    });
  }

  /** The synthesis failed or was cancelled: the characters go back; the attempt is recorded at no charge. */
  async release(reservationId: string, input: TtsCharge, status: Extract<UsageStatus, 'error' | 'aborted'>, latencyMs: number): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<(HeldCost & { tts_chars: number })[]>(Prisma.sql`
        UPDATE reservations SET status = 'released', settled_at = now()
         WHERE id = ${reservationId}::uuid AND status = 'held'
        RETURNING user_id::text AS user_id, tts_chars, cost_micro_usd, plan_cost_micro_usd, month_period_start, day_period_start, global_month_start`);
      const r = rows[0];
      if (!r) return;
      await adjust(tx, userSubject(input.userId), COUNTER.ttsCharsDay, r.day_period_start, -r.tts_chars);
      await this.moveCost(tx, r, -r.cost_micro_usd);
      await tx.usageEvent.create({
        data: {
          userId: input.userId,
          isGuest: input.isGuest,
          kind: 'tts',
          ttsChars: 0,
          latencyMs,
          status,
          requestId: input.requestId,
          conversationId: input.conversationId,
          reservationId,
        },
        select: { id: true },
      });
    });
  }

  /** Gives back the characters and held dollars of voice reservations a crashed process never settled. */
  async releaseExpired(now = new Date()): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<(HeldCost & { tts_chars: number })[]>(Prisma.sql`
        UPDATE reservations SET status = 'released', settled_at = now()
         WHERE kind = 'tts' AND status = 'held' AND expires_at < ${now}::timestamptz
        RETURNING user_id::text AS user_id, tts_chars, cost_micro_usd, plan_cost_micro_usd, month_period_start, day_period_start, global_month_start`);
      for (const r of rows) {
        await adjust(tx, userSubject(r.user_id), COUNTER.ttsCharsDay, r.day_period_start, -r.tts_chars);
        await this.moveCost(tx, r, -r.cost_micro_usd);
      }
      return rows.length;
    });
  }
}
