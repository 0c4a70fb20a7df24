import os from 'node:os';
import { z } from 'zod';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// Empty strings count as "unset" so that `TTS_THREADS=` in a .env file falls back to the default.
const EnvSchema = z.object({
  TTS_WORKER_PORT: intFrom(0, 65535).default(3100),
  TTS_WORKER_HOST: z.string().min(1).default('127.0.0.1'),
  TTS_WORKER_SECRET: z.string().min(1).optional(),
  TTS_THREADS: intFrom(1, 64).default(() => os.availableParallelism()),
  TTS_MAX_QUEUE: intFrom(0, 10_000).default(32),
  TTS_TASK_TIMEOUT_MS: intFrom(100, 600_000).default(20_000),
  TTS_MAX_TEXT_CHARS: intFrom(1, 100_000).default(5000),
  TTS_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type LogLevel = z.infer<typeof EnvSchema>['TTS_LOG_LEVEL'];

export interface Config {
  port: number;
  host: string;
  secret: string | undefined;
  threads: number;
  maxQueue: number;
  taskTimeoutMs: number;
  maxTextChars: number;
  logLevel: LogLevel;
}

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

export function parseEnv(source: Readonly<Record<string, string | undefined>>): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const value = source[key]?.trim();
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = EnvSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `${name}: ${issue.message} (got ${JSON.stringify(picked[name])})`;
    });
    throw new EnvError(`Invalid tts-worker environment:\n  ${problems.join('\n  ')}`);
  }
  const env = parsed.data;
  return {
    port: env.TTS_WORKER_PORT,
    host: env.TTS_WORKER_HOST,
    secret: env.TTS_WORKER_SECRET,
    threads: env.TTS_THREADS,
    maxQueue: env.TTS_MAX_QUEUE,
    taskTimeoutMs: env.TTS_TASK_TIMEOUT_MS,
    maxTextChars: env.TTS_MAX_TEXT_CHARS,
    logLevel: env.TTS_LOG_LEVEL,
  };
}

/** The one place that reads process.env; call it once at start-up. */
export function loadConfig(): Config {
  return parseEnv(process.env);
}
