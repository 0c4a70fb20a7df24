// Builds the express app: security headers, request ids and logs, /healthz,
// tRPC at /trpc, and the built SPA from the same origin.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Deps } from './deps.ts';
import { type AppRouter, appRouter, STREAMING_PROCEDURES } from './routers/_app.ts';
import { contextFactory } from './trpc/context.ts';
import { bodyErrorMessage, isBodyError, MAX_BODY_BYTES, readTrpcBody } from './trpc/body.ts';
import { guestBootstrap } from './trpc/guest-bootstrap.ts';
import { type StreamFastPathHandler, streamFastPath, type TrpcHandlerOptions } from './trpc/stream-fast-path.ts';
import type { Logger } from './lib/logger.ts';
import { audioRoute } from './tts/audio-route.ts';
import { clientFiles } from './web/client-files.ts';
import { isAppError } from './lib/app-error.ts';
import { metricsAccess } from './metrics.ts';
import { usageExportRoute } from './usage/usage-export.ts';

export const VERSION = '0.1.0';

export function defaultClientDist(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'client', 'dist');
}

export function createApp(deps: Deps): Express {
  const app = express();
  app.disable('x-powered-by');
  if (deps.env.TRUST_PROXY) {
    const value = deps.env.TRUST_PROXY;
    app.set('trust proxy', /^\d+$/.test(value) ? Number(value) : value === 'true' ? true : value);
  }

  deps.metrics.setProcedures(Object.keys(appRouter._def.procedures));
  const timeRequest = deps.metrics.httpMiddleware();
  app.use(timeRequest);
  // pino-http's request fields, also what the front door logs.
  const requestLogFields = (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] });
  const genReqId = (req: IncomingMessage, res: ServerResponse) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    return id;
  };
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
      serializers: {
        req: requestLogFields,
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:', 'blob:'],
        'media-src': ["'self'", 'blob:'],
        'connect-src': ["'self'"],
        'worker-src': ["'self'", 'blob:'],
        'frame-ancestors': ["'none'"],
        'form-action': ["'self'"],
        'upgrade-insecure-requests': deps.env.NODE_ENV === 'production' ? [] : null,
      },
    },
    // The SPA serves no cross-origin embeds; keep COEP off so audio blobs play.
    crossOriginEmbedderPolicy: false,
  });
  app.use(securityHeaders);

  app.get('/healthz', async (_req, res) => {
    const ok = await deps.db.ping();
    res.status(ok ? 200 : 503).json({ ok, db: deps.db.kind, version: VERSION });
  });

  app.get('/audio/:id', audioRoute(deps));
  const metricsMode = metricsAccess(deps.env);
  if (metricsMode === 'off')
    deps.logger.warn(
      'GET /metrics is off: NODE_ENV=production and METRICS_TOKEN is not set (set METRICS_TOKEN, or METRICS_PUBLIC=1 to serve it without a token)',
    );
  app.get('/metrics', deps.metrics.handler(metricsMode, deps.env.METRICS_TOKEN));
  app.get('/export/usage.csv', usageExportRoute(deps, 'csv'));
  app.get('/export/usage.json', usageExportRoute(deps, 'json'));

  // Stripe signs the exact bytes it sent: this route reads the raw body, never the JSON parser.
  app.post('/webhooks/stripe', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result = await deps.billing.webhooks.handle(body, req.get('stripe-signature'));
    res.status(result.status).json(result.body);
  });

  // Streamed answers (httpBatchStreamLink asks with `trpc-accept: application/jsonl`) must reach the
  // browser chunk by chunk: nginx and proxies that honour this header do not buffer them, whatever their
  // config. Nothing in this app compresses responses on the fly (the client's files are precompressed).
  app.use('/trpc', (req, res, next) => {
    if (req.get('trpc-accept') === 'application/jsonl') res.setHeader('X-Accel-Buffering', 'no');
    next();
  });
  const trpc: TrpcHandlerOptions<AppRouter> = {
    router: appRouter,
    createContext: contextFactory(deps),
    // The body is read inside tRPC's own hook (trpc/body.ts), so an unreadable one is answered per call in tRPC's shape.
    middleware: readTrpcBody(guestBootstrap(deps)),
    onError: ({ error, path: procedure }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ err: error.cause ?? error, procedure }, 'tRPC internal error');
      if (isAppError(error.cause)) deps.metrics.recordTrpcError(error.cause.reason, procedure);
    },
  };
  // A chat streamed alone (the common case) is answered without tRPC's fetch adapter; anything else falls through.
  if (deps.env.TRPC_STREAM_FAST_PATH) {
    const fastPath = streamFastPath({ ...trpc, paths: STREAMING_PROCEDURES });
    app.use('/trpc', fastPath);
    frontDoor(app, fastPath, { timeRequest, genReqId, requestLogFields, securityHeaders: recordedHeaders(securityHeaders), logger: deps.logger });
  }
  app.use('/trpc', createExpressMiddleware({ ...trpc, maxBodySize: MAX_BODY_BYTES, maxBatchSize: 20 }));

  const dist = deps.env.CLIENT_DIST ?? defaultClientDist();
  if (existsSync(path.join(dist, 'index.html'))) {
    const client = clientFiles(dist, { serveSourceMaps: deps.env.NODE_ENV !== 'production' });
    app.use(client.files);
    app.get(/^(?!\/(trpc|webhooks|audio|metrics|healthz|export)(\/|$)).*/, client.index);
  } else {
    app.get('/', (_req, res) => {
      res.type('text').send('ChatMeter API is running. The web client is not built: run `npm run build` (or `npm start`).');
    });
  }

  app.use((_req, res) => {
    res.status(404).json({ error: { reason: 'not_found', message: 'No such route.' } });
  });
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    // A body the readers refuse (too large, bad charset or encoding) is bad input: 400 invalid_input, as on /trpc.
    const status = isBodyError(error) ? 400 : typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) deps.logger.error({ err: error }, 'unhandled error');
    if (res.headersSent) return;
    const message = isBodyError(error) ? bodyErrorMessage(error, error.limit) : 'The request could not be read.';
    res.status(status).json({
      error: { reason: status === 500 ? 'internal' : 'invalid_input', message: status === 500 ? 'Something went wrong on our side.' : message },
    });
  };
  app.use(onError);
  return app;
}

