/**
 * A real HTTP server on 127.0.0.1 that speaks OpenAI's text-to-speech protocol
 * (`POST /v1/audio/speech`) and, like Kokoro-FastAPI and Speaches, `GET /v1/audio/voices`,
 * for TTS_ENGINE=openai-compatible tests (`TTS_BASE_URL: fake.baseUrl`).
 *
 * It answers with real MP3 bytes: test/fixtures/speech/hello.mp3, made once by the built-in
 * engine (eSpeak NG + the worker's MP3 encoder, 2038 ms). Each speech request takes the
 * next behaviour from a queue (`enqueue`), else the default: the audio. Every request is
 * recorded with its headers and body.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const SPEECH_FIXTURE = readFileSync(new URL('../fixtures/speech/hello.mp3', import.meta.url));
export const SPEECH_FIXTURE_MS = 2038;

export interface SpeechBehaviour {
  /** Answer with this status and an OpenAI-shaped error body instead of audio. */
  status?: number;
  error?: { message?: string; type?: string; code?: string };
  headers?: Record<string, string>;
  /** Wait this long before answering (a timeout test sets it above TTS_TIMEOUT_MS). */
  delayMs?: number;
  /** Send the audio without Content-Length, in chunks. */
  chunked?: boolean;
}

export interface SpeechRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { model?: string; voice?: string; input?: string; response_format?: string } | undefined;
}

export interface FakeSpeechServer {
  /** The API base with /v1, as TTS_BASE_URL takes it. */
  baseUrl: string;
  requests: SpeechRequest[];
  /** POST /v1/audio/speech requests so far. */
  speeches(): SpeechRequest[];
  enqueue(...behaviours: SpeechBehaviour[]): void;
  /** GET /v1/audio/voices answers this body; `null` makes it a 404 (as OpenAI itself answers). */
  setVoices(body: unknown): void;
  close(): Promise<void>;
}

export async function startFakeSpeechServer(): Promise<FakeSpeechServer> {
  const requests: SpeechRequest[] = [];
  const queue: SpeechBehaviour[] = [];
  let voices: unknown = { voices: ['af_bella', 'am_adam', 'bf_emma', 'ff_siwis'] };
  const sockets = new Set<import('node:net').Socket>();

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: SpeechRequest['body'];
    try {
      body = text ? (JSON.parse(text) as SpeechRequest['body']) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '').split('?')[0]!;
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });

    if (req.method === 'GET' && path === '/v1/audio/voices') {
      if (voices === null) return json(res, 404, { error: { message: 'Not found', type: 'invalid_request_error' } });
      return json(res, 200, voices);
    }
    if (req.method !== 'POST' || path !== '/v1/audio/speech') return json(res, 404, { error: { message: 'Not found' } });

    const behaviour = queue.shift() ?? {};
    if (behaviour.delayMs) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
    if (res.destroyed) return;
    if (behaviour.status) {
      return json(res, behaviour.status, { error: { message: 'fake failure', type: 'server_error', ...behaviour.error } }, behaviour.headers);
    }
    if (!body || typeof body.input !== 'string' || !body.input || typeof body.voice !== 'string' || typeof body.model !== 'string') {
      return json(res, 400, { error: { message: 'model, voice and input are required', type: 'invalid_request_error' } });
    }
    if (behaviour.chunked) {
      res.writeHead(200, { 'content-type': 'audio/mpeg', ...behaviour.headers });
      for (let at = 0; at < SPEECH_FIXTURE.byteLength && !res.destroyed; at += 512) res.write(SPEECH_FIXTURE.subarray(at, at + 512));
      return void res.end();
    }
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': String(SPEECH_FIXTURE.byteLength), ...behaviour.headers });
    res.end(SPEECH_FIXTURE);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    speeches: () => requests.filter((r) => r.method === 'POST' && r.path === '/v1/audio/speech'),
    enqueue: (...behaviours) => void queue.push(...behaviours),
    setVoices: (body) => {
      voices = body;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
