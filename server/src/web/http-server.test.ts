// The server `npm start` listens with (web/http-server.ts): requests and responses born
// express's, so that express's per-request `setPrototypeOf` changes nothing and they keep
// the maps V8 shares between objects made alike; express itself works as before.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import v8 from 'node:v8';
import express, { type Express, type Request, type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, expressBornClasses, listen } from './http-server.ts';

v8.setFlagsFromString('--allow-natives-syntax');
// Whether two objects have one map (V8's hidden class), through V8's own runtime function.
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function serve(app: Express): Promise<number> {
  const server = createHttpServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function post(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: '127.0.0.1', method: 'POST', path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end('{"a":1}');
  });
}

describe('createHttpServer', () => {
  it("makes requests and responses with the app's own prototypes: express's setPrototypeOf is a no-op", async () => {
    const app = express();
    // The prototypes at arrival, before express's handle sets them.
    const seen: Array<{ req: IncomingMessage; res: ServerResponse; reqProto: object; resProto: object }> = [];
    const handle = (app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, next?: () => void) => void }).handle.bind(app);
    (app as unknown as { handle: typeof handle }).handle = (req, res, next) => {
      seen.push({ req, res, reqProto: Object.getPrototypeOf(req), resProto: Object.getPrototypeOf(res) });
      handle(req, res, next);
    };
    app.post('/x', (_req, res) => res.end());
    const port = await serve(app);
    await post(port, '/x');
    const appProtos = app as unknown as { request: object; response: object };
    expect(seen).toHaveLength(1);
    expect(seen[0]?.reqProto).toBe(appProtos.request);
    expect(seen[0]?.resProto).toBe(appProtos.response);
    expect(seen[0]?.req).toBeInstanceOf(http.IncomingMessage);
    expect(seen[0]?.res).toBeInstanceOf(http.ServerResponse);
  });

  it('two requests in flight at once share their maps once express has added its properties', async () => {
    const app = express();
    const held: Array<{ req: Request; res: Response }> = [];
    let release: () => void = () => {};
    const both = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.use((req, _res, next) => {
      (req as Request & { session?: unknown }).session = { id: req.get('x-n') };
      next();
    });
    app.post('/x', async (req, res) => {
      res.locals.n = req.get('x-n');
      held.push({ req, res });
      if (held.length === 2) release();
      await both;
      res.json({ n: res.locals.n });
    });
    const port = await serve(app);
    const answers = await Promise.all([post(port, '/x', { 'x-n': '1' }), post(port, '/x', { 'x-n': '2' })]);
    expect(answers.map((a) => JSON.parse(a.body))).toEqual([{ n: '1' }, { n: '2' }]);
    const [first, second] = held;
    if (!first || !second) throw new Error('both requests should have been held');
    expect(haveSameMap(first.req, second.req)).toBe(true);
    expect(haveSameMap(first.res, second.res)).toBe(true);
  });

  it('serves express as before: req.app, req.get, req.ip behind a trusted proxy, res.status, res.cookie, res.json', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.post('/x', (req, res) => {
      res
        .status(201)
        .cookie('c', 'v', { httpOnly: true })
        .json({ sameApp: req.app === app && res.app === app, host: req.get('host')?.startsWith('127.0.0.1:'), ip: req.ip });
    });
    const port = await serve(app);
    const answer = await post(port, '/x', { 'x-forwarded-for': '203.0.113.7' });
    expect(answer.status).toBe(201);
    expect(answer.headers['set-cookie']).toEqual(['c=v; Path=/; HttpOnly']);
    expect(JSON.parse(answer.body)).toEqual({ sameApp: true, host: true, ip: '203.0.113.7' });
  });

  it("the classes are made once per app; a request through a plain node server is still made express's on arrival", async () => {
    const app = express();
    const classes = expressBornClasses(app);
    expect(expressBornClasses(app)).toBe(classes);
    app.post('/x', (req, res) => res.json({ get: typeof req.get, app: req.app === app }));
    const server = http.createServer(app);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const answer = await post(port(server), '/x');
    expect(JSON.parse(answer.body)).toEqual({ get: 'function', app: true });
  });
});

function port(server: http.Server | ReturnType<typeof createNetServer>): number {
  return (server.address() as AddressInfo).port;
}

describe('listen', () => {
  it('calls back once with no error when listening', async () => {
    const app = express();
    app.post('/x', (_req, res) => res.json({ ok: true }));
    const calls: unknown[][] = [];
    const server = await new Promise<http.Server>((resolve) => {
      const s = listen(app, 0, '127.0.0.1', (...args: unknown[]) => {
        calls.push(args);
        resolve(s);
      });
    });
    servers.push(server);
    expect(calls).toEqual([[]]);
    expect(JSON.parse((await post(port(server), '/x')).body)).toEqual({ ok: true });
  });

  it('calls back with the error when the port is taken', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const error = await new Promise<Error | undefined>((resolve) => {
        listen(express(), port(taken), '127.0.0.1', resolve);
      });
      expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('EADDRINUSE');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
