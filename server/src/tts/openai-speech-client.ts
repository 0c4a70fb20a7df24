// TTS_ENGINE=openai-compatible: any server speaking OpenAI's POST /v1/audio/speech
// (OpenAI itself, Kokoro-FastAPI, openedai-speech, LocalAI, Speaches), as a second
// SpeechEngine beside the built-in worker's TtsClient, so the service's cache,
// reservations, limits and audio route work unchanged. The server prepares the
// text here (Markdown, code, numbers: the same prepareText the worker uses), so what
// is sent is what the characters were counted on. Long texts go in several requests
// whose audio is joined (MP3 frames and Ogg pages can be concatenated; WAV cannot).
import CodecParser from 'codec-parser';
import { chunkText, prepareText } from '@chatmeter/shared/speech-text';
import { countTtsChars, type TVoice } from '@chatmeter/shared/tts';
import { TtsWorkerError, type SpeechEngine, type SynthesisInput, type SynthesisResult, type TtsFormat, type WorkerVoices } from './tts-client.ts';

export interface OpenAiSpeechOptions {
  /** The API base with its /v1 (TTS_BASE_URL). */
  baseUrl: string;
  apiKey?: string | undefined;
  model: string;
  /** TTS_VOICES: used when the server has no voice list of its own. */
  voices: readonly { id: string; language?: string | undefined }[];
  timeoutMs: number;
  voicesTtlMs?: number;
  /** Longest input of one request; OpenAI's is 4096 characters. */
  maxInputChars?: number;
  /** Largest audio answer of one request (default 32 MiB). */
  maxAudioBytes?: number;
}

const VOICES_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_INPUT_CHARS = 4_096;
/** One request's audio: 4,096 characters are ~5 minutes, ~10 MB of 256 kbit/s MP3; a bigger answer is not speech. */
const DEFAULT_MAX_AUDIO_BYTES = 32 * 1024 * 1024;
/** A voice list is shown to every user: bounded in length and size. */
const MAX_VOICES = 500;
const VOICE_ID = /^[a-z0-9][a-z0-9_+-]{0,63}$/i;

/** What we ask for per TTS_FORMAT, and what the answer is. Ogg is Ogg Opus here (OpenAI's `opus`). */
const FORMATS: Record<TtsFormat, { responseFormat: string; mime: string }> = {
  mp3: { responseFormat: 'mp3', mime: 'audio/mpeg' },
  ogg: { responseFormat: 'opus', mime: 'audio/ogg' },
  wav: { responseFormat: 'wav', mime: 'audio/wav' },
};

/** Kokoro's voice ids start with a language letter and a gender letter (`af_bella`, `bm_george`, `ff_siwis`). */
const KOKORO_LANGUAGES: Record<string, string> = { a: 'en-US', b: 'en-GB', e: 'es', f: 'fr', h: 'hi', i: 'it', j: 'ja', p: 'pt-BR', z: 'zh' };

function guessLanguage(id: string): string {
  const kokoro = /^([abefhijpz])[fm]_/.exec(id);
  // OpenAI's voices (alloy, nova...) speak whatever language the text is in; English rules count their characters.
  return (kokoro && KOKORO_LANGUAGES[kokoro[1]!]) ?? 'en';
}

export class OpenAiSpeechClient implements SpeechEngine {
  readonly kind = 'openai-compatible' as const;
  /** Part of every cache key and the `model` of the usage events. */
  readonly engine: string;
  private voicesCache: { value: WorkerVoices; at: number } | undefined;
  private voicesInFlight: Promise<WorkerVoices> | undefined;

