import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMp3, decodeOgg, mp3FrameStats, parseWavFile, rms } from '../test/audio-inspect.ts';
import { createApp } from './app.ts';
import { EspeakEngine } from './engines/espeak.ts';
import { createLogger } from './logger.ts';
import { SynthPool } from './pool.ts';

const logger = createLogger('silent');
const engine = new EspeakEngine();

interface Running {
  url: string;
  pool: SynthPool;
  close: () => Promise<void>;
}

async function start(pool: SynthPool, config: { secret?: string; maxTextChars?: number } = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const app = createApp({
    config: { secret: config.secret, maxTextChars: config.maxTextChars ?? 500 },
    pool,
    engine,
    logger,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${url}/synthesize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const REPLY =
  '## Your answer\n\nSure! The **Pro plan** costs $4.50 per month, about 12% less than before. ' +
  'See [the pricing page](https://example.com/pricing) for details 🎉.\n\n```js\nconsole.log("not read");\n```\n\n' +
  '- It renews on the 1st of each month.\n- You can cancel at any time.';

describe('HTTP API', () => {
  let main: Running;
  beforeAll(async () => {
    const pool = new SynthPool({
      threads: 2,
      maxQueue: 8,
      taskTimeoutMs: 2000,
      // Generous, so a request may wait out a thread restart on a busy machine.
      maxQueueWaitMs: 20_000,
      faultInjection: true,
      logger,
    });
    await pool.ready();
    main = { pool, ...(await start(pool)) };
  });
  afterAll(async () => {
    await main.close();
    await main.pool.destroy();
  });

  it('POST /synthesize returns playable MP3 with its headers', async () => {
    const res = await post(main.url, { text: REPLY, voice: 'en-us' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(res.headers.get('x-engine')).toBe(`espeak-ng@${engine.version}`);
    expect(res.headers.get('x-chars')).toBe(String([...REPLY].length));
    const durationMs = Number(res.headers.get('x-audio-duration-ms'));
    const synthesisMs = Number(res.headers.get('x-synthesis-ms'));
    // About 45 spoken words at 175 words per minute: roughly 15 s.
    expect(durationMs).toBeGreaterThan(8000);
    expect(durationMs).toBeLessThan(30_000);
    expect(synthesisMs).toBeGreaterThan(0);
    expect(synthesisMs).toBeLessThan(durationMs);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(mp3FrameStats(body).sampleRate).toBe(22_050);
    const decoded = await decodeMp3(body);
    expect(decoded.errors).toBe(0);
    expect(Math.abs(decoded.durationMs - durationMs)).toBeLessThan(200);
    expect(rms(decoded.samples)).toBeGreaterThan(0.02);
  });

  it('returns WAV and Ogg Vorbis when asked', async () => {
    const wavRes = await post(main.url, { text: 'Hello in wave format.', voice: 'en-gb', format: 'wav', rate: 200 });
    expect(wavRes.status).toBe(200);
    expect(wavRes.headers.get('content-type')).toBe('audio/wav');
    const wav = parseWavFile(new Uint8Array(await wavRes.arrayBuffer()));
    expect(wav).toMatchObject({ format: 1, channels: 1, sampleRate: 22_050, bitsPerSample: 16 });
    const wavMs = (wav.samples.length / 22_050) * 1000;
    expect(Math.abs(wavMs - Number(wavRes.headers.get('x-audio-duration-ms')))).toBeLessThanOrEqual(1);
    expect(rms(wav.samples, 32768)).toBeGreaterThan(0.02);

    const oggRes = await post(main.url, { text: 'Hello in Ogg Vorbis.', voice: 'en-us+f3', format: 'ogg' });
    expect(oggRes.status).toBe(200);
    expect(oggRes.headers.get('content-type')).toBe('audio/ogg');
    const ogg = await decodeOgg(new Uint8Array(await oggRes.arrayBuffer()));
    expect(ogg.errors).toBe(0);
    expect(Math.abs(ogg.durationMs - Number(oggRes.headers.get('x-audio-duration-ms')))).toBeLessThan(5);
  });

  it('streams MP3 with chunked encoding and timing trailers', async () => {
    const { url } = main;
    const { headers, trailers, body } = await new Promise<{
      headers: http.IncomingHttpHeaders;
      trailers: NodeJS.Dict<string>;
      body: Uint8Array;
    }>((resolve, reject) => {
      const req = http.request(`${url}/synthesize`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => resolve({ headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ text: REPLY, voice: 'en-us', stream: true, priority: 'paid' }));
    });
    expect(headers['content-type']).toBe('audio/mpeg');
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(headers['x-chunks']).not.toBe('1');
    const durationMs = Number(trailers['x-audio-duration-ms']);
    expect(durationMs).toBeGreaterThan(8000);
    expect(Number(trailers['x-synthesis-ms'])).toBeGreaterThan(0);
    const decoded = await decodeMp3(body);
    expect(decoded.errors).toBe(0);
    expect(Math.abs(decoded.durationMs - durationMs)).toBeLessThan(200);
  });

  it.each([
    ['no voice', { text: 'hi' }, 'voice'],
    ['an unknown voice', { text: 'hi', voice: 'klingon' }, 'voice'],
    ['an empty text', { text: '  ', voice: 'en-us' }, 'text'],
    ['a text that is not a string', { text: 42, voice: 'en-us' }, 'text'],
    ['a rate out of range', { text: 'hi', voice: 'en-us', rate: 20 }, 'rate'],
    ['an unknown format', { text: 'hi', voice: 'en-us', format: 'flac' }, 'format'],
    ['an unknown priority', { text: 'hi', voice: 'en-us', priority: 'vip' }, 'priority'],
    ['streaming WAV', { text: 'hi', voice: 'en-us', format: 'wav', stream: true }, 'stream'],
    ['nothing speakable', { text: '🎉 👍', voice: 'en-us' }, 'text'],
  ])('400 invalid_input for %s', async (_name, body, field) => {
    const res = await post(main.url, body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { reason: string; message: string; fields: Record<string, string[]> } };
    expect(json.error.reason).toBe('invalid_input');
    expect(json.error.message).toBeTruthy();
    expect(json.error.fields[field]?.length).toBeGreaterThan(0);
  });

  it('400 invalid_input for malformed JSON or no body', async () => {
    const malformed = await post(main.url, '{"text": "hi", ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { reason: string } }).error.reason).toBe('invalid_input');
    const empty = await fetch(`${main.url}/synthesize`, { method: 'POST' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { reason: string } }).error.reason).toBe('invalid_input');
  });

  it('400 input_too_long above the character limit, 413 for absurd bodies', async () => {
    const res = await post(main.url, { text: 'a'.repeat(501), voice: 'en-us' });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { reason: string; fields: Record<string, string[]> } };
    expect(json.error.reason).toBe('input_too_long');
    expect(json.error.fields.text).toBeDefined();
    // Emoji count as one character each, as a user would count them.
    expect((await post(main.url, { text: `${'😀'.repeat(499)} ok`, voice: 'en-us' })).status).toBe(400);
    expect((await post(main.url, { text: `${'😀'.repeat(497)} ok`, voice: 'en-us' })).status).toBe(200);
    const huge = await post(main.url, { text: 'a'.repeat(100_000), voice: 'en-us' });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { reason: string } }).error.reason).toBe('input_too_long');
  });

  it('GET /voices lists the engine voices', async () => {
    const res = await fetch(`${main.url}/voices`);
    expect(res.status).toBe(200);
    const json = (await res.json()) as { engine: string; version: string; voices: Array<Record<string, string>> };
    expect(json.engine).toBe('espeak-ng');
    expect(json.version).toBe(engine.version);
    expect(json.voices).toContainEqual({ id: 'en-us', name: 'English (America)', language: 'en-US' });
    expect(json.voices.every((voice) => voice.id && voice.name && voice.language)).toBe(true);
  });

  it('GET /healthz reports the pool; unknown routes are 404', async () => {
    const res = await fetch(`${main.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      engine: 'espeak-ng',
      poolSize: 2,
      queueDepth: 0,
      utilisation: 0,
      queueByPriority: { paid: 0, free: 0, guest: 0 },
    });
    const missing = await fetch(`${main.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { reason: string } }).error.reason).toBe('not_found');
  });

  it('a poisoned request fails alone (502/504), the thread is replaced, the service goes on', async () => {
    const text = (word: string) => ({ text: `${word} please`, voice: 'en-us' });
    const thrown = await post(main.url, text('ttsfaultthrow'));
    expect(thrown.status).toBe(502);
    expect(((await thrown.json()) as { error: { reason: string } }).error.reason).toBe('synthesis_failed');

    const crashed = await post(main.url, text('ttsfaultcrash'));
    expect(crashed.status).toBe(502);
    expect(((await crashed.json()) as { error: { reason: string } }).error.reason).toBe('synthesis_failed');

    const hung = post(main.url, text('ttsfaulthang'));
    // The other thread keeps serving while one is stuck.
    const meanwhile = await post(main.url, { text: 'Meanwhile, on the other thread.', voice: 'en-us' });
    expect(meanwhile.status).toBe(200);
    const timedOut = await hung;
    expect(timedOut.status).toBe(504);
    expect(((await timedOut.json()) as { error: { reason: string } }).error.reason).toBe('synthesis_failed');

    for (let i = 0; i < 3; i++) {
      const ok = await post(main.url, { text: `Back to normal, round ${i}.`, voice: 'en-us' });
      expect(ok.status).toBe(200);
    }
    // The replacement threads load their engine in the background; both come back.
    await until(() => main.pool.stats().threadsReady === 2, 'both threads to be ready again', 20_000);
    const health = (await (await fetch(`${main.url}/healthz`)).json()) as Record<string, number | boolean>;
    expect(health).toMatchObject({ ok: true, threadsAlive: 2, threadsReady: 2, timedOut: 1 });
    expect(health.threadRestarts).toBeGreaterThanOrEqual(2);
  });

  describe('with TTS_WORKER_SECRET set', () => {
    const secret = 'test-secret-0123456789';
    let secured: { url: string; close: () => Promise<void> };
    beforeAll(async () => {
      secured = await start(main.pool, { secret });
    });
    afterAll(() => secured.close());

    it('requires x-tts-secret on everything but GET /healthz', async () => {
      expect((await fetch(`${secured.url}/healthz`)).status).toBe(200);
      const missing = await fetch(`${secured.url}/voices`);
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as { error: { reason: string } }).error.reason).toBe('unauthenticated');
      expect((await fetch(`${secured.url}/voices`, { headers: { 'x-tts-secret': 'wrong' } })).status).toBe(401);
      expect((await fetch(`${secured.url}/voices`, { headers: { 'x-tts-secret': `${secret}x` } })).status).toBe(401);
      expect((await post(secured.url, { text: 'hi', voice: 'en-us' })).status).toBe(401);
      expect((await fetch(`${secured.url}/voices`, { headers: { 'x-tts-secret': secret } })).status).toBe(200);
      const ok = await post(secured.url, { text: 'Authorised.', voice: 'en-us' }, { 'x-tts-secret': secret });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe('audio/mpeg');
    });
  });
});

