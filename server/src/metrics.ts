// Prometheus metrics for GET /metrics (prom-client). One registry per Deps, so
// tests can run several apps in one process. Labels are bounded: routes and
// procedures come from fixed lists, models from the pricing table, reasons from
// the contract's error table. The TTS worker's queue is read from its own
// /healthz at scrape time (the voice code needs no hook for that).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_REASONS } from '@chatmeter/shared/errors';
import { CHAT_REPLY_PATHS } from './metering/refusals.ts';
import type { TtsWorkerTarget } from './tts/tts-client.ts';
import type { GateStats } from './chat/providers/gate.ts';

export interface ChatMetricEvent {
  model: string;
  status: string;
  promptTokens: number;
  completionTokens: number;
  costMicroUsd: number;
}

interface WorkerStats {
  up: boolean;
  queueDepth?: number;
  busy?: number;
  poolSize?: number;
  avgRunMs?: number;
}

/**
 * Who may read GET /metrics: 'token' (METRICS_TOKEN set: the bearer token),
 * 'open' (anyone: outside production, or METRICS_PUBLIC=1), 'off' (production
 * without a token: the figures would tell anyone the traffic, models and refusals).
 */
export type MetricsAccess = 'token' | 'open' | 'off';

export function metricsAccess(env: { NODE_ENV: string; METRICS_TOKEN?: string | undefined; METRICS_PUBLIC: boolean }): MetricsAccess {
  if (env.METRICS_TOKEN) return 'token';
  if (env.NODE_ENV !== 'production' || env.METRICS_PUBLIC) return 'open';
  return 'off';
}

export const METRICS_OFF_MESSAGE =
  'GET /metrics is off: in production it needs METRICS_TOKEN (then scrape with Authorization: Bearer <token>), or METRICS_PUBLIC=1 to serve it without one.\n';

