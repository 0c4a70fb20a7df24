// npm run bench:analytics — seeds BENCH_EVENTS (default 1,000,000) usage
// events over BENCH_DAYS days for BENCH_USERS users with bulk INSERT ...
// SELECT generate_series statements (each one fires the roll-up trigger once),
// checks that the roll-ups equal the raw events, then calls admin.overview
// repeatedly over HTTP (session cookie, tRPC, superjson: what the Admin tab
// does) and in-process, and prints p50/p95/p99 per window.
// Uses TEST_DATABASE_URL's Postgres server when set (a fresh database), else PGlite.
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import { openDatabase, Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { TModelPrice } from '@chatmeter/shared/pricing';
import { createTestDatabase } from '@chatmeter/db/testing';
import { createApp } from '../src/app.ts';
import { createDeps } from '../src/deps.ts';
import { parseEnv } from '../src/env.ts';
import { createLogger } from '../src/lib/logger.ts';
import type { AppRouter } from '../src/routers/_app.ts';
import { SESSION_COOKIE } from '../src/auth/session.ts';
import { percentile } from './lib.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 5_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 60);
const CALLS = Number(process.env.BENCH_CALLS ?? 50);
const CHUNK = 100_000;

const ms = (v: number) => v.toFixed(1);

async function main() {
  // BENCH_DATABASE_URL: an existing database (seeded by an earlier BENCH_KEEP_DB=1 run is seeded no further).
  const tdb = process.env.BENCH_DATABASE_URL
    ? await (async () => {
        const db = await openDatabase({ databaseUrl: process.env.BENCH_DATABASE_URL, dataDir: '', poolMax: 10 });
        return { db, url: process.env.BENCH_DATABASE_URL, cleanup: () => db.close() };
      })()
    : await createTestDatabase();
  const env = parseEnv({ NODE_ENV: 'production', LOG_LEVEL: 'silent', CAPTCHA: 'off', DATABASE_POOL_MAX: '10' });
  const deps = await createDeps(env, { db: tdb.db, logger: createLogger('silent') });
  const prisma = deps.prisma;
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(
    `database: ${deps.db.kind}; ${EVENTS.toLocaleString('en-US')} events, ${USERS.toLocaleString('en-US')} users, ${DAYS} days; ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const seeded = Number((await prisma.$queryRaw<{ n: bigint }[]>(Prisma.sql`SELECT count(*)::bigint AS n FROM usage_events`))[0]!.n);
  if (seeded === 0) await seed(prisma, deps.pricing);
  else console.log(`reusing ${seeded.toLocaleString('en-US')} events already there`);
  await verify(prisma);

  // An admin with a session, for the HTTP calls.
  const adminUser = await prisma.user.create({ data: { email: `bench-admin-${Date.now()}@example.com`, role: 'admin' }, select: { id: true } });
  const { token } = await deps.sessions.create(adminUser.id);
  const trpc = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        transformer: superjson,
        fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), cookie: `${SESSION_COOKIE}=${token}` } }),
      }),
    ],
  });

  const sample = await trpc.admin.overview.query({ days: 30 });
  console.log(
    `overview sample: 30-day requests ${sample.totals.last30.requests.toLocaleString('en-US')}, active users ${sample.totals.last30.activeUsers}, guests ${sample.totals.last30.guests}, ` +
      `top user ${sample.topUsers[0]?.email ?? '-'}, ${sample.upgradeCandidates.length} upgrade candidates, projected ${sample.projection.projectedCostMicroUsd} vs revenue ${sample.projection.revenueMicroUsd} micro-USD`,
  );

  console.log(`\n| path | days | calls | p50 ms | p95 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- | --- |`);
  const results: { path: string; days: number; p95: number }[] = [];
  for (const path of ['HTTP (tRPC)', 'in-process'] as const) {
    for (const days of [30, 7, 1] as const) {
      const call = path === 'HTTP (tRPC)' ? () => trpc.admin.overview.query({ days }) : () => deps.overview.overview(days);
      for (let i = 0; i < 5; i++) await call();
      const latencies: number[] = [];
      for (let i = 0; i < CALLS; i++) {
        const start = performance.now();
        await call();
        latencies.push(performance.now() - start);
      }
      latencies.sort((a, b) => a - b);
      const p95 = percentile(latencies, 95);
      results.push({ path, days, p95 });
      console.log(
        `| ${path} | ${days} | ${CALLS} | ${ms(percentile(latencies, 50))} | ${ms(p95)} | ${ms(percentile(latencies, 99))} | ${ms(latencies.at(-1)!)} |`,
      );
    }
  }
  // Cold: the first call of a UTC day (or after an invalidation) also reads the closed days.
  // (In-process: the HTTP client's idle keep-alive socket may have been closed by now.)
  const cold: number[] = [];
  for (let i = 0; i < Math.min(CALLS, 10); i++) {
    deps.overview.invalidate();
    const start = performance.now();
    await deps.overview.overview(30);
    cold.push(performance.now() - start);
  }
  cold.sort((a, b) => a - b);
  console.log(
    `| in-process, cold | 30 | ${cold.length} | ${ms(percentile(cold, 50))} | ${ms(percentile(cold, 95))} | ${ms(percentile(cold, 99))} | ${ms(cold.at(-1)!)} |`,
  );
  const worst = Math.max(...results.map((r) => r.p95));
  console.log(
    `\nworst warm p95 ${ms(worst)} ms (goal 200 ms): ${worst <= 200 ? 'met' : 'NOT met'}; load average after ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await deps.close();
  // BENCH_KEEP_DB=1 leaves the seeded database for EXPLAIN sessions.
  if (process.env.BENCH_KEEP_DB === '1' && tdb.url) console.log(`kept ${tdb.url}`);
  else await tdb.cleanup();
}

async function seed(prisma: PrismaClient, pricing: readonly TModelPrice[]) {
  // Users: 80 % free, 12 % pro, 3 % enterprise, 5 % guests; numbered for the event generator.
  let t0 = performance.now();
  await prisma.$executeRawUnsafe(`CREATE TABLE bench_users (n int PRIMARY KEY, id uuid NOT NULL, is_guest boolean NOT NULL, plan text NOT NULL)`);
  await prisma.$executeRaw(Prisma.sql`
    INSERT INTO bench_users (n, id, is_guest, plan)
    SELECT g, gen_random_uuid(), g % 20 = 0,
           CASE WHEN g % 20 = 0 THEN 'guest' WHEN g % 100 < 3 THEN 'enterprise' WHEN g % 100 < 15 THEN 'pro' ELSE 'free' END
      FROM generate_series(1, ${USERS}::int) g`);
  await prisma.$executeRaw(Prisma.sql`
    INSERT INTO users (id, email, plan_id, is_guest, created_at)
    SELECT id, CASE WHEN is_guest THEN NULL ELSE 'bench-' || n || '@example.com' END, plan, is_guest, now() - (n || ' minutes')::interval
      FROM bench_users`);
  // Prices from the pricing table (micro-USD per million tokens).
  const prices = [...new Map(pricing.map((p) => [p.model, p])).values()];
  const priceRows = Prisma.join(
    prices.length
      ? prices.map((p) => Prisma.sql`(${p.model}, ${p.inputMicrosPerMillion}::bigint, ${p.outputMicrosPerMillion}::bigint)`)
      : [Prisma.sql`('gpt-4o-mini', 150000::bigint, 600000::bigint)`],
  );
  const seedUsers = performance.now() - t0;

  // Events: heavier users at low numbers (random()^2), 5 % speech, a few failures.
  t0 = performance.now();
  for (let done = 0; done < EVENTS; done += CHUNK) {
    const n = Math.min(CHUNK, EVENTS - done);
    await prisma.$executeRaw(Prisma.sql`
      WITH draws AS MATERIALIZED (
        SELECT g, 1 + floor(power(random(), 2) * ${USERS}::int)::int AS un, random() AS r_kind, random() AS r_model, random() AS r_status,
               50 + floor(random() * 3000)::int AS prompt, 10 + floor(random() * 800)::int AS completion,
               random() AS r_at
          FROM generate_series(1, ${n}::int) g
      ), timed AS (
        -- Uniform over BENCH_DAYS whole UTC days ending with today; today's full share is
        -- squeezed into the hours since midnight, so the figures are the day's worst case.
        SELECT d.*, CASE WHEN t.start + d.r_at * t.span > now()
                         THEN t.midnight + random() * (now() - t.midnight)
                         ELSE t.start + d.r_at * t.span END AS at
          FROM draws d,
               (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS midnight,
                       (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - ((${DAYS}::int - 1) || ' days')::interval AS start,
                       (${DAYS}::int || ' days')::interval AS span) t
      ), prices (model, inp, outp) AS (VALUES ${priceRows}),
      shaped AS (
        SELECT d.*, u.id AS user_id, u.is_guest, u.plan,
               CASE WHEN d.r_kind < 0.05 THEN 'tts' ELSE 'chat' END AS kind,
               CASE WHEN d.r_kind < 0.05 THEN 'espeak-ng'
                    WHEN u.plan IN ('guest', 'free') THEN CASE WHEN d.r_model < 0.9 THEN 'gpt-4o-mini' ELSE 'demo' END
                    WHEN u.plan = 'pro' THEN CASE WHEN d.r_model < 0.5 THEN 'gpt-4o-mini' WHEN d.r_model < 0.8 THEN 'gpt-4.1-mini' ELSE 'gpt-4o' END
                    ELSE CASE WHEN d.r_model < 0.3 THEN 'gpt-4o-mini' WHEN d.r_model < 0.6 THEN 'gpt-4o' ELSE 'gpt-4.1' END END AS model,
               CASE WHEN d.r_status < 0.93 THEN 'ok' WHEN d.r_status < 0.95 THEN 'cached' WHEN d.r_status < 0.98 THEN 'aborted' ELSE 'error' END AS status
          FROM timed d JOIN bench_users u ON u.n = d.un
      )
      INSERT INTO usage_events (user_id, is_guest, kind, model, prompt_tokens, completion_tokens, cost_micro_usd, tts_chars, status, estimated, latency_ms, created_at)
      SELECT s.user_id, s.is_guest, s.kind, s.model,
             CASE WHEN s.kind = 'chat' AND s.status <> 'error' THEN s.prompt ELSE 0 END,
             CASE WHEN s.kind = 'chat' AND s.status NOT IN ('error', 'cached') THEN s.completion ELSE 0 END,
             CASE WHEN s.kind = 'chat' AND s.status NOT IN ('error', 'cached')
                  THEN ceil((s.prompt * COALESCE(p.inp, 150000) + s.completion * COALESCE(p.outp, 600000)) / 1e6)::bigint ELSE 0 END,
             CASE WHEN s.kind = 'tts' THEN s.completion * 4 ELSE 0 END,
             s.status, s.status = 'aborted', 200 + (s.prompt % 900), s.at
        FROM shaped s LEFT JOIN prices p ON p.model = s.model`);
    process.stdout.write(`\rseeded ${(done + n).toLocaleString('en-US')} events`);
  }
  const seedEvents = performance.now() - t0;
  process.stdout.write('\n');

  // Counters for upgrade candidates, and some refusals.
  await prisma.$executeRaw(Prisma.sql`
    INSERT INTO quota_counters (subject, kind, period_start, used)
    SELECT 'u:' || id, 'messages_day', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', (n * 7) % 21 FROM bench_users WHERE plan = 'free'
    UNION ALL
    SELECT 'u:' || id, 'tokens_month', date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', (n * 7919) % 100001 FROM bench_users WHERE plan = 'free'`);
  await prisma.$executeRaw(Prisma.sql`
    INSERT INTO refusals_daily (day, reason, count)
    SELECT (now() AT TIME ZONE 'UTC')::date - d, r, 1 + (d * 13) % 50
      FROM generate_series(0, ${DAYS}::int) d, unnest(ARRAY['quota_exhausted', 'rate_limited', 'kill_switch']) r`);
  t0 = performance.now();
  await prisma.$executeRawUnsafe('ANALYZE');
  const analyze = performance.now() - t0;

  console.log(
    `seeding: users ${ms(seedUsers)} ms, events ${ms(seedEvents)} ms (${Math.round(EVENTS / (seedEvents / 1000)).toLocaleString('en-US')} events/s, trigger included), ANALYZE ${ms(analyze)} ms`,
  );
}

async function verify(prisma: PrismaClient) {
  // The roll-up must equal the raw events, key by key.
  const t0 = performance.now();
  const [check] = await prisma.$queryRaw<{ differing: bigint; events: bigint; rolled: bigint; rows: bigint }[]>(Prisma.sql`
    WITH raw AS (
      SELECT (created_at AT TIME ZONE 'UTC')::date AS day, COALESCE(user_id, '00000000-0000-0000-0000-000000000000'::uuid) AS user_id, is_guest,
             COALESCE(model, '') AS model, kind, status, count(*)::bigint AS requests, sum(prompt_tokens)::bigint AS p, sum(completion_tokens)::bigint AS c,
             sum(cost_micro_usd)::bigint AS cost, sum(tts_chars)::bigint AS tts
        FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6
    ), rolled AS (
      SELECT day, user_id, is_guest, model, kind, status, requests, prompt_tokens AS p, completion_tokens AS c, cost_micro_usd AS cost, tts_chars AS tts FROM usage_daily
    )
    SELECT (SELECT count(*) FROM ((SELECT * FROM raw EXCEPT SELECT * FROM rolled) UNION ALL (SELECT * FROM rolled EXCEPT SELECT * FROM raw)) x)::bigint AS differing,
           (SELECT count(*) FROM usage_events)::bigint AS events,
           (SELECT sum(requests) FROM usage_daily)::bigint AS rolled,
           (SELECT count(*) FROM usage_daily)::bigint AS rows`);
  const verify = performance.now() - t0;
  console.log(
    `roll-up check: ${check!.events} raw events, ${check!.rolled} in usage_daily (${check!.rows} rows), ${check!.differing} differing keys (${ms(verify)} ms)`,
  );
  if (check!.differing !== 0n || check!.events !== check!.rolled) throw new Error('the roll-up does not equal the raw events');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
