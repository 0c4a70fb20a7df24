// Reading an assistant answer aloud, in order: rate limit, ownership, plan,
// voice, cache lookup; then either a cache hit (charged and recorded in one
// transaction, no synthesis) or reserve -> engine -> settle / release. The engine
// is the built-in worker (a separate process or fleet) or an OpenAI-compatible
// speech server (TTS_ENGINE); when it is busy or down only voice is refused, chat
// does not depend on it. A priced engine's clips cost micro-USD, recorded in their
// usage events, and its syntheses obey the kill switch and the global daily token cap,
// and count toward the global dollar caps and the user's personal spending limit.
import path from 'node:path';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { TPlan } from '@chatmeter/shared/plans';
import { speechChars, speechSentences, spellNumber } from '@chatmeter/shared/speech-text';
import { countTtsChars } from '@chatmeter/shared/tts';
import { ttsCostMicroUsd } from '@chatmeter/shared/money';
import { findTtsModelPrice, type TTtsPricingTable } from '@chatmeter/shared/pricing';
import type { TTtsSpeakInput, TTtsSpeakOutput, TTtsVoices } from '@chatmeter/shared/tts';
import type { ServerEnv } from '../env.ts';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';
import type { MonthFor, MonthPeriod } from '../metering/periods.ts';
import { TtsMeter, type TtsCharge } from '../metering/tts-meter.ts';
import type { PlanSubject } from '../plans/plan-resolver.ts';
import type { Limiters } from '../rate-limit/limiters.ts';
import { AudioCache, clipCacheKey } from './audio-cache.ts';
import { OpenAiSpeechClient } from './openai-speech-client.ts';
import { type SynthesisResult, TtsClient, TtsWorkerError, type SpeechEngine, type TtsFormat, type TtsPriority, type TtsWorkerTarget } from './tts-client.ts';

export interface TtsUser extends PlanSubject {
  id: string;
  /** From the session lookup: a live subscription (then the month is Stripe's period). */
  subscribed?: boolean | undefined;
}

export interface TtsServiceOptions {
  prisma: PrismaClient;
  logger: Logger;
  limiters: Limiters;
  client: SpeechEngine;
  cache: AudioCache;
  planFor: (user: PlanSubject) => TPlan;
  defaultVoice: string;
  format: TtsFormat;
  /** The engine's price (micro-USD per million characters); 0 or absent: free in dollars. */
  microsPerMillionChars?: number;
  /** MAX_TOKENS_PER_DAY: the global daily cap when the admin has not set one. */
  defaultDailyTokenCap: number;
  /** MAX_COST_PER_DAY_USD / MAX_COST_PER_MONTH_USD in micro-USD: the global dollar caps when the admin has not set them; absent: none. */
  defaultCostPerDayMicroUsd?: number | undefined;
  defaultCostPerMonthMicroUsd?: number | undefined;
  /** The user's billing month (billing's monthFor), the personal limit's period; absent: the calendar month. */
  monthFor?: MonthFor | undefined;
}

/** Requests per minute and user; the daily characters are the real limit, this only stops hammering. */
const SPEAK_PER_MINUTE = 30;
const SWEEP_EVERY_MS = 5 * 60 * 1000;

/** Paid plans go first in the worker's queue, then free, then guests. */
export function priorityFor(user: { isGuest: boolean }, plan: TPlan): TtsPriority {
  if (user.isGuest || plan.id === 'guest') return 'guest';
  return plan.priceMonthlyCents > 0 ? 'paid' : 'free';
}

export class TtsService {
  readonly meter: TtsMeter;
  private lastSweep = 0;
  private warnedDefaultVoice = false;

  constructor(private readonly options: TtsServiceOptions) {
    this.meter = new TtsMeter(options.prisma);
    void options.cache.removeStaleTemp();
  }

  get cache(): AudioCache {
    return this.options.cache;
  }