  constructor(private readonly options: OpenAiSpeechOptions) {
    this.engine = `openai-compatible:${options.model}`;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

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

  /** The server's own list (Kokoro-FastAPI, Speaches: GET /audio/voices), else TTS_VOICES. */
  private async fetchVoices(): Promise<WorkerVoices> {
    const configured = new Map(this.options.voices.map((v) => [v.id, v.language]));
    const voice = (id: string, name?: string, language?: string): TVoice => ({
      id,
      name: name ?? id,
      language: language ?? configured.get(id) ?? guessLanguage(id),
      engine: this.kind,
    });
    let problem = 'it has no voice list (GET /audio/voices) and TTS_VOICES is not set';
    try {
      const res = await fetch(this.url('audio/voices'), { headers: this.headers(), signal: AbortSignal.timeout(VOICES_TIMEOUT_MS) });
      if (res.ok) {
        const listed = parseVoiceList(await res.json().catch(() => null));
        if (listed.length > 0) return { engine: this.engine, voices: listed.map((v) => voice(v.id, v.name, v.language)) };
      } else {
        await res.body?.cancel();
        if (res.status === 401 || res.status === 403) problem = `it refused TTS_API_KEY (HTTP ${res.status})`;
      }
    } catch (error) {
      problem = `it cannot be reached${causeCode(error)}`;
    }
    if (this.options.voices.length > 0) return { engine: this.engine, voices: this.options.voices.map((v) => voice(v.id)) };
    throw new TtsWorkerError('unavailable', `no voices for TTS_ENGINE=openai-compatible: ${problem}`);
  }

  async synthesize(input: SynthesisInput): Promise<SynthesisResult> {
    const { responseFormat, mime } = FORMATS[input.format];
    const prepared = prepareText(input.text, { language: input.language ?? input.voice });
    if (!prepared.trim()) throw new TtsWorkerError('invalid_input', 'nothing speakable is left after text preparation');
    const max = this.options.maxInputChars ?? DEFAULT_MAX_INPUT_CHARS;
    let parts = [prepared];
    if (countTtsChars(prepared) > max) {
      if (input.format === 'wav')
        throw new TtsWorkerError('input_too_long', `longer than the ${max} characters one request may carry (WAV clips cannot be joined)`);
      // chunkText counts UTF-16 units, which are never fewer than code points.
      parts = chunkText(prepared, { maxChars: max, firstMaxChars: max });
    }

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = input.signal ? AbortSignal.any([timeout, input.signal]) : timeout;
    const started = Date.now();
    const pieces: Buffer[] = [];
    for (const part of parts) {
      let res: Response;
      try {
        res = await fetch(this.url('audio/speech'), {
          method: 'POST',
          headers: { ...this.headers(), 'content-type': 'application/json' },
          body: JSON.stringify({ model: this.options.model, voice: input.voice, input: part, response_format: responseFormat }),
          signal,
        });
        if (!res.ok) throw await failure(res);
        const type = res.headers.get('content-type') ?? '';
        if (/json|text\/html/i.test(type)) {
          await res.body?.cancel();
          throw new TtsWorkerError('unavailable', `the speech server answered 200 with ${type}, not audio`);
        }
        pieces.push(await readCapped(res, this.options.maxAudioBytes ?? DEFAULT_MAX_AUDIO_BYTES));
      } catch (error) {
        if (error instanceof TtsWorkerError) throw error;
        if (input.signal?.aborted) throw new TtsWorkerError('aborted', 'the request was cancelled');
        if (timeout.aborted) throw new TtsWorkerError('unavailable', 'the speech server did not answer in time');
        throw new TtsWorkerError('unavailable', `the speech server cannot be reached${causeCode(error)}`);
      }
    }
    const audio = Buffer.concat(pieces);
    if (audio.byteLength === 0) throw new TtsWorkerError('unavailable', 'the speech server answered with no audio');
    return { audio, mime, durationMs: durationOf(audio, input.format), synthesisMs: Date.now() - started, engine: this.engine };
  }

  private url(path: string): URL {
    return new URL(path, this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`);
  }

  private headers(): Record<string, string> {
    return this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
  }
}

/** Voice lists as the servers give them: `["af_bella"]`, `{ voices: [...] }`, `{ data: [...] }`, items as strings or objects. */
export function parseVoiceList(body: unknown): { id: string; name?: string; language?: string }[] {
  const list = Array.isArray(body)
    ? body
    : body && typeof body === 'object'
      ? ((body as { voices?: unknown }).voices ?? (body as { data?: unknown }).data)
      : undefined;
  if (!Array.isArray(list)) return [];
  const out = new Map<string, { id: string; name?: string; language?: string }>();
  for (const item of list.slice(0, MAX_VOICES)) {
    if (typeof item === 'string') {
      if (VOICE_ID.test(item)) out.set(item, { id: item });
      continue;
    }
    if (!item || typeof item !== 'object') continue;
    const v = item as Record<string, unknown>;
    const id = [v.id, v.voice_id, v.name].find((x): x is string => typeof x === 'string' && VOICE_ID.test(x));
    if (!id) continue;
    const language = [v.language, v.lang].find((x): x is string => typeof x === 'string' && /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(x));
    const name = typeof v.name === 'string' ? v.name.trim().slice(0, 100) : '';
    out.set(id, { id, ...(name && name !== id ? { name } : {}), ...(language ? { language } : {}) });
  }
  return [...out.values()];
}

/** The body, refused (and the connection dropped) once it passes `max` bytes. */
async function readCapped(res: Response, max: number): Promise<Buffer> {
  if (Number(res.headers.get('content-length')) > max) {
    await res.body?.cancel();
    throw new TtsWorkerError('unavailable', `the speech server's answer is larger than ${max} bytes`);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.byteLength;
    // Leaving the loop cancels the stream, which drops the connection.
    if (total > max) throw new TtsWorkerError('unavailable', `the speech server's answer is larger than ${max} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

function causeCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? ` (${cause.code})` : '';
}

/** Seconds from Retry-After (seconds or an HTTP date) or OpenAI's retry-after-ms; 5 when neither says. */
function retryAfterSeconds(headers: Headers): number {
  const ms = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return Math.max(1, Math.ceil(ms / 1000));
  const value = headers.get('retry-after');
  if (value) {
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds > 0) return Math.ceil(seconds);
    const date = Date.parse(value);
    if (Number.isFinite(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }
  return 5;
}

async function failure(res: Response): Promise<TtsWorkerError> {
  let message = '';
  let code: unknown;
  try {
    const body = (await res.json()) as { error?: { message?: unknown; code?: unknown; type?: unknown } | string; detail?: unknown };
    const error = typeof body.error === 'string' ? { message: body.error } : body.error;
    message = typeof error?.message === 'string' ? error.message : typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail ?? '');
    code = error?.code ?? error?.type;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const said = message ? `: ${message.slice(0, 300)}` : '';
  // OpenAI answers 429 both for "slow down" and for an account out of credit; only the first passes.
  if (res.status === 429 && code !== 'insufficient_quota')
    return new TtsWorkerError('busy', `the speech server is rate limiting${said}`, retryAfterSeconds(res.headers));
  if (res.status === 503 && res.headers.has('retry-after'))
    return new TtsWorkerError('busy', `the speech server is busy${said}`, retryAfterSeconds(res.headers));
  if (res.status === 413 || ((res.status === 400 || res.status === 422) && /too long|maximum|max(imum)?[ _]length|characters/i.test(message))) {
    return new TtsWorkerError('input_too_long', `the speech server refused the length${said}`);
  }
  if (res.status === 401 || res.status === 403) return new TtsWorkerError('unavailable', `the speech server refused TTS_API_KEY (HTTP ${res.status})${said}`);
  return new TtsWorkerError('unavailable', `the speech server answered ${res.status}${said}`);
}

/** Length of the audio in ms: MP3 frames and Ogg pages through codec-parser, WAV from its header. */
export function durationOf(audio: Buffer, format: TtsFormat): number {
  try {
    if (format === 'wav') return wavDurationMs(audio);
    const parser = new CodecParser(format === 'mp3' ? 'audio/mpeg' : 'application/ogg', { enableLogging: false });
    const frames = parser.parseAll(new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength));
    return Math.round(frames.reduce((sum, frame) => sum + (frame.duration || 0), 0));
  } catch {
    // Unparseable audio still plays in most browsers; its length is then unknown.
    return 0;
  }
}

function wavDurationMs(audio: Buffer): number {
  if (audio.length < 44 || audio.toString('ascii', 0, 4) !== 'RIFF' || audio.toString('ascii', 8, 12) !== 'WAVE') return 0;
  let offset = 12;
  let byteRate = 0;
  while (offset + 8 <= audio.length) {
    const id = audio.toString('ascii', offset, offset + 4);
    const size = audio.readUInt32LE(offset + 4);
    if (id === 'fmt ') byteRate = audio.readUInt32LE(offset + 16);
    // A streamed WAV (OpenAI's) carries 0xFFFFFFFF as the data size: what follows is the data.
    if (id === 'data') return byteRate > 0 ? Math.round((Math.min(size, audio.length - offset - 8) * 1000) / byteRate) : 0;
    offset += 8 + size + (size % 2);
  }
  return 0;
}
