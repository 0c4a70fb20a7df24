// npm run bench:chat — drives the whole metered path over HTTP (session cookie,
// rate limits, plan checks, reservation, a fake provider with fixed latency,
// settlement) at 1, 10 and 50 concurrent streams, and calls the same fake
// provider directly and through a bare pass-through proxy at the same
// concurrency, in one run; prints requests/s, the latency the metering adds
// (p50/p95/p99), the server's CPU per request, and that CPU against the proxy's.
//
// Four processes, as in a deployment: the server is what `npm start` runs (the
// bundle of src/index.ts that build.mjs writes to dist/, built at the start of the
// run; BENCH_SERVER_SOURCE=1 runs src/index.ts through tsx instead) in its own
// process, the fake provider (bench/chat/fake-provider.ts) in another, a bare node:http proxy to that provider (bench/chat/bare-proxy.ts:
// the floor for any Node gateway) in a third, and this process is the load
// generator, with a plain keep-alive HTTP client speaking tRPC's wire format
// (what the SPA's httpBatchStreamLink sends), so that neither the client's nor
// the provider's CPU is charged to the server. They still share the machine's
// cores with Postgres. Postgres CPU is that of the backends serving the bench's
// own database (pg_stat_activity.datname), read from /proc, not the machine's.
//
// Then: time to first token with a slow provider (direct, through the proxy,
// through ChatMeter); with Postgres, the database half alone (reservation +
// settlement pairs through the server's Meter from this process); and, with
// Postgres and redis-server, the server with WEB_CONCURRENCY=1 against 2 (a
// private Redis for both) at 50 streams.
//
// Uses TEST_DATABASE_URL's Postgres server when set (a fresh database), else PGlite.
// BENCH_REQUESTS (per level, default 400), BENCH_PROVIDER_LATENCY_MS (comma list,
// default "20,0"), BENCH_LEVELS (default "1,10,50"), BENCH_CPU_PROF=1 writes a
// V8 CPU profile of the server to the working folder; BENCH_SERVER_NODE_OPTIONS
// is the server's NODE_OPTIONS, BENCH_SERVER_ARGS more node arguments for it
// (space-separated, e.g. "--log-ic --logfile=/tmp/ic.log", which NODE_OPTIONS does
// not take), BENCH_LOG_LEVEL its LOG_LEVEL (default info).
// BENCH_WARMUP_REQUESTS (default 100) metered requests warm the server before each
// provider latency's levels. BENCH_SERVER_DIR measures the server folder of another
// checkout (bench/compare.ts), BENCH_RESULT_FILE writes the rows "against the floor"
// there as JSON.
// Time to first token: BENCH_TTFT_LATENCY_MS (default 300), BENCH_TTFT_LEVELS
// (default "1,50"; empty skips it), BENCH_TTFT_REQUESTS (per level and path,
// default 100, at least 4 per stream). Workers: BENCH_WORKERS (default "1,2";
// empty skips it), BENCH_WORKERS_STREAMS (default 50), BENCH_WORKERS_ROUNDS
// (default 2, alternating), BENCH_WORKERS_REQUESTS (default BENCH_REQUESTS),
// provider latency 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '@chatmeter/db/client';
import { createEmptyServerDatabase } from '@chatmeter/db/testing';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { DEFAULT_PRICING_TABLE, requireModelPrice } from '@chatmeter/shared/pricing';
import pg from 'pg';
import { Meter } from '../src/metering/meter.ts';
import { calendarMonth } from '../src/metering/periods.ts';
import { privateRedis, redisServerAvailable } from '../test/helpers/redis-process.ts';
import { freePort, percentile } from './lib.ts';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The server measured: this checkout's, or another's (bench/compare.ts sets it to a baseline's). */
const measuredDir = process.env.BENCH_SERVER_DIR ? path.resolve(process.env.BENCH_SERVER_DIR) : serverDir;
const list = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map(Number);
const REQUESTS_PER_LEVEL = Number(process.env.BENCH_REQUESTS ?? 400);
/** Metered requests (10 streams) before the levels of each provider latency, not measured: the server's JIT warms up. */
const WARMUP_REQUESTS = Number(process.env.BENCH_WARMUP_REQUESTS ?? 100);
const LATENCIES = list(process.env.BENCH_PROVIDER_LATENCY_MS ?? '20,0');
const LEVELS = list(process.env.BENCH_LEVELS ?? '1,10,50');
const TTFT_LATENCY_MS = Number(process.env.BENCH_TTFT_LATENCY_MS ?? 300);
const TTFT_LEVELS = list(process.env.BENCH_TTFT_LEVELS ?? '1,50');
const TTFT_REQUESTS = Number(process.env.BENCH_TTFT_REQUESTS ?? 100);
const WORKERS = list(process.env.BENCH_WORKERS ?? '1,2');
const WORKERS_STREAMS = Number(process.env.BENCH_WORKERS_STREAMS ?? 50);
const WORKERS_ROUNDS = Number(process.env.BENCH_WORKERS_ROUNDS ?? 2);
const WORKERS_REQUESTS = Number(process.env.BENCH_WORKERS_REQUESTS ?? REQUESTS_PER_LEVEL);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const FROM_SOURCE = process.env.BENCH_SERVER_SOURCE === '1';
const RESULT_FILE = process.env.BENCH_RESULT_FILE;
const CLK_TCK = 100;

/** CPU time (ms) a process has used so far, from /proc. */
function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU time (ms) of a process and all its descendants (a cluster primary and its server processes). */
function treeCpuMs(root: number | undefined): number {
  if (!root) return NaN;
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    total += cpuMs(pid) || 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** CPU time (ms) of each of this machine's Postgres server processes so far (none when it runs elsewhere). */
function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') byPid.set(Number(pid), cpuMs(Number(pid)));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** Postgres CPU (ms) used between two readings; a backend that ended in between is not counted (its time is gone from /proc). */
function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of postgresCpu()) total += ms - (before.get(pid) ?? 0);
  return total;
}