/**
 * The header changes a middleware makes whatever the request (helmet's, whose configuration here
 * reads nothing from the request), recorded once against a recording response and replayed per
 * request in the same order: walking helmet's dozen middlewares cost the chat about 1 % of the
 * server's CPU (issue 17). The front-door test compares the headers with express's own.
 */
function recordedHeaders(middleware: RequestHandler): (res: ServerResponse) => void {
  const changes: Array<{ name: string; value?: number | string | readonly string[] }> = [];
  const recorder = {
    setHeader(name: string, value: number | string | readonly string[]) {
      changes.push({ name, value });
      return recorder;
    },
    removeHeader(name: string) {
      changes.push({ name });
    },
  };
  let finished = false;
  middleware({} as Request, recorder as unknown as Response, () => {
    finished = true;
  });
  if (!finished) throw new Error('the security headers middleware did not finish synchronously');
  return (res) => {
    for (const change of changes) {
      if (change.value === undefined) res.removeHeader(change.name);
      else res.setHeader(change.name, change.value);
    }
  };
}

/**
 * The front door for a chat streamed alone (issue 17): such a request goes to the stream fast
 * path without walking express's router, pino-http and helmet, and leaves with what they would
 * have given it: express's request and response (prototypes, `req.url` inside the `/trpc`
 * mount), the request timer, the X-Request-Id, helmet's headers in helmet's order, the
 * X-Accel-Buffering header and pino-http's "request completed" line, as one log call with
 * the same fields. Every other request goes through express as before. Walking the router and
 * the middlewares cost the chat several per cent of the server's CPU (docs/performance.md).
 */
function frontDoor(
  app: Express,
  fastPath: StreamFastPathHandler,
  parts: {
    timeRequest: RequestHandler;
    genReqId: (req: IncomingMessage, res: ServerResponse) => string;
    requestLogFields: (req: { id: unknown; method: string; url: string }) => object;
    securityHeaders: (res: ServerResponse) => void;
    logger: Logger;
  },
): void {
  const mount = '/trpc';
  const expressApp = app as unknown as { handle(req: IncomingMessage, res: ServerResponse, next?: () => void): void; request: object; response: object };
  const handle = expressApp.handle.bind(expressApp);
  const noop = () => {};
  expressApp.handle = (incoming, response, next) => {
    if (!fastPath.accepts(incoming, mount)) return handle(incoming, response, next);
    // As express's own init, then its router for a middleware mounted at /trpc. (Under `npm start`
    // the objects were born with these prototypes, web/http-server.ts: the calls change nothing.)
    Object.setPrototypeOf(incoming, expressApp.request);
    Object.setPrototypeOf(response, expressApp.response);
    const req = incoming as Request;
    const res = response as Response;
    req.res = res;
    res.req = req;
    res.locals = Object.create(null);
    const url = req.url;
    req.originalUrl = url;
    req.baseUrl = mount;
    req.url = url.slice(mount.length);
    parts.timeRequest(req, res, noop);
    // As pino-http: the request's id (the context's requestId) and its response header.
    const id = parts.genReqId(req, res);
    (req as Request & { id: string }).id = id;
    const started = Date.now();
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      const fields = { req: parts.requestLogFields({ id, method: req.method, url }), res: { statusCode: res.statusCode }, responseTime: Date.now() - started };
      if (res.statusCode >= 500) parts.logger.error({ ...fields, err: new Error(`failed with status code ${res.statusCode}`) }, 'request errored');
      else parts.logger.info(fields, 'request completed');
    };
    res.once('finish', log);
    res.once('close', log);
    parts.securityHeaders(res);
    res.setHeader('X-Accel-Buffering', 'no');
    // accepts() asked what the handler asks, so it answers; were it to pass, express serves the request.
    if (!fastPath.serveAccepted(req, res)) {
      req.url = url;
      handle(req, res, next);
    }
  };
}
