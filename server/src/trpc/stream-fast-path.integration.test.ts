// The stream fast path (stream-fast-path.ts) must answer a streamed chat exactly as tRPC's
// own handler does. The same requests go to a server with it and to one without it
// (TRPC_STREAM_FAST_PATH=0, on the same database and fake provider), and the answers are
// compared byte for byte, with what each reported to the onError hook. The real
// @trpc/client reads the fast answers; a client that leaves mid-stream has its reply
// settled and the procedure's iterator returned; anything else still reaches tRPC.
import { initTRPC, TRPCError } from '@trpc/server';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import superjson from 'superjson';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { COUNTER, userSubject } from '../metering/counters.ts';
import { dayStart } from '../metering/periods.ts';
import { STREAMING_PROCEDURES } from '../routers/_app.ts';
import { startFakeOpenAIServer, type FakeBehaviour, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestBrowser, trpcError, type TestServer } from '../../test/helpers/server.ts';
import pino from 'pino';
import { streamFastPath } from './stream-fast-path.ts';

/** Paths the fast path answered itself (it declines synchronously, by calling `next` or answering false). */
const served = vi.hoisted(() => [] as string[]);
vi.mock('./stream-fast-path.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('./stream-fast-path.ts')>();
  return {
    ...original,
    streamFastPath: (...args: Parameters<typeof original.streamFastPath>) => {
      const handler = original.streamFastPath(...args);
      const counted = (req: Request, res: Response, next: NextFunction) => {
        let declined = false;
        handler(req, res, () => {
          declined = true;
          next();
        });
        if (!declined) served.push(req.path.slice(1));
      };
      // The front door's way in (app.ts): the request already taken by `accepts`.
      const serveAccepted = (req: Request, res: Response) => {
        const taken = handler.serveAccepted(req, res);
        if (taken) served.push(req.path.slice(1));
        return taken;
      };
      return Object.assign(counted, { accepts: handler.accepts, serveAccepted });
    },
  };
});

let fake: FakeOpenAIServer;
let fast: TestServer;
let trpc: TestServer;

