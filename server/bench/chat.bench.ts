// npm run bench:chat — drives the whole metered path over HTTP (session, rate
// limits, reservation, a fake provider with fixed latency, settlement) at 1, 10
// and 50 concurrent streams, and the same fake provider called directly, in one
// run; prints requests/s and the latency the metering adds (p50/p95/p99).
// Uses TEST_DATABASE_URL's Postgres server when set (a fresh database), else PGlite.
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchStreamLink, httpLink, splitLink } from '@trpc/client';
import superjson from 'superjson';
import { createTestDatabase } from '@chatmeter/db/testing';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { createApp } from '../src/app.ts';
import { createOpenAIProvider } from '../src/chat/providers/openai.ts';
import { createDeps } from '../src/deps.ts';
import { parseEnv } from '../src/env.ts';
import { createLogger } from '../src/lib/logger.ts';
import type { AppRouter } from '../src/routers/_app.ts';
import { startFakeOpenAIServer } from '../test/fakes/openai-server.ts';

const LATENCY_MS = Number(process.env.BENCH_PROVIDER_LATENCY_MS ?? 20);
const REQUESTS_PER_LEVEL = Number(process.env.BENCH_REQUESTS ?? 300);
const LEVELS = [1, 10, 50];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function runPool(concurrency: number, total: number, task: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number; errors: number }> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        try {
          await task(i);
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
  const fake = await startFakeOpenAIServer();
  const plansDir = mkdtempSync(path.join(os.tmpdir(), 'chatmeter-bench-'));
  const plansFile = path.join(plansDir, 'plans.json');
  writeFileSync(plansFile, JSON.stringify(DEFAULT_PLANS.map((p) => ({ ...p, limits: { ...p.limits, requestsPerMinute: 1_000_000, messagesPerHour: 1_000_000, messagesPerDay: 1_000_000, tokensPerMonth: 1_000_000_000 } }))));
  const tdb = await createTestDatabase();
  const env = parseEnv({
    NODE_ENV: 'production', LOG_LEVEL: 'silent', CAPTCHA: 'off', PLANS_FILE: plansFile, CHAT_CACHE_TTL_SECONDS: '0',
    OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0', CHAT_MAX_TOKENS: '64', DATABASE_POOL_MAX: '20',
  });
  const deps = await createDeps(env, { db: tdb.db, logger: createLogger('silent'), limits: { signUpIp: { points: 1e9, duration: 60 } } });
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // One signed-in user per concurrent stream.
  const clients = await Promise.all(
    Array.from({ length: Math.max(...LEVELS) }, async (_, i) => {
      let cookie = '';
      const f: typeof fetch = async (input, init) => {
        const headers = new Headers(init?.headers);
        if (cookie) headers.set('cookie', cookie);
        headers.set('origin', url);
        const res = await fetch(input, { ...init, headers });
        const set = res.headers.getSetCookie()[0];
        if (set) cookie = set.split(';')[0]!;
        return res;
      };
      const trpc = createTRPCClient<AppRouter>({
        links: [splitLink({ condition: (op) => op.path === 'chat.send', true: httpBatchStreamLink({ url: `${url}/trpc`, transformer: superjson, fetch: f, maxItems: 1 }), false: httpLink({ url: `${url}/trpc`, transformer: superjson, fetch: f }) })],
      });
      await trpc.auth.signUp.mutate({ email: `bench${i}@example.com`, password: 'bench-password-123' });
      return trpc;
    }),
  );
  const direct = createOpenAIProvider({ apiKey: 'sk-bench', baseUrl: fake.baseUrl, timeoutMs: 30_000, maxRetries: 0 });
  const messages = [{ role: 'system' as const, content: env.SYSTEM_PROMPT }, { role: 'user' as const, content: 'Benchmark question about metering.' }];

  const metered = async (client: number, i: number) => {
    const stream = await clients[client]!.chat.send.mutate({ content: `Benchmark question about metering ${i}` });
    for await (const _event of stream) { /* drain */ }
  };
  const straight = async () => {
    for await (const _event of direct.stream({ model: 'gpt-4o-mini', messages, maxTokens: 64, signal: new AbortController().signal, requestId: 'bench' })) { /* drain */ }
  };

  const rows: Record<string, unknown>[] = [];
  const warm = async () => {
    await runPool(5, 30, (i) => metered(i % 5, i));
    await runPool(5, 30, () => straight());
  };
  for (const latency of [LATENCY_MS, 0]) {
    fake.setDefault({ reply: 'A short benchmark answer with a few words.', chunks: 5, firstByteDelayMs: latency });
    await warm();
    for (const level of LEVELS) {
      const base = await runPool(level, REQUESTS_PER_LEVEL, () => straight());
      const full = await runPool(level, REQUESTS_PER_LEVEL, (i) => metered(i % level, i));
      const row = {
        providerLatencyMs: latency,
        concurrency: level,
        directRps: Math.round(REQUESTS_PER_LEVEL / base.seconds),
        meteredRps: Math.round(REQUESTS_PER_LEVEL / full.seconds),
        directP50: percentile(base.latencies, 50), meteredP50: percentile(full.latencies, 50),
        addedP50: percentile(full.latencies, 50) - percentile(base.latencies, 50),
        addedP95: percentile(full.latencies, 95) - percentile(base.latencies, 95),
        addedP99: percentile(full.latencies, 99) - percentile(base.latencies, 99),
        errors: full.errors + base.errors,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));
  console.log(`\nChatMeter metered chat benchmark — ${os.cpus().length} cores, ${deps.db.kind}, ${REQUESTS_PER_LEVEL} requests per level, node ${process.version}`);
  console.log('provider ms | streams | direct req/s | metered req/s | direct p50 ms | metered p50 ms | added p50 | added p95 | added p99 | errors');
  for (const r of rows) console.log(Object.values(r).map(fmt).join(' | '));
  server.closeAllConnections();
  server.close();
  await deps.close();
  await tdb.cleanup();
  await fake.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