  async voices(): Promise<TTtsVoices> {
    const info = await this.workerCall(() => this.options.client.voices());
    return {
      voices: info.voices,
      defaultVoice: this.pickDefault(info.voices.map((v) => v.id)),
      engine: info.engine,
      microsPerMillionChars: this.options.microsPerMillionChars ?? 0,
    };
  }

  private pickDefault(ids: string[]): string {
    if (ids.includes(this.options.defaultVoice) || ids.length === 0) return this.options.defaultVoice;
    if (!this.warnedDefaultVoice) {
      this.warnedDefaultVoice = true;
      this.options.logger.warn({ voice: this.options.defaultVoice, using: ids[0] }, 'TTS_DEFAULT_VOICE is not offered by the worker');
    }
    return ids[0]!;
  }

  async speak(user: TtsUser, input: TTtsSpeakInput, request: { requestId: string; signal?: AbortSignal | undefined }): Promise<TTtsSpeakOutput> {
    const o = this.options;
    this.sweepNow();
    await o.limiters.consume('ttsSpeak', user.id, {
      spec: { points: SPEAK_PER_MINUTE, duration: 60 },
      message: `You can start ${SPEAK_PER_MINUTE} readings a minute. Please wait a moment.`,
    });

    // Someone else's message does not exist, as far as this user can tell.
    const message = await o.prisma.message.findFirst({
      where: { id: input.messageId, userId: user.id },
      select: { role: true, content: true, conversationId: true },
    });
    const visible =
      message && (await o.prisma.conversation.findFirst({ where: { id: message.conversationId, userId: user.id, deletedAt: null }, select: { id: true } }));
    if (!message || !visible) throw new AppError('not_found', 'That message does not exist.');
    if (message.role !== 'assistant') throw new AppError('invalid_input', "Only the assistant's answers can be read aloud.");
    const text = message.content;
    if (!text.trim()) throw new AppError('invalid_input', 'This answer has nothing to read aloud.');

    const plan = o.planFor(user);
    const limit = plan.limits.ttsCharsPerDay;
    if (limit === 0) throw new AppError('quota_exhausted', `Reading aloud is not part of the ${plan.name} plan.`, { upgrade: true });

    // The last known voice list keeps cache hits working while the worker restarts.
    const workerVoices = await this.workerCall(() => o.client.voices({ allowStale: true }));
    const ids = workerVoices.voices.map((v) => v.id);
    const voice = input.voice ?? this.pickDefault(ids);
    if (!ids.includes(voice)) throw new AppError('invalid_input', `There is no voice "${voice}". Pick one from the list.`);

    // Charged on what is spoken, with the worker's own text preparation: numbers are
    // spelled out ("1234567" is 69 characters of speech, not 7), markup and code are not
    // read. The whole amount is reserved before the worker is asked.
    const language = workerVoices.voices.find((v) => v.id === voice)?.language ?? voice;
    const chars = speechChars(text, { language });
    if (chars === 0) throw new AppError('invalid_input', 'There is nothing in this answer that can be read aloud.');
    if (chars > limit) {
      throw new AppError(
        'quota_exhausted',
        `Read aloud, this answer is ${chars.toLocaleString('en-US')} characters; the ${plan.name} plan reads up to ${limit.toLocaleString('en-US')} a day.`,
        { upgrade: true },
      );
    }

    const format = o.format;
    const month = await this.monthOf(user);

    // Read aloud as it streamed: its sentence clips are reused without a second charge.
    const streamed = await this.fromSentences(user, plan, {
      text,
      language,
      voice,
      engine: workerVoices.engine,
      month,
      request,
      conversationId: message.conversationId,
      messageId: input.messageId,
    });
    if (streamed) return streamed;

    const charge = this.chargeFor(user, plan, {
      chars,
      month,
      requestId: request.requestId,
      conversationId: message.conversationId,
      messageId: input.messageId,
    });

    // Cache hit: no synthesis, but the characters count (docs/tts-worker.md, "Cache policy").
    const cacheKey = clipCacheKey({ engine: workerVoices.engine, voice, format, text });
    const known = await o.prisma.audioClip.findUnique({ where: { cacheKey }, select: { id: true, format: true } });
    if (known && (await o.cache.has(known.id, known.format))) {
      const hit = await this.meter.chargeCached(charge, known.id);
      if (hit) return oneClip({ audioUrl: audioUrl(hit.id), durationMs: hit.durationMs, chars, voice, mime: hit.mime, cached: true, costMicroUsd: 0 });
    }

    const reservationId = await this.meter.reserve(charge, o.client.timeoutMs + 60_000);
    const started = Date.now();
    let result: SynthesisResult;
    try {
      result = await o.client.synthesize({ text, voice, format, priority: priorityFor(user, plan), language, signal: request.signal });
    } catch (error) {
      const status = error instanceof TtsWorkerError && error.kind === 'aborted' ? 'aborted' : 'error';
      await this.meter.release(reservationId, charge, status, Date.now() - started);
      throw this.toAppError(error);
    }

    const temp = await o.cache.writeTemp(result.audio);
    let clipId: string;
    try {
      clipId = await this.meter.settle(
        reservationId,
        charge,
        {
          // Keyed by the engine that really spoke: behind a load balancer during an upgrade it may differ from /voices.
          cacheKey: clipCacheKey({ engine: result.engine, voice, format, text }),
          voice,
          engine: result.engine,
          format,
          mime: result.mime,
          bytes: result.audio.byteLength,
          durationMs: result.durationMs,
          chars,
          synthesisMs: result.synthesisMs,
        },
        Date.now() - started,
      );
      await o.cache.commit(temp, clipId, format);
    } catch (error) {
      await o.cache.discard(temp);
      await this.meter.release(reservationId, charge, 'error', Date.now() - started).catch(() => {});
      throw error;
    }
    void o.cache.evict(clipId).catch((error: Error) => o.logger.error({ err: error.message }, 'audio cache eviction failed'));
    return oneClip({
      audioUrl: audioUrl(clipId),
      durationMs: result.durationMs,
      chars,
      voice,
      mime: result.mime,
      cached: false,
      costMicroUsd: charge.costMicroUsd,
    });
  }

