// nodeFetch against a local node:http server: what the openai SDK relies on (see the
// module comment of node-fetch.ts), compared with Node's own fetch where they must agree.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { brotliCompressSync, createGzip, gzipSync } from 'node:zlib';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError, RateLimitError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNodeFetch } from './node-fetch.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => unknown;

interface Exchange {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The response was ended by the server. */
  finished: boolean;
  /** Resolves when the server-side response closes, with whether it had finished. */
  closed: Promise<boolean>;
}

let server: Server;
let base: string;
let handler: Handler = (_req, res) => res.end('ok');
const exchanges: Exchange[] = [];
const sockets = new Set<Socket>();
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const exchange: Exchange = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        finished: false,
        closed: new Promise((resolve) => res.once('close', () => resolve(exchange.finished))),
      };
      res.once('finish', () => (exchange.finished = true));
      exchanges.push(exchange);
      void handler(req, res, exchange.body);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  handler = (_req, res) => res.end('ok');
  exchanges.length = 0;
  for (const socket of sockets) socket.destroy();
  connections = 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A fresh pool per test, so that connection counts do not depend on earlier tests. */
function freshFetch() {
  return createNodeFetch();
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('responses', () => {
  it('streams the body incrementally as a Node Readable', async () => {
    const second = deferred();
    handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_1' });
      res.write('data: one\n\n');
      await second.promise;
      res.end('data: two\n\n');
    };
    const response = await freshFetch()(`${base}/stream?x=1#frag`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('OK');
    expect(response.url).toBe(`${base}/stream?x=1`);
    expect(response.redirected).toBe(false);
    expect(response.headers).toBeInstanceOf(Headers);
    expect(response.headers.get('x-request-id')).toBe('req_1');
    // The SDK iterates the body directly when it is async-iterable.
    expect(response.body).toBeInstanceOf(Readable);
    const iterator = (response.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(Buffer.from(first.value as Buffer).toString()).toBe('data: one\n\n');
    // The second chunk does not exist yet: the first was delivered on its own.
    second.resolve();
    const rest: string[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(String(next.value));
    expect(rest.join('')).toBe('data: two\n\n');
    expect(await exchanges[0]!.closed).toBe(true);
  });

  it('reads a non-2xx JSON error body with text() and json(), once', async () => {
    handler = (_req, res) => {
      res.writeHead(429, 'Too Many Requests', { 'content-type': 'application/json', 'retry-after-ms': '50' });
      res.end(JSON.stringify({ error: { message: 'slow down', code: 'rate_limit_exceeded' } }));
    };
    const fetch = freshFetch();
    const response = await fetch(`${base}/v1/x`, { method: 'POST', body: '{}' });
    expect(response.ok).toBe(false);
    expect(response.status).toBe(429);
    expect(response.statusText).toBe('Too Many Requests');
    expect(response.headers.get('retry-after-ms')).toBe('50');
    expect(await response.json()).toEqual({ error: { message: 'slow down', code: 'rate_limit_exceeded' } });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toBeInstanceOf(TypeError);
    const again = await fetch(`${base}/v1/x`, { method: 'POST', body: '{}' });
    const bytes = new Uint8Array(await again.arrayBuffer());
    expect(Buffer.from(bytes).toString()).toContain('slow down');
  });

  it('has no body for HEAD and 204, and still reuses the connection', async () => {
    handler = (req, res) => {
      res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'content-length': req.method === 'HEAD' ? '10' : '0' });
      res.end();
    };
    const fetch = freshFetch();
    const head = await fetch(`${base}/h`, { method: 'HEAD' });
    expect(head.body).toBeNull();
    expect(await head.text()).toBe('');
    const empty = await fetch(`${base}/e`, { method: 'DELETE' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(connections).toBe(1);
  });

  it('matches the built-in fetch on status, headers, url and text', async () => {
    handler = (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-multi', ['one', 'two']);
      res.writeHead(201, 'Made It', { 'content-type': 'application/json; charset=utf-8' });
      res.end('\ufeff{"ok":true,"text":"héllo"}');
    };
    const url = `${base}/compare?q=%20x`;
    const init = { method: 'post', headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
    const ours = await freshFetch()(url, init);
    const theirs = await fetch(url, init);
    const shape = async (r: Response) => ({
      status: r.status,
      ok: r.ok,
      statusText: r.statusText,
      url: r.url,
      headers: [...r.headers].filter(([name]) => name !== 'date' && name !== 'keep-alive' && name !== 'connection'),
      setCookie: r.headers.getSetCookie(),
      text: await r.text(),
    });
    expect(await shape(ours)).toEqual(await shape(theirs));
    expect(exchanges[0]!.method).toBe('POST');
    expect(exchanges[0]!.body).toBe(exchanges[1]!.body);
  });

  it('decodes gzip and br responses, although it does not ask for them', async () => {
    handler = (req, res) => {
      const text = 'compressed '.repeat(50);
      const br = req.url === '/br';
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': br ? 'br' : 'gzip' });
      res.end(br ? brotliCompressSync(text) : gzipSync(text));
    };
    const fetch = freshFetch();
    expect(await (await fetch(`${base}/gz`)).text()).toBe('compressed '.repeat(50));
    expect(await (await fetch(`${base}/br`)).text()).toBe('compressed '.repeat(50));
    expect(exchanges[0]!.headers['accept-encoding']).toBeUndefined();
  });

  it('streams a gzip body chunk by chunk, and an abort still reaches the socket', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gzip = createGzip();
      gzip.pipe(res);
      gzip.write('data: one\n\n');
      gzip.flush(); // the rest never comes
    };
    const controller = new AbortController();
    const response = await freshFetch()(`${base}/gz-stream`, { signal: controller.signal });
    const chunks: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of response.body as unknown as AsyncIterable<Buffer>) {
          chunks.push(String(chunk));
          controller.abort();
        }
      })(),
    );
    expect(chunks).toEqual(['data: one\n\n']);
    expect(error.name).toBe('AbortError');
    expect(response.bodyUsed).toBe(true);
    expect(await exchanges[0]!.closed).toBe(false);
  });
});

