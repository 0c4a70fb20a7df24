// The TTS worker for server tests: the real one, built from tts-worker/src with its
// own build script and run by the same supervisor `npm start` uses; a counting
// proxy in front of it (how many syntheses the worker was asked for); and a fake
// worker that is busy or silent, for the failure cases only.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLogger } from '../../src/lib/logger.ts';
import type { TtsWorkerTarget } from '../../src/tts/tts-client.ts';
import { TtsWorkerProcess } from '../../src/tts/worker-process.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const workerRoot = path.join(repoRoot, 'tts-worker');

/** Builds tts-worker into a scratch folder under node_modules/.cache, so its dependencies resolve as for dist/. */
export async function buildWorker(): Promise<{ script: string; cleanup(): Promise<void> }> {
  const outdir = path.join(repoRoot, 'node_modules', '.cache', 'chatmeter-tts-worker-test', randomUUID());
  await promisify(execFile)(process.execPath, ['build.mjs', '--outdir', outdir], { cwd: workerRoot });
  return { script: path.join(outdir, 'server.js'), cleanup: () => rm(outdir, { recursive: true, force: true }) };
}

export async function startRealWorker(script: string, env: Record<string, string> = {}): Promise<TtsWorkerProcess> {
  const worker = new TtsWorkerProcess({
    script,
    parentEnv: { PATH: process.env.PATH, TTS_THREADS: '1', TTS_LOG_LEVEL: 'silent', ...env },
    initialBackoffMs: 100,
    maxBackoffMs: 1_000,
  });
  worker.start(createLogger('silent'));
  if (!(await worker.ready(30_000))) throw new Error('the TTS worker did not start');
  return worker;
}

export interface CountingProxy {
  url: string;
  /** POST /synthesize requests that reached the worker. */
  syntheses(): number;
  /** Holds the next synthesis request until `release()`; `arrived` resolves when it came in. */
  holdNextSynthesis(): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

/** Forwards everything to the worker (wherever it is now) and counts synthesis requests. */
export async function countingProxy(target: () => TtsWorkerTarget | undefined): Promise<CountingProxy> {
  let syntheses = 0;
  let hold: { arrive(): void; released: Promise<void> } | undefined;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === 'POST' && req.url === '/synthesize' && hold) {
      const held = hold;
      hold = undefined;
      held.arrive();
      await held.released;
    }
    const to = target();
    if (!to) {
      res.writeHead(502).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/synthesize') syntheses++;
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers.set(name, value);
    }
    try {
      const upstream = await fetch(`${to.url}${req.url}`, {
        method: req.method,
        headers,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!['content-length', 'connection', 'keep-alive', 'transfer-encoding', 'content-encoding'].includes(name)) out[name] = value;
      });
      res.writeHead(upstream.status, { ...out, 'content-length': String(body.byteLength) }).end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    syntheses: () => syntheses,
    holdNextSynthesis: () => {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      hold = { arrive, released: new Promise<void>((resolve) => (release = resolve)) };
      return { arrived, release };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FakeMode = 'busy' | 'hang';

/** Answers GET /voices like the worker, and POST /synthesize with 503 + Retry-After (busy) or never (hang). */
export async function fakeWorker(initial: FakeMode): Promise<{ url: string; mode: FakeMode; syntheses(): number; close(): Promise<void> }> {
  let syntheses = 0;
  const state = { mode: initial };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/voices') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ engine: 'fake', version: '1', voices: [{ id: 'en-us', name: 'English (America)', language: 'en-US' }] }));
      return;
    }
    if (req.method === 'POST' && req.url === '/synthesize') {
      syntheses++;
      req.resume();
      if (state.mode === 'busy') {
        res
          .writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' })
          .end(JSON.stringify({ error: { reason: 'tts_busy', message: 'queue full', retryAfterSeconds: 7 } }));
      }
      // 'hang': no answer; the server's TTS_TIMEOUT_MS gives up.
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get mode() {
      return state.mode;
    },
    set mode(mode: FakeMode) {
      state.mode = mode;
    },
    syntheses: () => syntheses,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL where nothing listens. */
export async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

export function tempDataDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'chatmeter-tts-'));
}

/** What a browser checks before playing: MP3 (ID3 tag or a frame sync), Ogg or RIFF/WAVE. */
export function audioKind(bytes: Uint8Array): 'mp3' | 'ogg' | 'wav' | 'unknown' {
  const ascii = (start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));
  if (ascii(0, 3) === 'ID3') return 'mp3';
  if (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0) return 'mp3';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  return 'unknown';
}
