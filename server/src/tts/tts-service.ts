// Reading an assistant answer aloud, in order: rate limit, ownership, plan,
// voice, cache lookup; then either a cache hit (charged and recorded in one
// transaction, no synthesis) or reserve -> engine -> settle / release. The engine
// is the built-in worker (a separate process or fleet) or an OpenAI-compatible
// speech server (TTS_ENGINE); when it is busy or down only voice is refused, chat
// does not depend on it. A priced engine's clips cost micro-USD, recorded in their
// usage events, and its syntheses obey the kill switch and the global daily token cap,
// and count toward the global dollar caps and the user's personal spending limit.
import path from 'node:path';
import type { PrismaClient } from '@chatmeter/db/client';
import type { TPlan } from '@chatmeter/shared/plans';
import { speechChars } from '@chatmeter/shared/speech-text';
import { ttsCostMicroUsd } from '@chatmeter/shared/money';
import { findTtsModelPrice, type TTtsPricingTable } from '@chatmeter/shared/pricing';
import type { TTtsSpeakInput, TTtsSpeakOutput, TTtsVoices } from '@chatmeter/shared/tts';
import type { ServerEnv } from '../env.ts';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';
import type { MonthFor } from '../metering/periods.ts';
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

  constructor(private readonly o: TtsServiceOptions) {
    this.meter = new TtsMeter(o.prisma);
    void o.cache.removeStaleTemp();
  }

  get cache(): AudioCache {
    return this.o.cache;
  }

  async voices(): Promise<TTtsVoices> {
    const info = await this.workerCall(() => this.o.client.voices());
    return {
      voices: info.voices,
      defaultVoice: this.pickDefault(info.voices.map((v) => v.id)),
      engine: info.engine,
      microsPerMillionChars: this.o.microsPerMillionChars ?? 0,
    };
  }

  private pickDefault(ids: string[]): string {
    if (ids.includes(this.o.defaultVoice) || ids.length === 0) return this.o.defaultVoice;
    if (!this.warnedDefaultVoice) {
      this.warnedDefaultVoice = true;
      this.o.logger.warn({ voice: this.o.defaultVoice, using: ids[0] }, 'TTS_DEFAULT_VOICE is not offered by the worker');
    }
    return ids[0]!;
  }

  async speak(user: TtsUser, input: TTtsSpeakInput, request: { requestId: string; signal?: AbortSignal | undefined }): Promise<TTtsSpeakOutput> {
    const o = this.o;
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

    const price = o.microsPerMillionChars ?? 0;
    const charge: TtsCharge = {
      // What the engine bills for this text, rounded up once (money.ts); 0 for a free engine.
      costMicroUsd: ttsCostMicroUsd(chars, price),
      // A priced engine spends money: its syntheses pass the kill switch and the global token cap,
      // and hold their cost on the global dollar caps and the personal limit (in the user's month).
      spend:
        price > 0
          ? {
              defaultDailyTokenCap: o.defaultDailyTokenCap,
              defaultCostPerDayMicroUsd: o.defaultCostPerDayMicroUsd,
              defaultCostPerMonthMicroUsd: o.defaultCostPerMonthMicroUsd,
            }
          : undefined,
      month: price > 0 && o.monthFor ? await o.monthFor(user.id, new Date(), { subscribed: user.subscribed }) : undefined,
      userId: user.id,
      isGuest: user.isGuest,
      planName: plan.name,
      limit,
      chars,
      requestId: request.requestId,
      conversationId: message.conversationId,
      messageId: input.messageId,
    };
    const format = o.format;

    // Cache hit: no synthesis, but the characters count (docs/tts-worker.md, "Cache policy").
    const cacheKey = clipCacheKey({ engine: workerVoices.engine, voice, format, text });
    const known = await o.prisma.audioClip.findUnique({ where: { cacheKey }, select: { id: true, format: true } });
    if (known && (await o.cache.has(known.id, known.format))) {
      const hit = await this.meter.chargeCached(charge, known.id);
      if (hit) return { audioUrl: audioUrl(hit.id), durationMs: hit.durationMs, chars, voice, mime: hit.mime, cached: true, costMicroUsd: 0 };
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
    return { audioUrl: audioUrl(clipId), durationMs: result.durationMs, chars, voice, mime: result.mime, cached: false, costMicroUsd: charge.costMicroUsd };
  }

  /** The file of a clip this user spoke, or null (unknown, someone else's, or evicted). */
  async clipFor(userId: string, clipId: string): Promise<{ file: string; mime: string; bytes: number } | null> {
    const clip = await this.o.prisma.audioClip.findFirst({
      where: { id: clipId },
      select: { id: true, format: true, mime: true, bytes: true, lastUsedAt: true },
    });
    if (!clip) return null;
    const owned = await this.o.prisma.spokenMessage.findFirst({ where: { clipId, userId }, select: { clipId: true } });
    if (!owned) return null;
    // Playing counts as use for the eviction order; written at most once a minute per clip.
    if (Date.now() - clip.lastUsedAt.getTime() > 60_000) {
      void this.o.prisma.audioClip.updateMany({ where: { id: clipId }, data: { lastUsedAt: new Date() } }).catch(() => {});
    }
    return { file: this.o.cache.fileFor(clip.id, clip.format), mime: clip.mime, bytes: clip.bytes };
  }

  private sweepNow(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    void this.meter
      .releaseExpired()
      .then((released) => released > 0 && this.o.logger.warn({ released }, 'released voice reservations that were never settled'))
      .catch((error: Error) => this.o.logger.error({ err: error.message }, 'voice reservation sweep failed'));
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
        this.o.logger.warn({ err: error.message, kind: error.kind, engine: this.o.client.kind }, 'TTS engine call failed');
        return new AppError('provider_unavailable', 'The voice service is not available right now. Chat still works; please try again later.');
    }
  }
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