  /** The user's billing month for a priced engine's personal limit; undefined for a free engine (not needed). */
  private async monthOf(user: TtsUser): Promise<MonthPeriod | undefined> {
    const o = this.options;
    return (o.microsPerMillionChars ?? 0) > 0 && o.monthFor ? o.monthFor(user.id, new Date(), { subscribed: user.subscribed }) : undefined;
  }

  /** What one synthesis takes on the ledger: the plan's characters, and a priced engine's dollars. */
  private chargeFor(
    user: TtsUser,
    plan: TPlan,
    c: { chars: number; month: MonthPeriod | undefined; requestId: string; conversationId: string; messageId: string; sentence?: { index: number } },
  ): TtsCharge {
    const o = this.options;
    const price = o.microsPerMillionChars ?? 0;
    return {
      // What the engine bills for this text, rounded up once (money.ts); 0 for a free engine.
      costMicroUsd: ttsCostMicroUsd(c.chars, price),
      // A priced engine spends money: its syntheses pass the kill switch and the global token cap,
      // and hold their cost on the plan's dollar cap, the personal limit (both in the user's month)
      // and the global dollar caps.
      spend:
        price > 0
          ? {
              defaultDailyTokenCap: o.defaultDailyTokenCap,
              defaultCostPerDayMicroUsd: o.defaultCostPerDayMicroUsd,
              defaultCostPerMonthMicroUsd: o.defaultCostPerMonthMicroUsd,
              planCostPerMonthMicroUsd: plan.limits.costPerMonthMicroUsd ?? null,
            }
          : undefined,
      month: c.month,
      userId: user.id,
      isGuest: user.isGuest,
      planName: plan.name,
      limit: plan.limits.ttsCharsPerDay,
      chars: c.chars,
      requestId: c.requestId,
      conversationId: c.conversationId,
      messageId: c.messageId,
      sentence: c.sentence,
    };
  }

