import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { parseEnv } from '../env.ts';
import { clipCacheKey } from './audio-cache.ts';
import { TtsClient, TtsWorkerError } from './tts-client.ts';
import { priorityFor } from './tts-service.ts';

// A worker stand-in whose answer each test picks.
let answer: (res: http.ServerResponse) => void = (res) => res.end();
let seenSecret: string | undefined;
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    seenSecret = req.headers['x-tts-secret'] as string | undefined;
    req.resume();
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (res: http.ServerResponse) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

async function failureOf(client: TtsClient): Promise<TtsWorkerError> {
  try {
    await client.synthesize({ text: 'hello', voice: 'en-us', format: 'mp3', priority: 'free' });
  } catch (error) {
    if (error instanceof TtsWorkerError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('TtsClient', () => {
  const client = () => new TtsClient({ target: () => ({ url, secret: 's3cret-s3cret-s3cret' }), timeoutMs: 1_000 });

  it('sends the secret and reads the audio and its headers', async () => {
    answer = (res) =>
      res
        .writeHead(200, { 'content-type': 'audio/mpeg', 'x-audio-duration-ms': '1234', 'x-synthesis-ms': '56', 'x-engine': 'espeak-ng@1.0.2' })
        .end(Buffer.from([0xff, 0xf3, 1, 2]));
    const result = await client().synthesize({ text: 'hello', voice: 'en-us', format: 'mp3', priority: 'paid' });
    expect(seenSecret).toBe('s3cret-s3cret-s3cret');
    expect(result).toMatchObject({ mime: 'audio/mpeg', durationMs: 1234, synthesisMs: 56, engine: 'espeak-ng@1.0.2' });
    expect([...result.audio]).toEqual([0xff, 0xf3, 1, 2]);
  });

  it.each([
    ['the worker queue is full', json(503, { error: { reason: 'tts_busy', message: 'full', retryAfterSeconds: 3 } }, { 'retry-after': '3' }), 'busy', 3],
    ['a load balancer has no healthy worker', (res: http.ServerResponse) => res.writeHead(503).end('<html>no upstream</html>'), 'unavailable', undefined],
    ['the secret is wrong', json(401, { error: { reason: 'unauthenticated', message: 'no' } }), 'unavailable', undefined],
    ['the text is too long', json(400, { error: { reason: 'input_too_long', message: 'long' } }), 'input_too_long', undefined],
    ['nothing is speakable', json(400, { error: { reason: 'invalid_input', message: 'empty' } }), 'invalid_input', undefined],
    ['synthesis failed', json(502, { error: { reason: 'synthesis_failed', message: 'boom' } }), 'unavailable', undefined],
  ])('maps %s to %s', async (_what, reply, kind, retryAfter) => {
    answer = reply;
    const error = await failureOf(client());
    expect(error.kind).toBe(kind);
    expect(error.retryAfterSeconds).toBe(retryAfter);
  });

  it('without a worker, or with one that never answers, is unavailable', async () => {
    expect((await failureOf(new TtsClient({ target: () => undefined, timeoutMs: 1_000 }))).kind).toBe('unavailable');
    answer = () => {};
    const error = await failureOf(client());
    expect(error).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/in time/) });
  });

  it('keeps the last voice list for callers that accept a stale one', async () => {
    const c = new TtsClient({ target: () => ({ url }), timeoutMs: 1_000, voicesTtlMs: 0 });
    answer = json(200, { engine: 'espeak-ng', version: '1.0.2', voices: [{ id: 'en-us', name: 'English', language: 'en-US', extra: 1 }] });
    expect(await c.voices()).toEqual({ engine: 'espeak-ng@1.0.2', voices: [{ id: 'en-us', name: 'English', language: 'en-US', engine: 'espeak-ng' }] });
    answer = (res) => res.writeHead(500).end();
    await expect(c.voices()).rejects.toBeInstanceOf(TtsWorkerError);
    expect((await c.voices({ allowStale: true })).engine).toBe('espeak-ng@1.0.2');
  });
});

describe('voice settings and rules', () => {
  it('has defaults and names a bad variable', () => {
    expect(parseEnv({}, '/srv')).toMatchObject({ TTS_TIMEOUT_MS: 20_000, TTS_CACHE_MAX_MB: 200, TTS_DEFAULT_VOICE: 'en-us', TTS_FORMAT: 'mp3' });
    expect(parseEnv({}, '/srv').TTS_WORKER_URL).toBeUndefined();
    expect(() => parseEnv({ TTS_WORKER_URL: 'ftp://x' })).toThrow(/TTS_WORKER_URL/);
    expect(() => parseEnv({ TTS_FORMAT: 'flac' })).toThrow(/TTS_FORMAT/);
    expect(() => parseEnv({ TTS_CACHE_MAX_MB: '0' })).toThrow(/TTS_CACHE_MAX_MB/);
  });

  it('queues paid plans first, then free, then guests', () => {
    const plan = (id: string) => DEFAULT_PLANS.find((p) => p.id === id)!;
    expect(priorityFor({ isGuest: false }, plan('pro'))).toBe('paid');
    expect(priorityFor({ isGuest: false }, plan('free'))).toBe('free');
    expect(priorityFor({ isGuest: true }, plan('guest'))).toBe('guest');
  });

  it('keys the cache by engine version, voice, format and text', () => {
    const base = { engine: 'espeak-ng@1.0.2', voice: 'en-us', format: 'mp3', text: 'Hello' };
    const key = clipCacheKey(base);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(clipCacheKey({ ...base })).toBe(key);
    for (const change of [{ engine: 'espeak-ng@1.0.3' }, { voice: 'en-gb' }, { format: 'ogg' }, { text: 'Hello!' }]) {
      expect(clipCacheKey({ ...base, ...change })).not.toBe(key);
    }
  });
});