describe('requests', () => {
  it('takes headers as Headers, pairs or a record, and string or byte bodies', async () => {
    handler = (_req, res) => res.end();
    const fetch = freshFetch();
    await fetch(`${base}/a`, {
      method: 'POST',
      headers: new Headers({ Authorization: 'Bearer k', 'X-Multi': 'one' }),
      body: 'héllo',
    });
    await fetch(`${base}/b`, {
      method: 'put',
      headers: [
        ['X-Multi', 'one'],
        ['x-multi', '  two\t'],
        ['Content-Type', 'application/octet-stream'],
      ],
      body: new TextEncoder().encode('bytes'),
    });
    await fetch(`${base}/c`, { method: 'patch', headers: { 'X-Record': 'yes', Accept: 'application/json' }, body: new URLSearchParams({ a: 'b c' }) });
    await fetch(`${base}/d`, { method: 'POST' });
    const [a, b, c, d] = exchanges;
    expect(a).toMatchObject({ method: 'POST', body: 'héllo' });
    expect(a!.headers).toMatchObject({
      authorization: 'Bearer k',
      'x-multi': 'one',
      'content-type': 'text/plain;charset=UTF-8',
      'content-length': String(Buffer.byteLength('héllo')),
      accept: '*/*',
    });
    expect(b).toMatchObject({ method: 'PUT', body: 'bytes' });
    expect(b!.headers).toMatchObject({ 'x-multi': 'one, two', 'content-type': 'application/octet-stream', 'content-length': '5' });
    // Unlike fetch, which sends `patch` as given: Node's http client upper-cases every method.
    expect(c).toMatchObject({ method: 'PATCH', body: 'a=b+c' });
    expect(c!.headers).toMatchObject({ 'x-record': 'yes', accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' });
    expect(d!.headers['content-length']).toBe('0');
  });

  it('rejects what fetch rejects, with a TypeError', async () => {
    const fetch = freshFetch();
    await expect(fetch(`${base}/x`, { method: 'GET', body: 'no' })).rejects.toBeInstanceOf(TypeError);
    await expect(fetch(`${base}/x`, { headers: { 'bad name': 'x' } })).rejects.toBeInstanceOf(TypeError);
    await expect(fetch(`${base}/x`, { headers: { ok: 'line\nbreak' } })).rejects.toBeInstanceOf(TypeError);
    await expect(fetch('not a url')).rejects.toBeInstanceOf(TypeError);
    expect(exchanges).toHaveLength(0);
  });

  it('follows redirects as fetch does', async () => {
    handler = (req, res) => {
      if (req.url === '/303') return void res.writeHead(303, { location: '/target' }).end();
      if (req.url === '/307') return void res.writeHead(307, { location: `${base}/target` }).end('moved');
      res.end(`${req.method} ${req.url}`);
    };
    const fetch = freshFetch();
    const seeOther = await fetch(`${base}/303`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await seeOther.text()).toBe('GET /target');
    expect(seeOther.redirected).toBe(true);
    expect(seeOther.url).toBe(`${base}/target`);
    expect(exchanges[1]!.headers['content-type']).toBeUndefined();
    const temporary = await fetch(`${base}/307`, { method: 'POST', body: 'again' });
    expect(await temporary.text()).toBe('POST /target');
    expect(exchanges[3]!.body).toBe('again');
    const manual = await fetch(`${base}/307`, { redirect: 'manual' });
    expect(manual.status).toBe(307);
    await manual.text();
    await expect(fetch(`${base}/307`, { redirect: 'error' })).rejects.toBeInstanceOf(TypeError);
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    handler = (_req, res) => res.end('x');
    const fetch = freshFetch();
    for (let i = 0; i < 5; i++) expect(await (await fetch(`${base}/k`, { method: 'POST', body: '{}' })).text()).toBe('x');
    expect(connections).toBe(1);
    // Error responses and responses read as a stream give the connection back too.
    handler = (_req, res) => res.writeHead(500).end('boom');
    await (await fetch(`${base}/k`)).text();
    handler = (_req, res) => res.end('streamed');
    for await (const _ of (await fetch(`${base}/k`)).body as unknown as AsyncIterable<Buffer>);
    await sleep(10);
    await (await fetch(`${base}/k`)).text();
    expect(connections).toBe(1);
  });

  it('does not cut a slow first byte when the agent expires idle sockets sooner', async () => {
    const { Agent } = await import('node:http');
    const fetch = createNodeFetch({ httpAgent: new Agent({ keepAlive: true, timeout: 100 }) });
    handler = async (_req, res) => {
      await sleep(400);
      res.end('late');
    };
    expect(await (await fetch(`${base}/slow`)).text()).toBe('late');
  });
});

describe('aborts', () => {
  it('an aborted signal rejects with its reason and sends nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(freshFetch()(`${base}/x`, { signal: controller.signal }));
    expect(error.name).toBe('AbortError');
    const custom = new AbortController();
    custom.abort(new Error('mine'));
    expect(await rejection(freshFetch()(`${base}/x`, { signal: custom.signal }))).toBe(custom.signal.reason);
    await sleep(20);
    expect(connections).toBe(0);
  });

  it('an abort while waiting for the headers rejects with AbortError and closes the connection', async () => {
    const arrived = deferred();
    handler = () => arrived.resolve(); // never answers
    const controller = new AbortController();
    const pending = freshFetch()(`${base}/wait`, { method: 'POST', body: '{}', signal: controller.signal });
    await arrived.promise;
    controller.abort();
    const error = await rejection(pending);
    expect(error.name).toBe('AbortError');
    expect(await exchanges[0]!.closed).toBe(false);
  });

  it('an abort mid-body fails the reader with AbortError and closes the connection', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    };
    const controller = new AbortController();
    const response = await freshFetch()(`${base}/body`, { signal: controller.signal });
    const chunks: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of response.body as unknown as AsyncIterable<Buffer>) {
          chunks.push(String(chunk));
          controller.abort();
        }
      })(),
    );
    expect(chunks).toEqual(['data: first\n\n']);
    expect(error.name).toBe('AbortError');
    expect(await exchanges[0]!.closed).toBe(false);
  });

  it('an abort before the body is read fails text() and a later iteration with AbortError', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    const fetch = freshFetch();
    const controller = new AbortController();
    const response = await fetch(`${base}/late`, { signal: controller.signal });
    controller.abort();
    expect((await rejection(response.text())).name).toBe('AbortError');
    const other = new AbortController();
    const unread = await fetch(`${base}/late`, { signal: other.signal });
    other.abort();
    await sleep(10);
    const error = await rejection(
      (async () => {
        for await (const _ of unread.body as unknown as AsyncIterable<Buffer>);
      })(),
    );
    expect(error.name).toBe('AbortError');
    expect(await exchanges[1]!.closed).toBe(false);
  });

  it('an abort after the body was read changes nothing', async () => {
    handler = (_req, res) => res.end('done');
    const fetch = freshFetch();
    const controller = new AbortController();
    const response = await fetch(`${base}/done`, { signal: controller.signal });
    expect(await response.text()).toBe('done');
    controller.abort();
    await (await fetch(`${base}/done`)).text();
    expect(connections).toBe(1);
  });

  it('stopping the iteration early closes the connection', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('one');
    };
    const response = await freshFetch()(`${base}/break`);
    for await (const _ of response.body as unknown as AsyncIterable<Buffer>) break;
    expect(await exchanges[0]!.closed).toBe(false);
  });
});