  /**
   * For a reply read aloud sentence by sentence as it streamed (sentence_clips): the clips in
   * order, each sentence's own clip reused at no charge when it is the same audio (engine,
   * voice, format, text); a sentence that was not spoken then (speech stopped, skipped, or
   * another voice) is spoken now and charged like any sentence. Null for a reply that was
   * not streamed with speech: tts.speak reads it as one clip.
   */
  private async fromSentences(
    user: TtsUser,
    plan: TPlan,
    m: {
      text: string;
      language: string;
      voice: string;
      engine: string;
      month: MonthPeriod | undefined;
      request: { requestId: string; signal?: AbortSignal | undefined };
      conversationId: string;
      messageId: string;
    },
  ): Promise<TTtsSpeakOutput | null> {
    const o = this.options;
    const rows = await o.prisma.$queryRaw<{ idx: number; id: string; cache_key: string; duration_ms: number; mime: string; format: string }[]>(Prisma.sql`
      SELECT s.idx, c.id::text AS id, c.cache_key, c.duration_ms, c.mime, c.format
        FROM sentence_clips s JOIN audio_clips c ON c.id = s.clip_id
       WHERE s.message_id = ${m.messageId}::uuid AND s.user_id = ${user.id}::uuid
       ORDER BY s.idx`);
    if (rows.length === 0) return null;
    const held = new Map(rows.map((r) => [r.cache_key, r]));
    const sentences = speechSentences(m.text, { language: m.language });
    const clips: { audioUrl: string; durationMs: number; mime: string }[] = [];
    let chars = 0;
    let cost = 0;
    let fresh = false;
    for (const [index, text] of sentences.entries()) {
      const count = sentenceChars(text);
      chars += count;
      const own = held.get(clipCacheKey({ engine: m.engine, voice: m.voice, format: o.format, text }));
      if (own && (await o.cache.has(own.id, own.format))) {
        clips.push({ audioUrl: audioUrl(own.id), durationMs: own.duration_ms, mime: own.mime });
        continue;
      }
      fresh = true;
      const spoken = await this.speakSentence(
        { user, plan, voice: m.voice, language: m.language, month: m.month },
        { conversationId: m.conversationId, messageId: m.messageId, index, text, requestId: m.request.requestId, signal: m.request.signal },
      ).catch((error: unknown) => {
        throw this.toAppError(error);
      });
      if ('refused' in spoken) throw spoken.refused;
      clips.push({ audioUrl: audioUrl(spoken.clipId), durationMs: spoken.durationMs, mime: spoken.mime });
      cost += spoken.costMicroUsd;
    }
    if (clips.length === 0) throw new AppError('invalid_input', 'There is nothing in this answer that can be read aloud.');
    return {
      audioUrl: clips[0]!.audioUrl,
      durationMs: clips.reduce((sum, c) => sum + c.durationMs, 0),
      clips: clips.map(({ audioUrl, durationMs }) => ({ audioUrl, durationMs })),
      chars,
      voice: m.voice,
      mime: clips[0]!.mime,
      cached: !fresh,
      costMicroUsd: cost,
    };
  }

  /**
   * What reading a reply aloud as it streams needs before its first sentence: the plan (it
   * must include voice), the voice (the user's saved preference if the engine has it, else
   * the default) and its language, the billing month. A refusal is an AppError.
   */
  async replyVoice(user: TtsUser): Promise<ReplyVoice> {
    const o = this.options;
    // Reservations of a process that died mid-reply are released here too, not only from tts.speak.
    this.sweepNow();
    const plan = o.planFor(user);
    if (plan.limits.ttsCharsPerDay === 0) {
      throw new AppError('quota_exhausted', `Reading aloud is not part of the ${plan.name} plan.`, { upgrade: true, limit: 'ttsCharsPerDay' });
    }
    const [workerVoices, saved] = await Promise.all([
      this.workerCall(() => o.client.voices({ allowStale: true })),
      o.prisma.userPreference.findUnique({ where: { userId: user.id }, select: { voice: true } }),
    ]);
    const ids = workerVoices.voices.map((v) => v.id);
    const voice = saved?.voice && ids.includes(saved.voice) ? saved.voice : this.pickDefault(ids);
    const language = workerVoices.voices.find((v) => v.id === voice)?.language ?? voice;
    return { user, plan, voice, language, month: await this.monthOf(user) };
  }

