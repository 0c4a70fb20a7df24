// Builds the express app: security headers, request ids and logs, /healthz,
// tRPC at /trpc, and the built SPA from the same origin.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type ErrorRequestHandler, type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Deps } from './deps.ts';
import { type AppRouter, appRouter, STREAMING_PROCEDURES } from './routers/_app.ts';
import { contextFactory } from './trpc/context.ts';
import { bodyErrorMessage, isBodyError, MAX_BODY_BYTES, readTrpcBody } from './trpc/body.ts';
import { guestBootstrap } from './trpc/guest-bootstrap.ts';
import { streamFastPath, type TrpcHandlerOptions } from './trpc/stream-fast-path.ts';
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
  app.use(deps.metrics.httpMiddleware());
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(
    helmet({
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
    }),
  );

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
  if (deps.env.TRPC_STREAM_FAST_PATH) app.use('/trpc', streamFastPath({ ...trpc, paths: STREAMING_PROCEDURES }));
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
