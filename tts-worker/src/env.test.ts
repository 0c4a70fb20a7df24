import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from './env.ts';

describe('parseEnv', () => {
  it('has safe defaults: loopback, no secret, one thread per core', () => {
    expect(parseEnv({})).toEqual({
      port: 3100,
      host: '127.0.0.1',
      secret: undefined,
      threads: os.availableParallelism(),
      maxQueue: 32,
      taskTimeoutMs: 20_000,
      maxTextChars: 5000,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const config = parseEnv({
      TTS_WORKER_PORT: '4000',
      TTS_WORKER_HOST: '0.0.0.0',
      TTS_WORKER_SECRET: 's3cret-s3cret-s3cret',
      TTS_THREADS: '3',
      TTS_MAX_QUEUE: '0',
      TTS_TASK_TIMEOUT_MS: '1500',
      TTS_MAX_TEXT_CHARS: '200',
      TTS_LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      secret: 's3cret-s3cret-s3cret',
      threads: 3,
      maxQueue: 0,
      taskTimeoutMs: 1500,
      maxTextChars: 200,
      logLevel: 'warn',
    });
  });

  it('treats empty values as unset', () => {
    expect(parseEnv({ TTS_THREADS: '', TTS_WORKER_SECRET: '  ' })).toMatchObject({
      threads: os.availableParallelism(),
      secret: undefined,
    });
  });

  it.each([
    ['TTS_WORKER_PORT', '70000'],
    ['TTS_WORKER_PORT', 'http'],
    ['TTS_THREADS', '0'],
    ['TTS_THREADS', '1.5'],
    ['TTS_MAX_QUEUE', '-1'],
    ['TTS_TASK_TIMEOUT_MS', '5'],
    ['TTS_MAX_TEXT_CHARS', 'lots'],
    ['TTS_LOG_LEVEL', 'loud'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(() => parseEnv({ [name]: value })).toThrow(EnvError);
    expect(() => parseEnv({ [name]: value })).toThrow(new RegExp(`${name}:.*got "${value}"`));
  });
});