  /**
   * One sentence of a reply, at its place (`index`) in the message, start to end: see
   * reserveSentence and completeSentence (tts.speak uses it for a sentence missing from a
   * streamed reading).
   */
  async speakSentence(reply: ReplyVoice, s: SentenceJob): Promise<SpokenSentence | { refused: AppError }> {
    const ticket = await this.reserveSentence(reply, s);
    if ('refused' in ticket) return ticket;
    return this.completeSentence(reply, s, ticket);
  }

  /**
   * The ledger step of a sentence: a cached clip is charged and granted at once (its
   * characters count), else the characters (and a priced engine's dollars) are reserved. A
   * refusal (daily characters, kill switch, caps, the conversation gone) comes back as
   * `refused`: it ends the reply's speech. The reply's sentences take this step one at a
   * time, in order, so a refusal is never followed by a later sentence that fitted.
   */
  async reserveSentence(reply: ReplyVoice, s: SentenceJob): Promise<SentenceTicket | { refused: AppError }> {
    const o = this.options;
    const chars = sentenceChars(s.text);
    const charge = this.chargeFor(reply.user, reply.plan, {
      chars,
      month: reply.month,
      requestId: s.requestId,
      conversationId: s.conversationId,
      messageId: s.messageId,
      sentence: { index: s.index },
    });
    try {
      const workerVoices = await this.workerCall(() => o.client.voices({ allowStale: true }));
      const known = await o.prisma.audioClip.findUnique({
        where: { cacheKey: clipCacheKey({ engine: workerVoices.engine, voice: reply.voice, format: o.format, text: s.text }) },
        select: { id: true, format: true },
      });
      if (known && (await o.cache.has(known.id, known.format))) {
        const hit = await this.meter.chargeCached(charge, known.id);
        if (hit) return { charge, cached: { clipId: hit.id, durationMs: hit.durationMs, mime: hit.mime, chars, costMicroUsd: 0 } };
      }
      return { charge, reservationId: await this.meter.reserve(charge, o.client.timeoutMs + 60_000) };
    } catch (error) {
      if (error instanceof AppError && LEDGER_REFUSALS.has(error.reason)) return { refused: error };
      throw error;
    }
  }

  /**
   * The engine step of a reserved sentence: synthesize, then settle (clip, usage event,
   * grant) or release. An engine failure is thrown as an AppError (the sentence is skipped),
   * a cancellation as a TtsWorkerError of kind `aborted`; either way the reservation is
   * given back. A refusal while settling (the conversation was deleted) is `refused`.
   */
  async completeSentence(reply: ReplyVoice, s: SentenceJob, ticket: SentenceTicket): Promise<SpokenSentence | { refused: AppError }> {
    if (ticket.cached) return ticket.cached;
    const o = this.options;
    const { charge, reservationId } = ticket;
    if (!reservationId) throw new Error('a sentence ticket holds a cached clip or a reservation');
    const format = o.format;
    const started = Date.now();
    let result: SynthesisResult;
    try {
      s.signal?.throwIfAborted();
      result = await o.client.synthesize({
        text: s.text,
        voice: reply.voice,
        format,
        priority: priorityFor(reply.user, reply.plan),
        language: reply.language,
        signal: s.signal,
      });
    } catch (error) {
      const aborted = s.signal?.aborted || (error instanceof TtsWorkerError && error.kind === 'aborted');
      await this.meter.release(reservationId, charge, aborted ? 'aborted' : 'error', Date.now() - started);
      throw aborted ? new TtsWorkerError('aborted', 'the reply was stopped') : this.toAppError(error);
    }
    const temp = await o.cache.writeTemp(result.audio);
    let clipId: string;
    try {
      clipId = await this.meter.settle(
        reservationId,
        charge,
        {
          cacheKey: clipCacheKey({ engine: result.engine, voice: reply.voice, format, text: s.text }),
          voice: reply.voice,
          engine: result.engine,
          format,
          mime: result.mime,
          bytes: result.audio.byteLength,
          durationMs: result.durationMs,
          chars: charge.chars,
          synthesisMs: result.synthesisMs,
        },
        Date.now() - started,
      );
      await o.cache.commit(temp, clipId, format);
    } catch (error) {
      await o.cache.discard(temp);
      await this.meter.release(reservationId, charge, 'error', Date.now() - started).catch(() => {});
      if (error instanceof AppError && LEDGER_REFUSALS.has(error.reason)) return { refused: error };
      throw error;
    }
    void o.cache.evict(clipId).catch((error: Error) => o.logger.error({ err: error.message }, 'audio cache eviction failed'));
    return { clipId, durationMs: result.durationMs, mime: result.mime, chars: charge.chars, costMicroUsd: charge.costMicroUsd };
  }