describe('HTTP API under overload', () => {
  let tight: Running;
  beforeAll(async () => {
    const pool = new SynthPool({ threads: 1, maxQueue: 2, taskTimeoutMs: 8000, faultInjection: true, logger });
    await pool.ready();
    tight = { pool, ...(await start(pool)) };
  });
  afterAll(async () => {
    await tight.close();
    await tight.pool.destroy();
  });

  it('a full queue answers 503 tts_busy with Retry-After, and the accepted work completes', async () => {
    const blocker = post(tight.url, { text: 'ttsfaultsleep1500 Hold the thread.', voice: 'en-us' });
    await until(() => tight.pool.stats().busy === 1, 'the blocker to start');
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => post(tight.url, { text: `Request ${i}.`, voice: 'en-us' })));
    const statuses = burst.map((res) => res.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 503)).toHaveLength(8);
    for (const res of burst.filter((r) => r.status === 503)) {
      expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      const json = (await res.json()) as { error: { reason: string; retryAfterSeconds: number } };
      expect(json.error.reason).toBe('tts_busy');
      expect(json.error.retryAfterSeconds).toBe(Number(res.headers.get('retry-after')));
    }
    expect((await blocker).status).toBe(200);
    const health = await fetch(`${tight.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, rejected: 8, queueDepth: 0 });
  });

  it('paid requests overtake queued guests, pushing one out when full', async () => {
    const finished: string[] = [];
    const send = (name: string, priority: string) =>
      post(tight.url, { text: `${name}.`, voice: 'en-us', priority }).then(async (res) => {
        if (res.status === 200) finished.push(name);
        return res.status;
      });
    const blocker = send('blocker ttsfaultsleep800', 'guest');
    await until(() => tight.pool.stats().busy === 1, 'the blocker to start');
    const guest1 = send('guest one', 'guest');
    const guest2 = send('guest two', 'guest');
    await until(() => tight.pool.stats().queueDepth === 2, 'two guests queued');
    const paid = send('paid one', 'paid');
    const statuses = await Promise.all([blocker, guest1, guest2, paid]);
    // guest two was the newest guest: it made room for the paid request.
    expect(statuses).toEqual([200, 200, 503, 200]);
    expect(finished).toEqual(['blocker ttsfaultsleep800', 'paid one', 'guest one']);
  });

  it('a client that hangs up while queued gives its place back', async () => {
    const blocker = post(tight.url, { text: 'ttsfaultsleep600 Hold.', voice: 'en-us' });
    await until(() => tight.pool.stats().busy === 1, 'the blocker to start');
    const controller = new AbortController();
    const gone = post(tight.url, { text: 'I will hang up.', voice: 'en-us' }, {}, controller.signal).catch((err: unknown) => err);
    await until(() => tight.pool.stats().queueDepth === 1, 'the request to queue');
    controller.abort();
    expect(await gone).toBeInstanceOf(Error);
    await until(() => tight.pool.stats().queueDepth === 0, 'the queue to empty');
    expect(tight.pool.stats().cancelled).toBe(1);
    expect((await blocker).status).toBe(200);
  });
});
