// Voice on the same ledger as chat: the plan's daily characters are the
// COUNTER.ttsCharsDay counter, taken by a conditional increment before any
// synthesis and given back if the synthesis fails. Every path is one transaction:
// a cache hit charges, records and grants access at once; a synthesis reserves
// first and then settles (clip, usage event, access) or releases.
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';
import { adjust, COUNTER, tryIncrement, userSubject, type Tx } from './counters.ts';
import { dayStart, monthStart, nextDay } from './periods.ts';
import type { UsageStatus } from './meter.ts';

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
      { resetAt, upgrade: true, retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000)) },
    );
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
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO spoken_messages (message_id, clip_id, user_id)
      VALUES (${input.messageId}::uuid, ${clipId}::uuid, ${input.userId}::uuid)
      ON CONFLICT (message_id, clip_id) DO NOTHING`);
  }

  /**
   * A cache hit: the characters count (the allowance is what a user consumes), the
   * event costs nothing and took no synthesis. Null when the clip was evicted in the
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

  /** Takes the characters before the worker is asked; settle or release afterwards. */
  async reserve(input: TtsCharge, ttlMs: number): Promise<string> {
    const now = input.now ?? new Date();
    return this.prisma.$transaction(async (tx) => {
      await this.take(tx, input, now);
      const id = randomUUID();
      await tx.reservation.create({
        data: {
          id,
          userId: input.userId,
          kind: 'tts',
          ttsChars: input.chars,
          monthPeriodStart: monthStart(now),
          dayPeriodStart: dayStart(now),
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
      const held = await tx.$queryRaw<{ id: string }[]>(Prisma.sql`
        UPDATE reservations SET status = 'settled', settled_at = now()
         WHERE id = ${reservationId}::uuid AND status = 'held' RETURNING id::text AS id`);
      if (!held[0]) {
        // Released by the expiry sweep while the worker was still busy: the audio
        // exists and was delivered, so the characters count after all.
        await adjust(tx, userSubject(input.userId), COUNTER.ttsCharsDay, dayStart(input.now ?? new Date()), input.chars);
        await tx.$executeRaw(Prisma.sql`UPDATE reservations SET status = 'settled', settled_at = now() WHERE id = ${reservationId}::uuid`);
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
      const rows = await tx.$queryRaw<{ tts_chars: number; day_period_start: Date }[]>(Prisma.sql`
        UPDATE reservations SET status = 'released', settled_at = now()
         WHERE id = ${reservationId}::uuid AND status = 'held' RETURNING tts_chars, day_period_start`);
      const r = rows[0];
      if (!r) return;
      await adjust(tx, userSubject(input.userId), COUNTER.ttsCharsDay, r.day_period_start, -r.tts_chars);
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

  /** Gives back the characters of voice reservations a crashed process never settled. */
  async releaseExpired(now = new Date()): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ user_id: string; tts_chars: number; day_period_start: Date }[]>(Prisma.sql`
        UPDATE reservations SET status = 'released', settled_at = now()
         WHERE kind = 'tts' AND status = 'held' AND expires_at < ${now}::timestamptz
        RETURNING user_id::text AS user_id, tts_chars, day_period_start`);
      for (const r of rows) await adjust(tx, userSubject(r.user_id), COUNTER.ttsCharsDay, r.day_period_start, -r.tts_chars);
      return rows.length;
    });
  }
}