  /** Gives back a reserved sentence that will not be spoken (the reply's speech ended or was stopped first). */
  async cancelSentence(ticket: SentenceTicket): Promise<void> {
    if (ticket.reservationId) await this.meter.release(ticket.reservationId, ticket.charge, 'aborted', 0);
  }

  /** The file of a clip this user spoke, or null (unknown, someone else's, or evicted). */
  async clipFor(userId: string, clipId: string): Promise<{ file: string; mime: string; bytes: number } | null> {
    const clip = await this.options.prisma.audioClip.findFirst({
      where: { id: clipId },
      select: { id: true, format: true, mime: true, bytes: true, lastUsedAt: true },
    });
    if (!clip) return null;
    const owned =
      (await this.options.prisma.spokenMessage.findFirst({ where: { clipId, userId }, select: { clipId: true } })) ??
      (await this.options.prisma.sentenceClip.findFirst({ where: { clipId, userId }, select: { clipId: true } }));
    if (!owned) return null;
    // Playing counts as use for the eviction order; written at most once a minute per clip.
    if (Date.now() - clip.lastUsedAt.getTime() > 60_000) {
      void this.options.prisma.audioClip.updateMany({ where: { id: clipId }, data: { lastUsedAt: new Date() } }).catch(() => {});
    }
    return { file: this.options.cache.fileFor(clip.id, clip.format), mime: clip.mime, bytes: clip.bytes };
  }

  private sweepNow(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    void this.meter
      .releaseExpired()
      .then((released) => released > 0 && this.options.logger.warn({ released }, 'released voice reservations that were never settled'))
      .catch((error: Error) => this.options.logger.error({ err: error.message }, 'voice reservation sweep failed'));
  }

  private async workerCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.toAppError(error);
    }
  }

  private toAppError(error: unknown): unknown {
    if (!(error instanceof TtsWorkerError)) return error;
    switch (error.kind) {
      case 'busy':
        return new AppError('tts_busy', 'The voice service is busy right now. Please try again in a moment.', {
          retryAfterSeconds: error.retryAfterSeconds ?? 5,
        });
      case 'input_too_long':
        return new AppError('input_too_long', 'This answer is too long to be read aloud.');
      case 'invalid_input':
        return new AppError('invalid_input', 'There is nothing in this answer that can be read aloud.');
      default:
        this.options.logger.warn({ err: error.message, kind: error.kind, engine: this.options.client.kind }, 'TTS engine call failed');
        return new AppError('provider_unavailable', 'The voice service is not available right now. Chat still works; please try again later.');
    }
  }
}

/** Ledger refusals: they end a reply's speech (the next sentence would be refused too). */
const LEDGER_REFUSALS = new Set(['quota_exhausted', 'global_cap', 'kill_switch', 'not_found']);