/**
 * CPU of the Postgres backends serving one database (the bench's), not of the
 * whole machine's Postgres (other work, the WAL writer and the checkpointer are
 * left out; an autovacuum worker on the bench's database, which pg_stat_activity
 * lists with its datname, counts). Backends are found through pg_stat_activity from
 * a connection to another database, so the monitoring is not counted, and their
 * CPU is read from /proc every 250 ms: a backend that ends in a window loses at
 * most its last quarter second. NaN when no backend's /proc entry can be read
 * (Postgres on another machine or in a container).
 */
class BackendCpu {
  constructor(
    private readonly admin: pg.Client,
    private readonly database: string,
  ) {}

  private async pids(): Promise<number[]> {
    const { rows } = await this.admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [this.database]);
    return rows.map((r) => r.pid);
  }

  async start(): Promise<{ stop(): Promise<number> }> {
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    for (const pid of await this.pids()) {
      const ms = cpuMs(pid);
      if (!Number.isNaN(ms)) first.set(pid, ms);
    }
    const sample = async () => {
      for (const pid of await this.pids()) {
        const ms = cpuMs(pid);
        if (Number.isNaN(ms)) continue;
        // A backend first seen now started during the window: all its time counts.
        if (!first.has(pid)) first.set(pid, 0);
        last.set(pid, ms);
      }
    };
    let sampling: Promise<void> | undefined;
    const timer = setInterval(() => {
      sampling ??= sample()
        .catch(() => {})
        .finally(() => {
          sampling = undefined;
        });
    }, 250);
    return {
      stop: async () => {
        clearInterval(timer);
        await sampling;
        await sample();
        if (last.size === 0) return NaN;
        let total = 0;
        for (const [pid, ms] of last) total += ms - first.get(pid)!;
        return total;
      },
    };
  }
}

