import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AUDIO_FORMATS, CONTENT_TYPES, STREAMABLE_FORMATS } from './audio.ts';
import { RATE_LIMITS, type TtsEngine } from './engines/engine.ts';
import type { Config } from './env.ts';
import { JobCancelledError, PoolClosedError, QueueFullError, QueueTimeoutError, TaskFailedError, TaskTimeoutError } from './errors.ts';
import { errorFields, type Logger } from './logger.ts';
import { PRIORITIES, type SynthPool, type SynthRunResult } from './pool.ts';
import { prepareForSpeech } from '@chatmeter/shared/speech-text';

export interface AppDeps {
  config: Pick<Config, 'secret' | 'maxTextChars'>;
  pool: Pick<SynthPool, 'run' | 'stats' | 'isClosed'>;
  engine: Pick<TtsEngine, 'id' | 'version' | 'voices'>;
  logger: Logger;
}

type ErrorReason = 'invalid_input' | 'input_too_long' | 'unauthenticated' | 'not_found' | 'tts_busy' | 'synthesis_failed' | 'internal';

interface ErrorBody {
  error: {
    reason: ErrorReason;
    message: string;
    fields?: Record<string, string[]>;
    retryAfterSeconds?: number;
  };
}

function sendError(res: Response, status: number, reason: ErrorReason, message: string, extra: Omit<ErrorBody['error'], 'reason' | 'message'> = {}): void {
  res.locals.reason = reason;
  if (extra.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(extra.retryAfterSeconds));
  const body: ErrorBody = { error: { reason, message, ...extra } };
  res.status(status).json(body);
}

