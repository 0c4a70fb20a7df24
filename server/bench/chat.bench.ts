// npm run bench:chat — drives the whole metered path over HTTP (session cookie,
// rate limits, plan checks, reservation, a fake provider with fixed latency,
// settlement) at 1, 10 and 50 concurrent streams, and calls the same fake
// provider directly at the same concurrency, in one run; prints requests/s, the
// latency the metering adds (p50/p95/p99) and the server's CPU per request.
//
// Three processes, as in a deployment: the server is the real entry point
// (src/index.ts) in its own process, the fake provider (bench/chat/fake-provider.ts)
// in another, and this process is the load generator, with a plain keep-alive
// HTTP client speaking tRPC's wire format (what the SPA's httpBatchStreamLink
// sends), so that neither the client's nor the provider's CPU is charged to the
// server. They still share the machine's cores with Postgres.
//
// Then, with Postgres, the database half alone: reservation + settlement pairs
// through the server's Meter from this process, at the same concurrencies.
//
// Uses TEST_DATABASE_URL's Postgres server when set (a fresh database), else PGlite.
// BENCH_REQUESTS (per level, default 400), BENCH_PROVIDER_LATENCY_MS (comma list,
// default "20,0"), BENCH_LEVELS (default "1,10,50"), BENCH_CPU_PROF=1 writes a
// V8 CPU profile of the server to the working folder; BENCH_SERVER_NODE_OPTIONS
// is the server's NODE_OPTIONS, BENCH_LOG_LEVEL its LOG_LEVEL (default info).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { openDatabase } from '@chatmeter/db/client';
import { createEmptyServerDatabase } from '@chatmeter/db/testing';
import { DEFAULT_PRICING_TABLE, requireModelPrice } from '@chatmeter/shared/pricing';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { Meter } from '../src/metering/meter.ts';
import { calendarMonth } from '../src/metering/periods.ts';
import { freePort, percentile } from './lib.ts';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS_PER_LEVEL = Number(process.env.BENCH_REQUESTS ?? 400);
const LATENCIES = (process.env.BENCH_PROVIDER_LATENCY_MS ?? '20,0').split(',').map(Number);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,10,50').split(',').map(Number);
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
}

function post(url: string, body: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, setCookie: res.headers['set-cookie'] ?? [] }));
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

async function runPool(concurrency: number, total: number, task: (worker: number, i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        try {
          await task(worker, i);
          latencies.push(performance.now() - t0);
        } catch (error) {
          errors++;
          if (errors < 3) console.error('request failed:', (error as Error).message);
        }
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000, errors };
}

async function main() {
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

  try {
    let providerPort = 0;
    const provider = await spawnReady(
      process.execPath,
      ['--import', 'tsx', 'bench/chat/fake-provider.ts'],
      { ...process.env, BENCH_PROVIDER_LATENCY_MS: String(LATENCIES[0]) },
      (line) => {
        if (!line.startsWith('{"port"')) return false;
        providerPort = (JSON.parse(line) as { port: number }).port;
        return true;
      },
    );
    children.push(provider);
    const providerUrl = `http://127.0.0.1:${providerPort}`;

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = await spawnReady(
      process.execPath,
      [...(process.env.BENCH_CPU_PROF === '1' ? ['--cpu-prof', `--cpu-prof-dir=${process.cwd()}`] : []), '--import', 'tsx', 'src/index.ts'],
      {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
        PORT: String(port),
        HOST: '127.0.0.1',
        APP_ORIGIN: url,
        TRUST_PROXY: 'loopback',
        DATABASE_URL: db?.url ?? '',
        DATA_DIR: path.join(workDir, 'data'),
        DATABASE_POOL_MAX: '20',
        REDIS_URL: '',
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
      (line) => line.includes('ChatMeter listening'),
      // With BENCH_LOG_LEVEL=warn the line above is not printed.
      async () => (await fetch(`${url}/healthz`)).ok,
    );
    children.push(server);
    // From here on only warnings and errors matter.
    const setLatency = (latencyMs: number) => post(`${providerUrl}/control`, JSON.stringify({ latencyMs }), {});

    // One signed-in user per concurrent stream, each from its own address (sign-ups are limited per IP).
    const userIds: string[] = [];
    const cookies = await Promise.all(
      Array.from({ length: Math.max(...LEVELS) }, async (_, i) => {
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

    // Exactly what the SPA's httpBatchStreamLink sends for chat.send.
    const metered = async (user: number, i: number) => {
      const res = await post(`${url}/trpc/chat.send?batch=1`, JSON.stringify({ 0: { json: { content: `Benchmark question about metering ${i}` } } }), {
        origin: url,
        cookie: cookies[user]!,
        'trpc-accept': 'application/jsonl',
      });
      if (res.status !== 200 || !res.body.includes('"type":"done"')) throw new Error(`chat.send: ${res.status} ${res.body.slice(-300)}`);
    };
    // What the server's openai SDK sends to the provider, sent straight to it.
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
    const direct = async () => {
      const res = await post(`${providerUrl}/v1/chat/completions`, directBody, { authorization: 'Bearer sk-bench' });
      if (res.status !== 200 || !res.body.includes('[DONE]')) throw new Error(`provider: ${res.status}`);
    };

    const rows: Record<string, number>[] = [];
    for (const latency of LATENCIES) {
      await setLatency(latency);
      await runPool(10, 100, (w, i) => metered(w % cookies.length, i));
      await runPool(10, 100, () => direct());
      for (const level of LEVELS) {
        const base = await runPool(level, REQUESTS_PER_LEVEL, () => direct());
        const before = { server: cpuMs(server.pid), provider: cpuMs(provider.pid), postgres: postgresCpu(), client: process.cpuUsage(), busy: machineBusyMs() };
        const full = await runPool(level, REQUESTS_PER_LEVEL, (w, i) => metered(w, i));
        const perRequest = (ms: number) => ms / REQUESTS_PER_LEVEL;
        const client = process.cpuUsage(before.client);
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
          serverCpuMs: perRequest(cpuMs(server.pid) - before.server),
          postgresCpuMs: perRequest(postgresCpuSince(before.postgres)),
          providerCpuMs: perRequest(cpuMs(provider.pid) - before.provider),
          clientCpuMs: perRequest((client.user + client.system) / 1000),
          machineCpuMs: perRequest(machineBusyMs() - before.busy),
          errors: full.errors + base.errors,
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
    const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
    console.log(
      `\nChatMeter metered chat benchmark — ${os.cpus().length} cores, ${db ? 'postgres' : 'pglite'}, ${REQUESTS_PER_LEVEL} requests per level, node ${process.version}, load average at start ${loadBefore.toFixed(2)}`,
    );
    console.log(
      'provider ms | streams | direct req/s | metered req/s | direct p50 ms | metered p50 ms | added p50 | added p95 | added p99 | CPU ms per metered request: server | postgres | provider | load generator | whole machine | errors',
    );
    for (const r of rows) console.log(Object.values(r).map(fmt).join(' | '));

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
      console.log('streams | pairs/s | p50 ms | p99 ms | items per batch | Postgres CPU ms per pair');
      for (const level of LEVELS) {
        const pg0 = postgresCpu();
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
            postgresCpuSince(pg0) / REQUESTS_PER_LEVEL,
          ]
            .map(fmt)
            .join(' | '),
        );
      }
      await own.close();
    }
  } finally {
    agent.destroy();
    stopAll();
    await new Promise((r) => setTimeout(r, 500));
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