/** Busy CPU time (ms, all cores) of the whole machine so far, from /proc/stat. */
function machineBusyMs(): number {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = v.map(Number);
  const idle = n[3]! + n[4]!;
  return ((n.reduce((a, b) => a + b, 0) - idle) * 1000) / CLK_TCK;
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

interface Reply {
  status: number;
  body: string;
  setCookie: string[];
  /** ms from sending the request to the first chunk of the body holding `firstToken` (NaN when not asked or never seen). */
  ttftMs: number;
}

function post(url: string, body: string, headers: Record<string, string>, firstToken?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttftMs = NaN;
    const req = httpRequest(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          data += c;
          if (firstToken && Number.isNaN(ttftMs) && data.includes(firstToken)) ttftMs = performance.now() - t0;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, setCookie: res.headers['set-cookie'] ?? [], ttftMs }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts a child and resolves when a line of its output passes `ready` or, when given, `probe()` answers true. */
function spawnReady(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: (line: string) => boolean,
  probe?: () => Promise<boolean>,
): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: serverDir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(child);
    };
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start in 120 s`)), 120_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (ready(line)) finish();
      else if (/"level":(40|50|60)/.test(line)) process.stderr.write(`${line}\n`);
    });
    if (probe) {
      const poll = async () => {
        while (!done) {
          if (await probe().catch(() => false)) return finish();
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      void poll();
    }
  });
}

/** Stops a child and waits for it to exit (at most 15 s). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
}

/** Runs `total` tasks on `concurrency` workers; a task may return a mark (time to first token), collected apart. */
async function runPool(concurrency: number, total: number, task: (worker: number, i: number) => Promise<number | undefined | void>) {
  const latencies: number[] = [];
  const marks: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        try {
          const mark = await task(worker, i);
          latencies.push(performance.now() - t0);
          if (typeof mark === 'number' && !Number.isNaN(mark)) marks.push(mark);
        } catch (error) {
          errors++;
          if (errors < 3) console.error('request failed:', (error as Error).message);
        }
      }
    }),
  );
  return {
    latencies: latencies.sort((a, b) => a - b),
    marks: marks.sort((a, b) => a - b),
    seconds: (performance.now() - started) / 1000,
    errors,
  };
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  // What `npm start` runs: the bundle, built from the working tree now (a second or two).
  if (!FROM_SOURCE) {
    const built = spawnSync(process.execPath, ['build.mjs'], { cwd: measuredDir, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('bench: building the server (node build.mjs) failed');
  }
  const loadBefore = os.loadavg()[0]!;
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'chatmeter-bench-'));
  const plansFile = path.join(workDir, 'plans.json');
  // Limits out of the way: the benchmark measures the metering, not a refusal.
  writeFileSync(
    plansFile,
    JSON.stringify(
      DEFAULT_PLANS.map((p) => ({
        ...p,
        limits: { ...p.limits, requestsPerMinute: 1_000_000, messagesPerHour: 1_000_000, messagesPerDay: 1_000_000, tokensPerMonth: 1_000_000_000 },
      })),
    ),
  );
  const serverUrl = process.env.TEST_DATABASE_URL?.trim();
  const db = serverUrl ? await createEmptyServerDatabase(serverUrl) : undefined;
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('exit', stopAll);
  // Monitoring connection to the server's own database, so that it is not one of the bench's backends.
  const admin = serverUrl ? new pg.Client({ connectionString: serverUrl }) : undefined;
  await admin?.connect();
  const backends = admin && db ? new BackendCpu(admin, new URL(db.url).pathname.slice(1)) : undefined;
  const pgWindow = async () => {
    const w = await backends?.start();
    return { stop: async () => (w ? await w.stop() : NaN) };
  };
  let redis: Awaited<ReturnType<typeof privateRedis>> | undefined;

  try {
    let providerPort = 0;
    const provider = await spawnReady(
      process.execPath,
      ['--import', 'tsx', 'bench/chat/fake-provider.ts'],
      { ...process.env, BENCH_PROVIDER_LATENCY_MS: String(LATENCIES[0] ?? 0) },
      (line) => {
        if (!line.startsWith('{"port"')) return false;
        providerPort = (JSON.parse(line) as { port: number }).port;
        return true;
      },
    );
    children.push(provider);
    const providerUrl = `http://127.0.0.1:${providerPort}`;

    let proxyPort = 0;
    const proxy = await spawnReady(
      process.execPath,
      ['--import', 'tsx', 'bench/chat/bare-proxy.ts'],
      { ...process.env, BENCH_PROXY_TARGET: providerUrl },
      (line) => {
        if (!line.startsWith('{"port"')) return false;
        proxyPort = (JSON.parse(line) as { port: number }).port;
        return true;
      },
    );
    children.push(proxy);
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;

    /** The real entry point; with workers > 1 (and Redis) a cluster primary and its server processes. */
    const startServer = async (workers: number, redisUrl: string) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      let listening = 0;
      const logsListening = ['info', 'debug', 'trace'].includes(LOG_LEVEL);
      const child = await spawnReady(
        process.execPath,
        // --max-semi-space-size=32: as `npm start` and the image start the server (docs/performance.md).
        [
          ...(process.env.BENCH_CPU_PROF === '1' ? ['--cpu-prof', `--cpu-prof-dir=${process.cwd()}`] : []),
          '--max-semi-space-size=32',
          ...(process.env.BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? []),
          ...(FROM_SOURCE ? ['--import', 'tsx', path.join(measuredDir, 'src/index.ts')] : [path.join(measuredDir, 'dist/index.js')]),
        ],
        {
          ...process.env,
          NODE_ENV: 'production',
          LOG_LEVEL,
          PORT: String(port),
          HOST: '127.0.0.1',
          APP_ORIGIN: url,
          TRUST_PROXY: 'loopback',
          DATABASE_URL: db?.url ?? '',
          DATA_DIR: path.join(workDir, 'data'),
          DATABASE_POOL_MAX: '20',
          REDIS_URL: redisUrl,
          WEB_CONCURRENCY: String(workers),
          CAPTCHA: 'off',
          PLANS_FILE: plansFile,
          CHAT_CACHE_TTL_SECONDS: '0',
          CHAT_MAX_TOKENS: '64',
          OPENAI_API_KEY: 'sk-bench',
          OPENAI_BASE_URL: `${providerUrl}/v1`,
          OPENAI_MAX_RETRIES: '0',
          // No voice in this benchmark: point at a worker that is not there instead of starting one.
          TTS_WORKER_URL: 'http://127.0.0.1:9',
          TTS_WORKER_SECRET: 'bench-secret',
          NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS ?? '',
        },
        // Every server process of a group logs this line.
        (line) => line.includes('ChatMeter listening') && ++listening >= workers,
        // With BENCH_LOG_LEVEL=warn the line above is not printed: /healthz, and time for the other server processes.
        logsListening && workers > 1
          ? undefined
          : async () => {
              if (!(await fetch(`${url}/healthz`)).ok) return false;
              if (workers > 1) await sleep(5_000);
              return true;
            },
      );
      children.push(child);
      return { child, url };
    };

    const single = await startServer(1, '');
    const server = single.child;
    const url = single.url;
    // From here on only warnings and errors matter.
    const setLatency = (latencyMs: number) => post(`${providerUrl}/control`, JSON.stringify({ latencyMs }), {});

    const maxStreams = Math.max(...LEVELS, ...TTFT_LEVELS, WORKERS.length > 0 ? WORKERS_STREAMS : 1);
    // One signed-in user per concurrent stream, each from its own address (sign-ups are limited per IP).
    const userIds: string[] = [];
    const cookies = await Promise.all(
      Array.from({ length: maxStreams }, async (_, i) => {
        const res = await post(`${url}/trpc/auth.signUp`, JSON.stringify({ json: { email: `bench${i}@example.com`, password: 'bench-password-123' } }), {
          origin: url,
          'x-forwarded-for': `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
        });
        const cookie = res.setCookie[0]?.split(';')[0];
        if (res.status !== 200 || !cookie) throw new Error(`sign-up failed: ${res.status} ${res.body}`);
        userIds[i] = (JSON.parse(res.body) as { result: { data: { json: { user: { id: string } } } } }).result.data.json.user.id;
        return cookie;
      }),
    );

    // Exactly what the SPA's httpBatchStreamLink sends for chat.send. Returns the time to the first delta event.
    const meteredOn = (target: string) => async (user: number, i: number) => {
      const res = await post(
        `${target}/trpc/chat.send?batch=1`,
        JSON.stringify({ 0: { json: { content: `Benchmark question about metering ${i}` } } }),
        {
          origin: target,
          cookie: cookies[user]!,
          'trpc-accept': 'application/jsonl',
        },
        '"type":"delta"',
      );
      if (res.status !== 200 || !res.body.includes('"type":"done"')) throw new Error(`chat.send: ${res.status} ${res.body.slice(-300)}`);
      return res.ttftMs;
    };
    const metered = meteredOn(url);
    // What the server's openai SDK sends to the provider, sent straight to it (or through the bare proxy).
    const directBody = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are ChatMeter, a concise and helpful assistant.' },
        { role: 'user', content: 'Benchmark question about metering.' },
      ],
      max_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
    });
    const directTo = (target: string) => async () => {
      const res = await post(`${target}/v1/chat/completions`, directBody, { authorization: 'Bearer sk-bench' }, '"delta":{"content":');
      if (res.status !== 200 || !res.body.includes('[DONE]')) throw new Error(`provider: ${res.status}`);
      return res.ttftMs;
    };
    const direct = directTo(providerUrl);
    const viaProxy = directTo(proxyUrl);

    const rows: Record<string, number>[] = [];
    const floors: Record<string, number>[] = [];
    for (const latency of LATENCIES) {
      await setLatency(latency);
      await runPool(10, WARMUP_REQUESTS, (w, i) => metered(w % cookies.length, i));
      await runPool(10, 100, () => direct());
      await runPool(10, 100, () => viaProxy());
      for (const level of LEVELS) {
        const base = await runPool(level, REQUESTS_PER_LEVEL, () => direct());
        const proxy0 = cpuMs(proxy.pid);
        const proxied = await runPool(level, REQUESTS_PER_LEVEL, () => viaProxy());
        const proxyCpu = cpuMs(proxy.pid) - proxy0;
        const pgBench = await pgWindow();
        const before = { server: cpuMs(server.pid), provider: cpuMs(provider.pid), postgres: postgresCpu(), client: process.cpuUsage(), busy: machineBusyMs() };
        const full = await runPool(level, REQUESTS_PER_LEVEL, (w, i) => metered(w, i));
        const serverCpu = cpuMs(server.pid) - before.server;
        const providerCpu = cpuMs(provider.pid) - before.provider;
        const client = process.cpuUsage(before.client);
        const busy = machineBusyMs() - before.busy;
        const postgresAll = postgresCpuSince(before.postgres);
        const postgresBench = await pgBench.stop();
        const perRequest = (ms: number) => ms / REQUESTS_PER_LEVEL;
        const row = {
          providerLatencyMs: latency,
          streams: level,
          directRps: Math.round(REQUESTS_PER_LEVEL / base.seconds),
          meteredRps: Math.round(REQUESTS_PER_LEVEL / full.seconds),
          directP50: percentile(base.latencies, 50),
          meteredP50: percentile(full.latencies, 50),
          addedP50: percentile(full.latencies, 50) - percentile(base.latencies, 50),
          addedP95: percentile(full.latencies, 95) - percentile(base.latencies, 95),
          addedP99: percentile(full.latencies, 99) - percentile(base.latencies, 99),
          serverCpuMs: perRequest(serverCpu),
          postgresCpuMs: perRequest(postgresBench),
          providerCpuMs: perRequest(providerCpu),
          clientCpuMs: perRequest((client.user + client.system) / 1000),
          machineCpuMs: perRequest(busy),
          errors: full.errors + base.errors + proxied.errors,
        };
        const floor = {
          providerLatencyMs: latency,
          streams: level,
          proxyRps: Math.round(REQUESTS_PER_LEVEL / proxied.seconds),
          meteredRps: row.meteredRps,
          proxyCpuMs: perRequest(proxyCpu),
          serverCpuMs: row.serverCpuMs,
          postgresCpuMs: row.postgresCpuMs,
          serverToProxy: serverCpu / proxyCpu,
          postgresToProxy: postgresBench / proxyCpu,
        };
        rows.push(row);
        floors.push(floor);
        console.log(JSON.stringify({ ...row, ...floor, postgresAllProcessesCpuMs: perRequest(postgresAll) }));
      }
    }
    console.log(
      `\nChatMeter metered chat benchmark — ${os.cpus().length} cores, ${db ? 'postgres' : 'pglite'}, ${REQUESTS_PER_LEVEL} requests per level, node ${process.version}, load average at start ${loadBefore.toFixed(2)}`,
    );
    console.log(
      'provider ms | streams | direct req/s | metered req/s | direct p50 ms | metered p50 ms | added p50 | added p95 | added p99 | CPU ms per metered request: server | postgres (bench backends) | provider | load generator | whole machine | errors',
    );
    for (const r of rows) console.log(Object.values(r).map(fmt).join(' | '));
    console.log('\nAgainst the floor: a bare node:http pass-through proxy to the same provider, same run (CPU ms per request; ratios to the proxy):');
    console.log(
      'provider ms | streams | proxy req/s | metered req/s | proxy CPU ms | server CPU ms per metered chat | postgres CPU ms per metered chat | server / proxy | postgres / proxy',
    );
    for (const f of floors) console.log(Object.values(f).map(fmt).join(' | '));
    if (RESULT_FILE) writeFileSync(RESULT_FILE, JSON.stringify({ floors }));

    // Time to first token with a slow provider: the same provider measured directly, through the bare proxy and through ChatMeter.
    if (TTFT_LEVELS.length > 0) {
      await setLatency(TTFT_LATENCY_MS);
      const ttft: string[] = [];
      const triple = (a: number[], b?: number[]) =>
        [50, 95, 99].map((p) => fmt(Math.round((percentile(a, p) - (b ? percentile(b, p) : 0)) * 10) / 10)).join(' / ');
      for (const level of TTFT_LEVELS) {
        const count = Math.max(TTFT_REQUESTS, 4 * level);
        const base = await runPool(level, count, () => direct());
        const proxied = await runPool(level, count, () => viaProxy());
        const full = await runPool(level, count, (w, i) => metered(w, i));
        const line = [
          level,
          count,
          triple(base.marks),
          triple(proxied.marks),
          triple(full.marks),
          triple(proxied.marks, base.marks),
          triple(full.marks, base.marks),
          triple(full.marks, proxied.marks),
          triple(full.latencies, base.latencies),
          base.errors + proxied.errors + full.errors,
        ].join(' | ');
        console.log(
          JSON.stringify({
            ttftLatencyMs: TTFT_LATENCY_MS,
            streams: level,
            direct: base.marks.length,
            proxy: proxied.marks.length,
            metered: full.marks.length,
            meteredP50: percentile(full.marks, 50),
          }),
        );
        ttft.push(line);
      }
      console.log(`\nTime to first token (first content delta) with a ${TTFT_LATENCY_MS} ms provider, ms, p50 / p95 / p99:`);
      console.log(
        'streams | requests per path | direct | bare proxy | ChatMeter | added by the proxy | added by ChatMeter | ChatMeter minus proxy | added to the end of the reply by ChatMeter | errors',
      );
      for (const line of ttft) console.log(line);
    }

    // The database half alone: reserve + settle through the server's own Meter
    // (cm_meter_batch, group commit) from this process, at the same concurrency.
    if (db) {
      const own = await openDatabase({ databaseUrl: db.url, dataDir: '', poolMax: 4, migrate: false });
      const meter = new Meter(own.query);
      const plans = JSON.parse(readFileSync(plansFile, 'utf8')) as TPlan[];
      const free = plans.find((p) => p.id === 'free')!;
      const guest = plans.find((p) => p.id === 'guest')!;
      const price = requireModelPrice(DEFAULT_PRICING_TABLE, 'gpt-4o-mini');
      const pair = async (user: number, i: number) => {
        const now = new Date();
        const r = await meter.reserveChat({
          user: { id: userIds[user]!, isGuest: false },
          plan: free,
          guestPlan: guest,
          ipHash: 'bench',
          model: 'gpt-4o-mini',
          promptTokens: 45,
          maxTokens: 64,
          month: calendarMonth(now),
          defaultDailyTokenCap: 1e12,
          requestId: `bench-db-${i}`,
          conversation: { id: null, title: 'bench', userContent: `Benchmark question about metering ${i}`, maxMessages: 100 },
          now,
        });
        await meter.settleChat({
          reservationId: r.id,
          isGuest: false,
          ipHash: 'bench',
          model: 'gpt-4o-mini',
          price,
          promptTokens: 40,
          completionTokens: 9,
          cachedTokens: 0,
          estimated: false,
          status: 'ok',
          latencyMs: 1,
          assistant: { messageId: randomUUID(), content: 'A short benchmark answer with a few words.' },
        });
      };
      await runPool(10, 200, (w, i) => pair(w % userIds.length, i));
      console.log('\nThe meter alone (reserve + settle, cm_meter_batch, from the load generator process):');
      console.log('streams | pairs/s | p50 ms | p99 ms | items per batch | Postgres CPU ms per pair (bench backends)');
      for (const level of LEVELS) {
        const pg0 = await pgWindow();
        const stats0 = { ...meter.batcher.stats };
        const run = await runPool(level, REQUESTS_PER_LEVEL, pair);
        const perBatch = (meter.batcher.stats.items - stats0.items) / Math.max(1, meter.batcher.stats.batches - stats0.batches);
        console.log(
          [
            level,
            Math.round(REQUESTS_PER_LEVEL / run.seconds),
            percentile(run.latencies, 50),
            percentile(run.latencies, 99),
            perBatch,
            (await pg0.stop()) / REQUESTS_PER_LEVEL,
          ]
            .map(fmt)
            .join(' | '),
        );
      }
      await own.close();
    }

    // Every core: the same server with WEB_CONCURRENCY=1 and =2 (node:cluster), both with a private
    // Redis (several processes need it), alternating, at WORKERS_STREAMS streams and a 0 ms provider.
    if (WORKERS.length > 0) {
      if (!db) console.log('\nWorkers: skipped (several server processes need Postgres: set TEST_DATABASE_URL)');
      else if (!redisServerAvailable()) console.log('\nWorkers: skipped (several server processes need Redis, and redis-server is not installed)');
      else {
        await stop(server);
        await setLatency(0);
        redis = await privateRedis();
        const groups: { workers: number; child: ChildProcess; url: string; requests: number; seconds: number }[] = [];
        for (const workers of WORKERS) {
          const started = await startServer(workers, redis.url);
          groups.push({ workers, ...started, requests: 0, seconds: 0 });
          const send = meteredOn(started.url);
          // Warm every server process and open the streams' connections before measuring (a first run
          // after 100 requests at 10 streams came out at half the throughput of the second).
          await runPool(WORKERS_STREAMS, Math.max(200, 4 * WORKERS_STREAMS), (w, i) => send(w, i));
        }
        const lines: string[] = [];
        for (let round = 1; round <= WORKERS_ROUNDS; round++) {
          for (const g of groups) {
            const send = meteredOn(g.url);
            const pgBench = await pgWindow();
            const cpu0 = treeCpuMs(g.child.pid);
            const run = await runPool(WORKERS_STREAMS, WORKERS_REQUESTS, (w, i) => send(w, i));
            const cpu = treeCpuMs(g.child.pid) - cpu0;
            const postgres = await pgBench.stop();
            g.requests += WORKERS_REQUESTS - run.errors;
            g.seconds += run.seconds;
            lines.push(
              [
                g.workers,
                round,
                Math.round((WORKERS_REQUESTS - run.errors) / run.seconds),
                percentile(run.latencies, 50),
                percentile(run.latencies, 99),
                cpu / WORKERS_REQUESTS,
                postgres / WORKERS_REQUESTS,
                run.errors,
              ]
                .map(fmt)
                .join(' | '),
            );
          }
        }
        console.log(
          `\nWorkers (WEB_CONCURRENCY, node:cluster; Redis for rate limits), ${WORKERS_STREAMS} streams, 0 ms provider, ${WORKERS_REQUESTS} requests per run:`,
        );
        console.log(
          'workers | round | metered req/s | p50 ms | p99 ms | server CPU ms per metered chat (all its processes) | postgres CPU ms per metered chat | errors',
        );
        for (const line of lines) console.log(line);
        const one = groups.find((g) => g.workers === 1) ?? groups[0]!;
        for (const g of groups) {
          if (g === one) continue;
          console.log(
            `${g.workers} workers / ${one.workers} worker throughput: ${fmt(g.requests / g.seconds / (one.requests / one.seconds))} (all rounds: ${Math.round(g.requests / g.seconds)} / ${Math.round(one.requests / one.seconds)} req/s)`,
          );
        }
        for (const g of groups) await stop(g.child);
      }
    }
  } finally {
    agent.destroy();
    stopAll();
    await new Promise((r) => setTimeout(r, 500));
    await admin?.end().catch(() => {});
    await redis?.stop().catch(() => {});
    await db?.drop().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