export function createApp({ config, pool, engine, logger }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const startedAt = Date.now();
  const voiceLanguages = new Map(engine.voices().map((voice) => [voice.id, voice.language]));

  const SynthesizeBody = z.object({
    text: z.string().refine((text) => text.trim().length > 0, 'must not be empty'),
    voice: z.string().refine((id) => voiceLanguages.has(id), 'unknown voice; see GET /voices'),
    rate: z.number().int().min(RATE_LIMITS.min).max(RATE_LIMITS.max).default(RATE_LIMITS.default),
    format: z.enum(AUDIO_FORMATS).default('mp3'),
    priority: z.enum(PRIORITIES).default('free'),
    stream: z.boolean().default(false),
  });

  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      logger.info('request', {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        ...(res.locals.logFields as Record<string, unknown> | undefined),
        ...(res.locals.reason ? { reason: res.locals.reason } : {}),
      });
    });
    next();
  });

  if (config.secret) app.use(requireSecret(config.secret));

  app.get('/healthz', (_req, res) => {
    const stats = pool.stats();
    // Not ok while draining, or while no thread can take work (all being replaced).
    const ok = !pool.isClosed && stats.threadsReady > 0;
    res.status(ok ? 200 : 503).json({
      ok,
      engine: engine.id,
      version: engine.version,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      ...stats,
    });
  });

  app.get('/voices', (_req, res) => {
    res.json({
      engine: engine.id,
      version: engine.version,
      voices: engine.voices(),
      rate: RATE_LIMITS,
      formats: AUDIO_FORMATS,
    });
  });

  // Room for the longest allowed text even if every character is escaped in the JSON.
  const bodyLimit = config.maxTextChars * 6 + 16 * 1024;
  app.post('/synthesize', express.json({ limit: bodyLimit }), async (req: Request, res: Response) => {
    const raw: unknown = req.body;
    const rawText = raw && typeof raw === 'object' ? (raw as { text?: unknown }).text : undefined;
    if (typeof rawText === 'string') {
      const chars = countChars(rawText);
      if (chars > config.maxTextChars) {
        sendError(res, 400, 'input_too_long', `text has ${chars} characters; the limit is ${config.maxTextChars}`, {
          fields: { text: [`at most ${config.maxTextChars} characters`] },
        });
        return;
      }
    }
    const parsed = SynthesizeBody.safeParse(raw ?? {});
    if (!parsed.success) {
      sendError(res, 400, 'invalid_input', 'invalid request body', {
        fields: z.flattenError(parsed.error).fieldErrors as Record<string, string[]>,
      });
      return;
    }
    const { text, voice, rate, format, priority, stream } = parsed.data;
    if (stream && !STREAMABLE_FORMATS.has(format)) {
      sendError(res, 400, 'invalid_input', 'wav cannot be streamed; use mp3 or ogg', {
        fields: { stream: ['only mp3 and ogg can be streamed'] },
      });
      return;
    }
    const chars = countChars(text);
    const chunks = prepareForSpeech(text, { language: voiceLanguages.get(voice) ?? voice });
    if (!chunks.length) {
      sendError(res, 400, 'invalid_input', 'nothing left to speak after removing markup, code and emoji', {
        fields: { text: ['nothing speakable'] },
      });
      return;
    }
    res.locals.logFields = { chars, chunks: chunks.length, voice, format, priority, stream };

    // A client that hangs up while its job is queued frees the slot; a job already
    // running finishes (killing the thread would cost more than the work left).
    const clientGone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });

    const headers = (): Record<string, string> => ({
      'Content-Type': CONTENT_TYPES[format],
      'Cache-Control': 'no-store',
      'X-Engine': `${engine.id}@${engine.version}`,
      'X-Chars': String(chars),
      'X-Chunks': String(chunks.length),
    });
    const timing = (result: SynthRunResult): Record<string, string> => ({
      'X-Audio-Duration-Ms': String(result.durationMs),
      'X-Synthesis-Ms': String(Math.round(result.runMs)),
      'X-Queue-Wait-Ms': String(Math.round(result.waitMs)),
    });
    const job = { chunks, voice, rate, format };

    try {
      if (!stream) {
        const result = await pool.run(job, { priority, signal: clientGone.signal });
        res.locals.logFields = { ...(res.locals.logFields as object), audioMs: result.durationMs };
        res
          .status(200)
          .set({ ...headers(), ...timing(result), 'Content-Length': String(result.audio.byteLength) })
          .end(Buffer.from(result.audio.buffer, result.audio.byteOffset, result.audio.byteLength));
        return;
      }

      // Streaming: headers go out with the first bytes, so a job refused by the queue
      // still gets a proper 503; duration and timing follow as HTTP trailers.
      const startStream = () => {
        if (res.headersSent) return;
        res.status(200).set({
          ...headers(),
          Trailer: 'X-Audio-Duration-Ms, X-Synthesis-Ms, X-Queue-Wait-Ms',
        });
      };
      const result = await pool.run(job, {
        priority,
        signal: clientGone.signal,
        onData: (bytes) => {
          startStream();
          if (!res.destroyed) res.write(bytes);
        },
      });
      startStream();
      res.locals.logFields = { ...(res.locals.logFields as object), audioMs: result.durationMs };
      res.addTrailers(timing(result));
      res.end();
    } catch (err) {
      if (res.headersSent) {
        // Mid-stream failure: the status is gone already; cut the response so the
        // client sees it incomplete rather than silently short.
        logger.warn('stream aborted', errorFields(err));
        res.destroy();
        return;
      }
      sendPoolError(res, err, logger);
    }
  });

  app.use((_req, res) => {
    sendError(res, 404, 'not_found', 'no such route');
  });

  // Express 5 routes rejected promises here too; nothing reaches the process.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: unknown } | null)?.type;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (type === 'entity.too.large') {
      sendError(res, 413, 'input_too_long', 'request body too large');
    } else if (type === 'entity.parse.failed') {
      sendError(res, 400, 'invalid_input', 'request body is not valid JSON');
    } else if ((typeof type === 'string' && type.startsWith('encoding.')) || type === 'charset.unsupported') {
      sendError(res, 400, 'invalid_input', 'unsupported body encoding');
    } else {
      logger.error('unhandled error', errorFields(err));
      sendError(res, 500, 'internal', 'internal error');
    }
  });

  return app;
}

function sendPoolError(res: Response, err: unknown, logger: Logger): void {
  if (err instanceof QueueFullError || err instanceof QueueTimeoutError) {
    sendError(res, 503, 'tts_busy', err.message, { retryAfterSeconds: err.retryAfterSeconds });
  } else if (err instanceof PoolClosedError) {
    sendError(res, 503, 'tts_busy', err.message, { retryAfterSeconds: 5 });
  } else if (err instanceof TaskTimeoutError) {
    sendError(res, 504, 'synthesis_failed', err.message);
  } else if (err instanceof TaskFailedError) {
    sendError(res, 502, 'synthesis_failed', err.message);
  } else if (err instanceof JobCancelledError) {
    // The client is gone; there is nobody to answer.
    res.locals.reason = 'client_closed';
    res.destroy();
  } else {
    logger.error('unexpected synthesis error', errorFields(err));
    sendError(res, 500, 'internal', 'internal error');
  }
}

function countChars(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function requireSecret(secret: string) {
  // Comparing fixed-length digests keeps the comparison constant-time whatever the
  // length of the header.
  const expected = createHash('sha256').update(secret).digest();
  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && req.path === '/healthz') return next();
    const given = createHash('sha256')
      .update(req.get('x-tts-secret') ?? '')
      .digest();
    if (!timingSafeEqual(given, expected)) {
      sendError(res, 401, 'unauthenticated', 'missing or wrong x-tts-secret header');
      return;
    }
    next();
  };
}