describe('connection failures', () => {
  it('a refused connection rejects with TypeError("fetch failed") and the cause', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await rejection(freshFetch()(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('fetch failed');
    expect(error.cause.code).toBe('ECONNREFUSED');
  });

  it('a connection reset before the headers rejects with TypeError("fetch failed")', async () => {
    handler = (req) => req.socket.destroy();
    const error = await rejection(freshFetch()(`${base}/reset`, { method: 'POST', body: '{}' }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause.code).toBe('ECONNRESET');
  });

  it('a connection reset mid-stream fails the reader with a non-abort error', async () => {
    handler = async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await sleep(20);
      req.socket.destroy();
    };
    const response = await freshFetch()(`${base}/drop`);
    const chunks: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of response.body as unknown as AsyncIterable<Buffer>) chunks.push(String(chunk));
      })(),
    );
    expect(chunks).toEqual(['data: one\n\n']);
    expect(error.name).not.toBe('AbortError');
    expect(error.code).toBe('ECONNRESET');
  });
});

// A throw-away self-signed certificate; the openssl CLI is in the CI image and on dev machines.
function selfSignedCertificate(): { key: string; cert: string } | undefined {
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'node-fetch-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } catch {
    return undefined;
  }
}

describe('https', () => {
  const tls = selfSignedCertificate();
  it.skipIf(!tls)('speaks TLS through the https agent, verifies the certificate and keeps the connection', async () => {
    let tlsConnections = 0;
    const secure = createHttpsServer({ key: tls!.key, cert: tls!.cert }, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`secure ${req.method}`);
    });
    secure.on('secureConnection', () => tlsConnections++);
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/`;
    try {
      const trusting = createNodeFetch({ httpsAgent: new HttpsAgent({ keepAlive: true, ca: tls!.cert }) });
      expect(await (await trusting(url, { method: 'POST', body: '{}' })).text()).toBe('secure POST');
      expect(await (await trusting(url)).text()).toBe('secure GET');
      expect(tlsConnections).toBe(1);
      // The default agent trusts only the usual CAs: a self-signed server is a connection failure.
      const error = await rejection(createNodeFetch()(url));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.cause.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      secure.closeAllConnections();
      await new Promise<void>((resolve) => secure.close(() => resolve()));
    }
  });
});

describe('with the openai SDK', () => {
  function client(options: ConstructorParameters<typeof OpenAI>[0] = {}) {
    return new OpenAI({ apiKey: 'sk-test', baseURL: `${base}/v1`, maxRetries: 0, fetch: createNodeFetch(), ...options });
  }

  it('streams a chat completion and parses a JSON response', async () => {
    handler = (req, res, body) => {
      const stream = (JSON.parse(body) as { stream?: boolean }).stream;
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_json' });
        return void res.end(JSON.stringify({ id: 'c1', choices: [] }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hel' } }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    };
    const openai = client();
    const stream = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello');
    const completion = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.id).toBe('c1');
    expect(completion._request_id).toBe('req_json');
    expect(exchanges[0]!.headers.authorization).toBe('Bearer sk-test');
    // A stream read to its end gives its connection back for the next call.
    expect(connections).toBe(1);
  });

  it('maps errors, timeouts, aborts and refused connections to the SDK error classes', async () => {
    handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '5' });
      res.end(JSON.stringify({ error: { message: 'slow', type: 'requests', code: 'rate_limit_exceeded' } }));
    };
    const params = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], stream: true as const };
    const limited = await rejection(client().chat.completions.create(params));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.headers.get('retry-after-ms')).toBe('5');
    expect(limited.code).toBe('rate_limit_exceeded');

    handler = () => {}; // never answers
    expect(await rejection(client({ timeout: 100 }).chat.completions.create(params))).toBeInstanceOf(APIConnectionTimeoutError);
    expect(await exchanges.at(-1)!.closed).toBe(false);

    const controller = new AbortController();
    const pending = client().chat.completions.create(params, { signal: controller.signal });
    await sleep(50);
    controller.abort();
    expect(await rejection(pending)).toBeInstanceOf(APIUserAbortError);
    expect(await exchanges.at(-1)!.closed).toBe(false);

    const refused = await rejection(client({ baseURL: 'http://127.0.0.1:1/v1' }).chat.completions.create(params));
    expect(refused).toBeInstanceOf(APIConnectionError);
    expect(refused).not.toBeInstanceOf(APIConnectionTimeoutError);
  });
});