beforeAll(async () => {
  fake = await startFakeOpenAIServer();
  const env = { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0' };
  const limits = { chat: { points: 10_000, duration: 60 }, chatIp: { points: 10_000, duration: 60 } };
  fast = await startTestServer(env, { limits });
  trpc = await startTestServer({ ...env, TRPC_STREAM_FAST_PATH: '0' }, { limits, sameDatabaseAs: fast });
});
afterAll(async () => {
  await trpc?.close();
  await fast?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.reset();
  fake.setDefault({});
  served.length = 0;
});

let n = 0;
/** A signed-up account's session cookie (valid on both servers: they share the database). */
async function newAccount(): Promise<{ id: string; cookie: string; b: TestBrowser }> {
  const b = fast.browser({ ip: `10.30.0.${++n}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `fast${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  return { id: user.id, cookie: [...b.cookies].map(([k, v]) => `${k}=${v.value}`).join('; '), b };
}

async function exhaustMessages(userId: string) {
  await fast.deps.prisma.$executeRaw(Prisma.sql`
    INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${userSubject(userId)}, ${COUNTER.messagesDay}, ${dayStart(new Date())}::timestamptz, 1000::bigint)
    ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
}

interface RawCall {
  path: string;
  body: string;
  method?: string;
  cookie?: string;
  /** Default: the server's own origin. */
  origin?: string;
  headers?: Record<string, string>;
}

const STREAM_HEADERS = { 'content-type': 'application/json', 'trpc-accept': 'application/jsonl' };
const input = (json: unknown) => JSON.stringify({ 0: { json } });
const HEADERS_THAT_MATTER = ['content-type', 'vary', 'transfer-encoding', 'x-accel-buffering', 'content-encoding', 'content-length'];

/** Status, the headers the client reads, and the body with ids and clock-bound numbers made stable. */
async function raw(server: TestServer, call: RawCall) {
  const response = await fetch(`${server.url}/trpc/${call.path}`, {
    method: call.method ?? 'POST',
    headers: { ...STREAM_HEADERS, origin: call.origin ?? server.url, ...(call.cookie ? { cookie: call.cookie } : {}), ...call.headers },
    ...(call.method === 'GET' ? {} : { body: call.body }),
  });
  const body = (await response.text())
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/"retryAfterSeconds":\d+/g, '"retryAfterSeconds":<n>');
  return { status: response.status, headers: Object.fromEntries(HEADERS_THAT_MATTER.map((h) => [h, response.headers.get(h)])), body };
}

/** The same request to both servers, each after `prepare`; also what each reported through onError. */
async function both(call: (server: TestServer) => RawCall, prepare: () => void | Promise<void> = () => {}) {
  const answers = [];
  for (const server of [fast, trpc]) {
    const recorded = vi.spyOn(server.deps.metrics, 'recordTrpcError');
    const logged = vi.spyOn(server.deps.logger, 'error');
    await prepare();
    const answer = await raw(server, call(server));
    answers.push({ ...answer, recorded: recorded.mock.calls, logged: logged.mock.calls.length });
    recorded.mockRestore();
    logged.mockRestore();
  }
  return { viaFastPath: answers[0]!, viaTrpc: answers[1]! };
}

describe('the fast path answers with tRPC’s bytes', () => {
  const send = (json: unknown, extra: Partial<RawCall> = {}) => ({ path: 'chat.send?batch=1', body: input(json), ...extra });

  it('a normal reply: head, result, start, delta, done, return', async () => {
    const { cookie } = await newAccount();
    const { viaFastPath, viaTrpc } = await both(
      () => send({ content: 'hi' }, { cookie }),
      () => fake.enqueue({ reply: 'Hello there', chunks: 1, usage: { prompt_tokens: 10, completion_tokens: 2 } }),
    );
    expect(viaFastPath).toEqual(viaTrpc);
    expect(viaFastPath.status).toBe(200);
    expect(viaFastPath.headers).toMatchObject({
      'content-type': 'application/json',
      vary: 'trpc-accept, accept',
      'transfer-encoding': 'chunked',
      'x-accel-buffering': 'no',
    });
    expect(viaFastPath.body.split('\n').map((line) => line.slice(0, 16))).toEqual([
      '{"json":{"0":[[0',
      '{"json":[0,0,[[{',
      '{"json":[1,0,[[{',
      '{"json":[2,0,[[0',
      '{"json":[3,1,[[{',
      '{"json":[3,1,[[{',
      '{"json":[3,1,[[{',
      '{"json":[3,0,[[]',
      '',
    ]);
    expect(served).toEqual(['chat.send']);
  });

  const refusals: [string, (account: { cookie: string }) => (server: TestServer) => RawCall, ((userId: string) => Promise<void>)?][] = [
    [
      'input too long',
      ({ cookie }) =>
        () =>
          send({ content: 'x'.repeat(100_001) }, { cookie }),
    ],
    [
      'quota exhausted',
      ({ cookie }) =>
        () =>
          send({ content: 'hi' }, { cookie }),
      exhaustMessages,
    ],
    ['unauthenticated', () => () => ({ path: 'chat.regenerate?batch=1', body: input({ messageId: '00000000-0000-4000-8000-000000000000' }) })],
    [
      'a foreign origin (csrf)',
      ({ cookie }) =>
        () =>
          send({ content: 'hi' }, { cookie, origin: 'https://evil.example' }),
    ],
    [
      'a body too large',
      ({ cookie }) =>
        () =>
          send({ content: 'x'.repeat(300_000) }, { cookie }),
    ],
    [
      'a body in an unknown encoding',
      ({ cookie }) =>
        () =>
          send({ content: 'hi' }, { cookie, headers: { 'content-encoding': 'zz' } }),
    ],
    [
      'a body that is not JSON',
      ({ cookie }) =>
        () => ({ path: 'chat.send?batch=1', body: '{"0":', cookie }),
    ],
    [
      'an empty body',
      ({ cookie }) =>
        () => ({ path: 'chat.send?batch=1', body: '', cookie }),
    ],
    [
      'a batch body that is not an object',
      ({ cookie }) =>
        () => ({ path: 'chat.edit?batch=1', body: '[1]', cookie }),
    ],
  ];
  it.each(refusals)('a refusal before the stream: %s', async (_name, request, prepare) => {
    const account = await newAccount();
    await prepare?.(account.id);
    const { viaFastPath, viaTrpc } = await both(request(account));
    expect(viaFastPath).toEqual(viaTrpc);
    expect(viaFastPath.body).toMatch(/^\{"json":\{"0":\[\[0\],\[null,0,0\]\]\}\}\n\{"json":\[0,0,\[\[\{"error":\{.*\}\}\]\]\]\}\n$/);
    expect(served).toHaveLength(1);
  });

  it('a provider failure mid-stream: the error line, reported to onError as tRPC reports it', async () => {
    const { cookie } = await newAccount();
    const { viaFastPath, viaTrpc } = await both(
      () => send({ content: 'drop me' }, { cookie }),
      () => fake.enqueue({ reply: 'alpha beta', chunks: 2, dropAfterChunks: 1 } satisfies FakeBehaviour),
    );
    expect(viaFastPath).toEqual(viaTrpc);
    expect(viaFastPath.body).toContain('{"json":[3,2,{"message":"The AI provider is unavailable right now. Please try again later."');
    expect(viaFastPath.recorded).toEqual([['provider_unavailable', undefined]]);
    expect(served).toEqual(['chat.send']);
  });
});

describe('the real @trpc/client on the fast path', () => {
  it('gets start, delta and done, and typed errors with data.reason', async () => {
    const { b } = await newAccount();
    served.length = 0;
    fake.enqueue({ reply: 'Hello from the fake', chunks: 3, chunkDelayMs: 20 });
    const reply = await send(b, { content: 'hello' });
    expect(reply.events.map((e) => e.type)).toEqual(['start', 'delta', 'delta', 'delta', 'done']);
    expect(reply.text).toBe('Hello from the fake');

    fake.enqueue({ reply: 'alpha beta', chunks: 2, dropAfterChunks: 1 });
    expect(await trpcError(send(b, { content: 'drop me' }))).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'provider_unavailable' });
    expect(await trpcError(send(b, { content: '' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    const stranger = fast.browser({ ip: '10.31.0.2' });
    expect(await trpcError(stranger.trpc.chat.regenerate.mutate({ messageId: reply.start!.messageId }))).toMatchObject({ reason: 'unauthenticated' });
    expect(served).toEqual(['chat.send', 'chat.send', 'chat.send', 'chat.regenerate']);
  });

  it('a guest’s first message gets its session cookie on the streamed answer', async () => {
    const b = fast.browser({ ip: '10.31.0.3' });
    const reply = await send(b, { content: 'hi' });
    expect(reply.done?.status).toBe('ok');
    expect(await b.trpc.auth.me.query()).toMatchObject({ isGuest: true });
    expect(served).toEqual(['chat.send']);
  });

  it('a client that leaves mid-stream has its reply settled as aborted and the provider call closed', async () => {
    const { b, id } = await newAccount();
    fake.enqueue({ reply: 'one two three four five six seven eight', chunks: 8, chunkDelayMs: 80 });
    const result = await send(b, { content: 'count slowly' }, { stopAfterDeltas: 2 });
    expect(result.done).toBeUndefined();
    const event = await eventually(async () => fast.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } }));
    expect(event.status).toBe('aborted');
    await eventually(async () => expect(fake.requests[0]!.clientClosed).toBe(true));
    expect(served).toEqual(['chat.send']);
  });
});

describe('the front door (before express) answers as express would', () => {
  it('the same headers in the same order, the request id, the timer and pino-http’s log line', async () => {
    const lines: string[][] = [[], []];
    const env = { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0', LOG_LEVEL: 'info' };
    const servers = [
      await startTestServer(env, { sameDatabaseAs: fast, logger: pino({ level: 'info' }, { write: (line: string) => void lines[0]!.push(line) }) }),
      await startTestServer(
        { ...env, TRPC_STREAM_FAST_PATH: '0' },
        { sameDatabaseAs: fast, logger: pino({ level: 'info' }, { write: (line: string) => void lines[1]!.push(line) }) },
      ),
    ];
    try {
      const { cookie } = await newAccount();
      const answers = [];
      for (const [i, server] of servers.entries()) {
        fake.enqueue({ reply: 'Hi', chunks: 1, usage: { prompt_tokens: 3, completion_tokens: 1 } });
        const response = await fetch(`${server.url}/trpc/chat.send?batch=1`, {
          method: 'POST',
          headers: { ...STREAM_HEADERS, origin: server.url, cookie, 'x-request-id': `front-door-${i}` },
          body: input({ content: 'hi' }),
        });
        await response.text();
        const requestLog = await eventually(async () => {
          const line = lines[i]!.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request completed');
          expect(line).toBeDefined();
          return line!;
        });
        answers.push({
          status: response.status,
          headers: [...response.headers].filter(([name]) => name !== 'date').map(([name, value]) => [name, value.replace(`front-door-${i}`, '<id>')]),
          log: { ...requestLog, time: 0, responseTime: typeof requestLog.responseTime, req: { ...(requestLog.req as object), id: '<id>' } },
          timed: (await server.deps.metrics.registry.getSingleMetricAsString('chatmeter_http_request_duration_seconds')).includes('route="/trpc/chat.send"'),
        });
      }
      expect(answers[0]).toEqual(answers[1]);
      expect(answers[0]!.headers).toContainEqual(['x-request-id', '<id>']);
      expect(answers[0]!.headers.map(([name]) => name)).toContain('content-security-policy');
      expect(answers[0]!.log).toMatchObject({ level: 30, req: { method: 'POST', url: '/trpc/chat.send' }, res: { statusCode: 200 } });
      expect(answers[0]!.timed).toBe(true);
      expect(served).toEqual(['chat.send']);
    } finally {
      for (const server of servers) await server.close();
    }
  });
});

describe('requests the fast path leaves to tRPC', () => {
  const cases: [string, (cookie: string) => RawCall][] = [
    [
      'a batch of two calls',
      (cookie) => ({ path: 'chat.send,chat.send?batch=1', body: JSON.stringify({ 0: { json: { content: 'a' } }, 1: { json: { content: 'b' } } }), cookie }),
    ],
    ['another procedure', (cookie) => ({ path: 'chat.selectVersion?batch=1', body: input({ messageId: '00000000-0000-4000-8000-000000000000' }), cookie })],
    ['a GET', (cookie) => ({ path: 'chat.send?batch=1', body: '', method: 'GET', cookie })],
    ['no jsonl accept header', (cookie) => ({ path: 'chat.send?batch=1', body: input({ content: 'hi' }), cookie, headers: { 'trpc-accept': '' } })],
    ['not a batch', (cookie) => ({ path: 'chat.send', body: JSON.stringify({ json: { content: 'hi' } }), cookie })],
  ];
  it.each(cases)('%s', async (_name, request) => {
    const { cookie } = await newAccount();
    fake.setDefault({ reply: 'ok', chunks: 1, usage: { prompt_tokens: 1, completion_tokens: 1 } });
    const { viaFastPath, viaTrpc } = await both(() => request(cookie));
    // Two calls of a batch may stream their lines in either order.
    const sorted = (answer: typeof viaFastPath) => ({ ...answer, body: answer.body.split('\n').sort() });
    expect(sorted(viaFastPath)).toEqual(sorted(viaTrpc));
    expect(served).toEqual([]);
  });
});

describe('the fast path on a router of its own', () => {
  // Values tRPC encodes with superjson meta (a Date), an undefined event, a return value,
  // a plain (non-stream) result and a non-tRPC error mid-stream: the same bytes both ways.
  // Not dev: a stack trace (which names each handler's own frames) stays out of the error shape.
  const t = initTRPC.create({ transformer: superjson, isDev: false });
  const finished = { stream: false, signal: false };
  let release = () => {};
  const router = t.router({
    events: t.procedure.mutation(async function* () {
      yield { at: new Date('2026-01-02T03:04:05Z'), big: 10n };
      yield undefined;
      return 'bye';
    }),
    plain: t.procedure.mutation(() => ({ at: new Date('2026-01-02T03:04:05Z') })),
    fails: t.procedure.mutation(async function* () {
      yield 1;
      throw new Error('boom');
    }),
    refuses: t.procedure.mutation(() => {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'no' });
    }),
    endless: t.procedure.mutation(async function* ({ signal }) {
      signal?.addEventListener('abort', () => {
        finished.signal = true;
      });
      try {
        for (;;) {
          yield 'tick';
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
      } finally {
        finished.stream = true;
      }
    }),
  });
  const errors: { fast: unknown[]; trpc: unknown[] } = { fast: [], trpc: [] };
  const servers: { fast?: import('node:http').Server; trpc?: import('node:http').Server } = {};
  const urls = { fast: '', trpc: '' };

  beforeAll(async () => {
    for (const kind of ['fast', 'trpc'] as const) {
      const options = {
        router,
        createContext: async () => ({}),
        middleware: express.text({ type: () => true }),
        onError: ({ error, path }: { error: TRPCError; path: string | undefined }) => errors[kind].push([error.message, path]),
      };
      const app = express();
      if (kind === 'fast') app.use('/trpc', streamFastPath({ ...options, paths: ['events', 'plain', 'fails', 'refuses', 'endless'] }));
      app.use('/trpc', createExpressMiddleware(options));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      servers[kind] = server;
      urls[kind] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  });
  afterAll(() => {
    for (const server of Object.values(servers)) server?.closeAllConnections();
    for (const server of Object.values(servers)) server?.close();
  });

  const call = async (kind: 'fast' | 'trpc', path: string) => {
    const response = await fetch(`${urls[kind]}/trpc/${path}?batch=1`, { method: 'POST', headers: STREAM_HEADERS, body: input(null) });
    return { status: response.status, headers: Object.fromEntries(HEADERS_THAT_MATTER.map((h) => [h, response.headers.get(h)])), body: await response.text() };
  };

  it.each(['events', 'plain', 'fails', 'refuses'])('%s', async (path) => {
    errors.fast.length = 0;
    errors.trpc.length = 0;
    expect(await call('fast', path)).toEqual(await call('trpc', path));
    expect(errors.fast).toEqual(errors.trpc);
    expect(served).toEqual([path]);
  });

  it('a client that leaves mid-stream aborts the signal and returns the iterator', async () => {
    const controller = new AbortController();
    const response = await fetch(`${urls.fast}/trpc/endless?batch=1`, {
      method: 'POST',
      headers: STREAM_HEADERS,
      body: input(null),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('tick')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await eventually(async () => expect(finished.signal).toBe(true));
    // The generator waits where it yielded; the next event finds the client gone and returns it.
    release();
    await eventually(async () => expect(finished.stream).toBe(true));
  });
});

it('serves exactly the procedures the client streams (client/src/trpc.ts)', async () => {
  const { readFile } = await import('node:fs/promises');
  const client = await readFile(new URL('../../../client/src/trpc.ts', import.meta.url), 'utf8');
  const listed = /STREAMING_PATHS = new Set\(\[([^\]]*)\]\)/.exec(client)?.[1]?.match(/'[^']+'/g);
  expect(listed?.map((p) => p.slice(1, -1)).sort()).toEqual([...STREAMING_PROCEDURES].sort());
});
