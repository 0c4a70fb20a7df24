// A tiny round-robin HTTP front for `npm run cluster` (and the load benchmark):
// each request goes to the next upstream in turn, bodies are piped both ways
// (so tRPC's streamed responses and audio flow through as they are produced),
// and an upstream that refuses connections is skipped for a few seconds. It is
// a development stand-in for nginx or a cloud load balancer (docs/deployment.md),
// not something to put on the internet.
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxyOptions {
  /** http://host:port of each upstream. */
  upstreams: string[];
  /** Skip an upstream for this long after a connection error (default 3 s). */
  cooldownMs?: number;
  /** Called once per proxied request error (logging). */
  onError?: (upstream: string, error: Error) => void;
}

// Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

export class RoundRobinProxy {
  readonly server: Server;
  private next = 0;
  private readonly downUntil = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /** Requests sent to each upstream (tests, the benchmark). */
  readonly counts = new Map<string, number>();

  constructor(private readonly options: RoundRobinProxyOptions) {
    if (options.upstreams.length === 0) throw new Error('RoundRobinProxy: no upstreams');
    this.server = http.createServer((req, res) => this.forward(req, res, 0));
    // Streams can be long; the upstream's own timeouts apply.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 60_000;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private pick(): string {
    const now = Date.now();
    const n = this.options.upstreams.length;
    for (let i = 0; i < n; i++) {
      const upstream = this.options.upstreams[this.next++ % n]!;
      if ((this.downUntil.get(upstream) ?? 0) <= now) return upstream;
    }
    // Everything looks down: try the next one anyway rather than refuse outright.
    return this.options.upstreams[this.next++ % n]!;
  }

  private forward(req: IncomingMessage, res: ServerResponse, attempt: number): void {
    const upstream = this.pick();
    this.counts.set(upstream, (this.counts.get(upstream) ?? 0) + 1);
    const target = new URL(upstream);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP.has(name)) headers[name] = value;
    const client = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-forwarded-host'] ??= req.headers.host ?? '';
    let responded = false;
    const upstreamReq = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: this.agent },
      (upstreamRes) => {
        responded = true;
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) if (value !== undefined && !HOP.has(name)) out[name] = value;
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, out);
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on('end', () => {
          if (Object.keys(upstreamRes.trailers).length > 0) res.addTrailers(upstreamRes.trailers);
        });
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstreamReq.on('error', (error: NodeJS.ErrnoException) => {
      this.options.onError?.(upstream, error);
      const refused = error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET';
      if (refused && !responded) this.downUntil.set(upstream, Date.now() + (this.options.cooldownMs ?? 3_000));
      // Nothing of the body was consumed by a refused connection only if there was none: retry bodiless requests elsewhere.
      const bodiless = req.method === 'GET' || req.method === 'HEAD';
      if (refused && !responded && bodiless && attempt + 1 < this.options.upstreams.length && !res.headersSent) return this.forward(req, res, attempt + 1);
      if (!res.headersSent)
        res
          .writeHead(502, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { reason: 'provider_unavailable', message: 'No instance answered.' } }));
      else res.destroy();
    });
    // The client went away (e.g. the Stop button): stop the upstream too, so the server sees the abort.
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    if (req.method === 'GET' || req.method === 'HEAD') {
      req.resume();
      upstreamReq.end();
    } else {
      req.pipe(upstreamReq);
    }
  }
}
