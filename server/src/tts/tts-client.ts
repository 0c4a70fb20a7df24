// The server's side of the tts-worker HTTP API (docs/tts-worker.md): GET /voices,
// POST /synthesize. The worker may be one the server started (its URL changes when
// it is restarted, hence a function) or any URL, e.g. a load balancer in front of
// several workers. Failures come back as TtsWorkerError with a kind the service
// maps to the contract's reasons. `SpeechEngine` is what the service needs of any
// engine; openai-speech-client.ts is the other implementation.
import type { TTtsEngine, TVoice } from '@chatmeter/shared/tts';

export type TtsFormat = 'mp3' | 'ogg' | 'wav';
export type TtsPriority = 'paid' | 'free' | 'guest';

export interface TtsWorkerTarget {
  url: string;
  secret?: string | undefined;
}

export interface WorkerVoices {
  /** `<engine id>@<version>` as the worker reports it; part of every cache key. */
  engine: string;
  voices: TVoice[];
}

export interface SynthesisInput {
  text: string;
  voice: string;
  format: TtsFormat;
  priority: TtsPriority;
  /** The voice's language (BCP 47), for an engine the server prepares the text for. */
  language?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** One engine as TtsService uses it: caching, reservations, limits and the audio route do not depend on which. */
export interface SpeechEngine {
  readonly kind: TTtsEngine;
  /** Longest wait for one synthesis; reservations outlive it. */
  readonly timeoutMs: number;
  voices(options?: { allowStale?: boolean }): Promise<WorkerVoices>;
  synthesize(input: SynthesisInput): Promise<SynthesisResult>;
}

export interface SynthesisResult {
  audio: Buffer;
  mime: string;
  durationMs: number;
  synthesisMs: number;
  /** From X-Engine: the engine that really spoke (a mixed fleet may differ from /voices). */
  engine: string;
}

export type TtsWorkerErrorKind =
  /** Queue full (503 + Retry-After): try again shortly. */
  | 'busy'
  /** Not reachable, timed out, failed or misconfigured. */
  | 'unavailable'
  | 'input_too_long'
  /** The worker found nothing speakable or refused the request's shape. */
  | 'invalid_input'
  /** Our caller went away. */
  | 'aborted';

export class TtsWorkerError extends Error {
  constructor(
    readonly kind: TtsWorkerErrorKind,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'TtsWorkerError';
  }
}

export interface TtsClientOptions {
  /** Where the worker is right now; undefined while a started worker is not up (or voice is off). */
  target: () => TtsWorkerTarget | undefined;
  timeoutMs: number;
  /** How long GET /voices is trusted. */
  voicesTtlMs?: number;
}

const VOICES_TIMEOUT_MS = 5_000;

export class TtsClient implements SpeechEngine {
  readonly kind = 'espeak-ng' as const;
  private voicesCache: { value: WorkerVoices; at: number } | undefined;
  private voicesInFlight: Promise<WorkerVoices> | undefined;

  constructor(private readonly options: TtsClientOptions) {}

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** The worker's voices, cached briefly; on failure the last good answer (if any) is kept for `stale` callers. */
  async voices(options: { allowStale?: boolean } = {}): Promise<WorkerVoices> {
    const ttl = this.options.voicesTtlMs ?? 60_000;
    const cached = this.voicesCache;
    if (cached && Date.now() - cached.at < ttl) return cached.value;
    this.voicesInFlight ??= this.fetchVoices().finally(() => {
      this.voicesInFlight = undefined;
    });
    try {
      const value = await this.voicesInFlight;
      this.voicesCache = { value, at: Date.now() };
      return value;
    } catch (error) {
      if (options.allowStale && cached) return cached.value;
      throw error;
    }
  }