/** The characters a sentence of `speechSentences` is charged: code points, digits left in it counted as their English spelling. */
export function sentenceChars(sentence: string): number {
  return countTtsChars(sentence.replace(/\d+/g, (digits) => spellNumber(digits)));
}

/** speak's answer when the reading is one clip. */
function oneClip(out: Omit<TTtsSpeakOutput, 'clips'>): TTtsSpeakOutput {
  return { ...out, clips: [{ audioUrl: out.audioUrl, durationMs: out.durationMs }] };
}

/** One sentence of a reply to read aloud, at its place in the message. */
export interface SentenceJob {
  conversationId: string;
  messageId: string;
  index: number;
  /** A sentence of `speechSentences` (prepared text). */
  text: string;
  requestId: string;
  signal?: AbortSignal | undefined;
}

export interface SpokenSentence {
  clipId: string;
  durationMs: number;
  mime: string;
  chars: number;
  costMicroUsd: number;
}

/** A sentence past the ledger: a cached clip already charged, or a reservation to settle or release. */
export type SentenceTicket = { charge: TtsCharge } & ({ cached: SpokenSentence; reservationId?: undefined } | { cached?: undefined; reservationId: string });

/** A reply being read aloud as it streams: whose, in which voice, on which plan. */
export interface ReplyVoice {
  user: TtsUser;
  plan: TPlan;
  voice: string;
  language: string;
  month: MonthPeriod | undefined;
}

export function audioUrl(clipId: string): string {
  return `/audio/${clipId}`;
}

/**
 * Builds the voice service from the environment; `worker` overrides TTS_WORKER_URL (the
 * worker `npm start` runs). With TTS_ENGINE=openai-compatible, TTS_MODEL must be in
 * `ttsPricing` (checked at start-up by the pricing loader).
 */
export function createTtsService(opts: {
  env: ServerEnv;
  prisma: PrismaClient;
  logger: Logger;
  limiters: Limiters;
  planFor: (user: PlanSubject) => TPlan;
  ttsPricing: TTtsPricingTable;
  worker?: (() => TtsWorkerTarget | undefined) | undefined;
  monthFor?: MonthFor | undefined;
}): TtsService {
  const { env } = opts;
  let client: SpeechEngine;
  let microsPerMillionChars = 0;
  if (env.TTS_ENGINE === 'openai-compatible') {
    const model = env.TTS_MODEL!;
    const price = findTtsModelPrice(opts.ttsPricing, model);
    if (!price) throw new Error(`no price for the TTS model "${model}"`);
    microsPerMillionChars = price.microsPerMillionChars;
    client = new OpenAiSpeechClient({ baseUrl: env.TTS_BASE_URL!, apiKey: env.TTS_API_KEY, model, voices: env.TTS_VOICES, timeoutMs: env.TTS_TIMEOUT_MS });
  } else {
    const fixed: TtsWorkerTarget | undefined = env.TTS_WORKER_URL ? { url: env.TTS_WORKER_URL, secret: env.TTS_WORKER_SECRET } : undefined;
    client = new TtsClient({ target: opts.worker ?? (() => fixed), timeoutMs: env.TTS_TIMEOUT_MS });
  }
  return new TtsService({
    prisma: opts.prisma,
    logger: opts.logger,
    limiters: opts.limiters,
    client,
    microsPerMillionChars,
    defaultDailyTokenCap: env.MAX_TOKENS_PER_DAY,
    defaultCostPerDayMicroUsd: env.MAX_COST_PER_DAY_USD,
    defaultCostPerMonthMicroUsd: env.MAX_COST_PER_MONTH_USD,
    monthFor: opts.monthFor,
    cache: new AudioCache(opts.prisma, path.join(env.dataDirAbsolute, 'audio'), env.TTS_CACHE_MAX_MB * 1024 * 1024, opts.logger),
    planFor: opts.planFor,
    defaultVoice: env.TTS_DEFAULT_VOICE,
    format: env.TTS_FORMAT,
  });
}