/** Constant-time comparison of the Authorization header with `Bearer <token>`. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return header !== undefined && timingSafeEqual(digest(header), digest(`Bearer ${token}`));
}

const FIXED_ROUTES = new Set(['/healthz', '/metrics', '/webhooks/stripe', '/export/usage.csv', '/export/usage.json', '/']);
const WORKER_TIMEOUT_MS = 1_000;

export class Metrics {
  readonly registry = new Registry();
  private procedures: ReadonlySet<string> = new Set();
  private readonly models: ReadonlySet<string>;
  private workerStatsPromise: { at: number; value: Promise<WorkerStats> } | undefined;

  readonly httpDuration = new Histogram({
    name: 'chatmeter_http_request_duration_seconds',
    help: 'HTTP request latency (a streamed chat counts until its stream ends).',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly chatRequests = new Counter({
    name: 'chatmeter_chat_requests_total',
    help: 'chat.send (and chat.regenerate, chat.edit) requests by outcome: ok, cached, aborted, error, expired (settled) or refused (before the provider).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'chatmeter_chat_tokens_total',
    help: 'Tokens settled, by model and type (prompt, completion).',
    labelNames: ['model', 'type'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: 'chatmeter_chat_cost_usd_total',
    help: 'Provider cost of settled chats in USD, by model (the ledger keeps exact micro-USD).',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'chatmeter_refusals_total',
    help: 'Requests refused with a contract reason (quota_exhausted, rate_limited, ...), by reason and procedure.',
    labelNames: ['reason', 'procedure'] as const,
    registers: [this.registry],
  });
  readonly ttsSpeak = new Histogram({
    name: 'chatmeter_tts_speak_duration_seconds',
    help: 'tts.speak latency by outcome: synthesized (queue + synthesis + storage), cached, failed.',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60],
    registers: [this.registry],
  });
  readonly ttsCost = new Counter({
    name: 'chatmeter_tts_cost_usd_total',
    help: 'Cost of synthesized voice clips in USD (a priced TTS_ENGINE; 0 for the built-in one and for cache hits).',
    registers: [this.registry],
  });
  readonly alerts = new Counter({
    name: 'chatmeter_alerts_total',
    help: 'Alerts fired (once per period across instances), by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /** `workerGauges: false`: no tts-worker to watch (TTS_ENGINE=openai-compatible), so no chatmeter_tts_worker_* gauges (and no "worker down" alert). */
  constructor(options: {
    models: readonly string[];
    ttsWorker?: (() => TtsWorkerTarget | undefined) | undefined;
    workerGauges?: boolean;
    defaultMetrics?: boolean;
  }) {
    this.models = new Set(options.models);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'chatmeter_' });
    if (options.workerGauges === false) return;
    const worker = options.ttsWorker;
    const stats = () => this.workerStats(worker);
    const gauge = (name: string, help: string, pick: (s: WorkerStats) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          const value = pick(await stats());
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });
    gauge('chatmeter_tts_worker_up', 'The TTS worker answered GET /healthz at this scrape (1) or not (0).', (s) => (s.up ? 1 : 0));
    gauge('chatmeter_tts_queue_depth', 'Synthesis requests waiting for a thread in the TTS worker.', (s) => s.queueDepth);
    gauge('chatmeter_tts_busy_threads', 'TTS worker threads synthesizing right now.', (s) => s.busy);
    gauge('chatmeter_tts_pool_size', 'TTS worker threads.', (s) => s.poolSize);
    gauge('chatmeter_tts_synthesis_avg_seconds', 'Average synthesis time per task, as the TTS worker reports it.', (s) =>
      s.avgRunMs === undefined ? undefined : s.avgRunMs / 1000,
    );
  }

  /**
   * The providers' admission gates (gate.ts), read at scrape time: requests in flight and
   * queued on this instance, and requests shed by plan since start (labels: provider ids
   * from the configuration, plan ids from the plan table).
   */
  watchGates(stats: () => readonly GateStats[]): void {
    new Gauge({
      name: 'chatmeter_provider_gate_in_flight',
      help: 'Provider calls admitted by the gate and running on this instance.',
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        for (const s of stats()) this.set({ provider: s.provider }, s.inFlight);
      },
    });
    new Gauge({
      name: 'chatmeter_provider_gate_queued',
      help: 'Requests waiting in the gate queue of this instance.',
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        for (const s of stats()) this.set({ provider: s.provider }, s.queued);
      },
    });
    new Gauge({
      name: 'chatmeter_provider_gate_closed',
      help: 'The gate is closed after the provider said 429 or ran out of requests/tokens (1) or open (0).',
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        for (const s of stats()) this.set({ provider: s.provider }, s.closed ? 1 : 0);
      },
    });
    new Counter({
      name: 'chatmeter_provider_gate_shed_total',
      help: 'Requests refused by the gate (provider_busy), by provider and plan.',
      labelNames: ['provider', 'plan'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of stats()) for (const [plan, count] of s.shed) this.inc({ provider: s.provider, plan }, count);
      },
    });
  }

  /** The tRPC procedure names that may appear as labels (anything else is "unknown"). */
  setProcedures(names: Iterable<string>): void {
    this.procedures = new Set(names);
  }

  private procedureLabel(path: string | undefined): string {
    return path && this.procedures.has(path) ? path : 'unknown';
  }

  routeLabel(req: Request): string {
    // originalUrl: inside app.use('/trpc', ...) express strips the mount path from req.path.
    const p = req.originalUrl.split('?')[0] ?? '';
    if (p.startsWith('/trpc/')) {
      const procedure = p.slice('/trpc/'.length);
      if (this.procedures.has(procedure)) return `/trpc/${procedure}`;
      return procedure.includes(',') ? '/trpc (batch)' : '/trpc (unknown)';
    }
    if (FIXED_ROUTES.has(p)) return p;
    if (p.startsWith('/audio/')) return '/audio/:id';
    if (p.startsWith('/assets/')) return '/assets/*';
    return 'other';
  }

  /** Times every request; mount first. */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer();
      const route = this.routeLabel(req);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        end({ method: req.method, route, status_code: String(res.statusCode) });
      };
      res.once('finish', finish);
      res.once('close', finish);
      next();
    };
  }

  /**
   * GET /metrics; with a token, only for `Authorization: Bearer <token>`; 'off'
   * (production without a token, see metricsAccess) answers 403 in plain text.
   */
  handler(access: MetricsAccess, token: string | undefined): RequestHandler {
    return async (req, res) => {
      if (access === 'off') {
        res.status(403).type('text/plain').setHeader('Cache-Control', 'no-store');
        res.send(METRICS_OFF_MESSAGE);
        return;
      }
      if (access === 'token' && !bearerMatches(req.get('authorization'), token ?? '')) {
        res.status(401).json({ error: { reason: 'unauthenticated', message: 'GET /metrics needs the METRICS_TOKEN bearer token.' } });
        return;
      }
      res.setHeader('Content-Type', this.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await this.registry.metrics());
    };
  }

  recordChat(event: ChatMetricEvent): void {
    const model = this.models.has(event.model) ? event.model : 'other';
    this.chatRequests.inc({ outcome: event.status });
    this.tokens.inc({ model, type: 'prompt' }, event.promptTokens);
    this.tokens.inc({ model, type: 'completion' }, event.completionTokens);
    this.cost.inc({ model }, event.costMicroUsd / 1_000_000);
  }

  /** A tRPC error: counted when it carries a contract reason; a refused chat.send (or regenerate, edit) is also a chat outcome. */
  recordTrpcError(reason: string | undefined, path: string | undefined): void {
    if (!reason || !Object.hasOwn(ERROR_REASONS, reason)) return;
    const procedure = this.procedureLabel(path);
    this.refusals.inc({ reason, procedure });
    // provider_unavailable after a settlement is already counted as outcome "error".
    if (path && CHAT_REPLY_PATHS.has(path) && reason !== 'provider_unavailable') this.chatRequests.inc({ outcome: 'refused' });
  }

  /** Times a tts.speak call by outcome. */
  async timeTts<T extends { cached: boolean; costMicroUsd: number }>(speak: () => Promise<T>): Promise<T> {
    const end = this.ttsSpeak.startTimer();
    try {
      const spoken = await speak();
      end({ outcome: spoken.cached ? 'cached' : 'synthesized' });
      if (spoken.costMicroUsd > 0) this.ttsCost.inc(spoken.costMicroUsd / 1_000_000);
      return spoken;
    } catch (error) {
      end({ outcome: 'failed' });
      throw error;
    }
  }

  /** One GET /healthz per scrape, shared by the worker gauges. */
  private workerStats(worker: (() => TtsWorkerTarget | undefined) | undefined): Promise<WorkerStats> {
    const cached = this.workerStatsPromise;
    if (cached && Date.now() - cached.at < 500) return cached.value;
    const value = (async (): Promise<WorkerStats> => {
      const target = worker?.();
      if (!target) return { up: false };
      try {
        const res = await fetch(new URL('/healthz', target.url.endsWith('/') ? target.url : `${target.url}/`), {
          signal: AbortSignal.timeout(WORKER_TIMEOUT_MS),
        });
        if (!res.ok) return { up: false };
        const body = (await res.json()) as Record<string, unknown>;
        const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
        return { up: body.ok === true, queueDepth: num(body.queueDepth), busy: num(body.busy), poolSize: num(body.poolSize), avgRunMs: num(body.avgRunMs) };
      } catch {
        return { up: false };
      }
    })();
    this.workerStatsPromise = { at: Date.now(), value };
    return value;
  }
}