  private async fetchVoices(): Promise<WorkerVoices> {
    const res = await this.request('/voices', { method: 'GET' }, AbortSignal.timeout(VOICES_TIMEOUT_MS));
    if (!res.ok) throw await failure(res);
    const body = (await res.json()) as { engine?: unknown; version?: unknown; voices?: unknown };
    if (typeof body.engine !== 'string' || !Array.isArray(body.voices)) {
      throw new TtsWorkerError('unavailable', 'the TTS worker answered GET /voices with an unexpected body');
    }
    const voices = body.voices
      .filter((v): v is TVoice => !!v && typeof v.id === 'string' && typeof v.name === 'string' && typeof v.language === 'string')
      .map(({ id, name, language }) => ({ id, name, language, engine: this.kind }));
    return { engine: typeof body.version === 'string' ? `${body.engine}@${body.version}` : body.engine, voices };
  }

  async synthesize(input: SynthesisInput): Promise<SynthesisResult> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = input.signal ? AbortSignal.any([timeout, input.signal]) : timeout;
    const res = await this.request(
      '/synthesize',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: input.text, voice: input.voice, format: input.format, priority: input.priority }),
      },
      signal,
      input.signal,
    );
    if (!res.ok) throw await failure(res);
    let audio: Buffer;
    try {
      audio = Buffer.from(await res.arrayBuffer());
    } catch (error) {
      throw translateFetchError(error, signal, input.signal);
    }
    const number = (name: string) => {
      const value = Number(res.headers.get(name));
      return Number.isFinite(value) && value >= 0 ? Math.round(value) : 0;
    };
    return {
      audio,
      mime: res.headers.get('content-type')?.split(';')[0]?.trim() || 'application/octet-stream',
      durationMs: number('x-audio-duration-ms'),
      synthesisMs: number('x-synthesis-ms'),
      engine: res.headers.get('x-engine') ?? 'unknown',
    };
  }

  private async request(path: string, init: RequestInit, signal: AbortSignal, callerSignal?: AbortSignal): Promise<Response> {
    const target = this.options.target();
    if (!target) throw new TtsWorkerError('unavailable', 'no TTS worker is running');
    const headers = new Headers(init.headers);
    if (target.secret) headers.set('x-tts-secret', target.secret);
    try {
      return await fetch(new URL(path, target.url.endsWith('/') ? target.url : `${target.url}/`), { ...init, headers, signal });
    } catch (error) {
      throw translateFetchError(error, signal, callerSignal);
    }
  }
}

function translateFetchError(error: unknown, signal: AbortSignal, callerSignal: AbortSignal | undefined): TtsWorkerError {
  if (callerSignal?.aborted) return new TtsWorkerError('aborted', 'the request was cancelled');
  if (signal.aborted) return new TtsWorkerError('unavailable', 'the TTS worker did not answer in time');
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return new TtsWorkerError('unavailable', `the TTS worker cannot be reached${code}`);
}

async function failure(res: Response): Promise<TtsWorkerError> {
  let reason: unknown;
  let message = `HTTP ${res.status}`;
  let retryAfter: unknown;
  try {
    const body = (await res.json()) as { error?: { reason?: unknown; message?: unknown; retryAfterSeconds?: unknown } };
    reason = body.error?.reason;
    if (typeof body.error?.message === 'string') message = body.error.message;
    retryAfter = body.error?.retryAfterSeconds;
  } catch {
    // Not the worker's JSON (a proxy's error page): the status says enough.
  }
  if (res.status === 503 || res.status === 429) {
    const header = Number(res.headers.get('retry-after'));
    const seconds = Number.isFinite(header) && header > 0 ? header : typeof retryAfter === 'number' && retryAfter > 0 ? retryAfter : 5;
    // A load balancer with no healthy worker also answers 503, without the worker's reason.
    if (reason === 'tts_busy' || res.headers.has('retry-after')) return new TtsWorkerError('busy', message, Math.ceil(seconds));
    return new TtsWorkerError('unavailable', `the TTS worker answered ${res.status}: ${message}`);
  }
  if ((res.status === 400 || res.status === 413) && reason === 'input_too_long') return new TtsWorkerError('input_too_long', message);
  if (res.status === 400 && reason === 'invalid_input') return new TtsWorkerError('invalid_input', message);
  if (res.status === 401) return new TtsWorkerError('unavailable', 'the TTS worker refused our x-tts-secret (TTS_WORKER_SECRET differs)');
  return new TtsWorkerError('unavailable', `the TTS worker answered ${res.status}: ${message}`);
}
