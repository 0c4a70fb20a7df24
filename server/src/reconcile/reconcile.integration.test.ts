// Reconciliation with the provider's bill: the real openai SDK reads a local
// server answering OpenAI's Costs API in its documented shape (paging, 401);
// the daily job stores the provider's figures, compares them with usage metered
// through the real chat path, alerts once per day past RECONCILE_ALERT_PERCENT,
// runs once across two instances and never without the key; admin.reconciliation
// over HTTP; `npm run reconcile -- --file` on valid and invalid files.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { testServerUrl } from '@chatmeter/db/testing';
import { addDays, utcDay } from '../lib/days.ts';
import { createDeps, type Deps } from '../deps.ts';
import { parseEnv } from '../env.ts';
import { createLogger } from '../lib/logger.ts';
import { CostsApiError, OpenAICostsClient } from './openai-costs.ts';
import { RECONCILE_JOB, ReconcileService } from './reconcile-service.ts';
import { startFakeCostsServer, type FakeCostsServer } from '../../test/fakes/openai-costs-server.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { insertEvents, person } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

const LIMITS = { chat: { points: 10_000, duration: 60 }, chatIp: { points: 10_000, duration: 60 } };
const DAY_MS = 24 * 60 * 60 * 1000;
const at = (day: string, time = '12:00:00') => new Date(`${day}T${time}Z`);
const unix = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

interface Webhook {
  url: string;
  posts: { text: string }[];
  close(): Promise<void>;
}

async function startWebhook(): Promise<Webhook> {
  const posts: Webhook['posts'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      posts.push(JSON.parse(raw) as { text: string });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let costs: FakeCostsServer;
let openai: FakeOpenAIServer;
let hook: Webhook;
let server: TestServer;
let adminEmail: string;
/** The UTC day the chats happen (today); the job runs "tomorrow" so that it is a closed day. */
const T = utcDay(new Date());

beforeAll(async () => {
  [costs, openai, hook] = await Promise.all([startFakeCostsServer({ pageSize: 3 }), startFakeOpenAIServer(), startWebhook()]);
  server = await startTestServer(
    {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: openai.baseUrl,
      OPENAI_ADMIN_KEY: costs.adminKey,
      OPENAI_ADMIN_BASE_URL: costs.baseUrl,
      ALERT_WEBHOOK_URL: hook.url,
    },
    { limits: LIMITS },
  );
  adminEmail = (await person(server, 'admin')).email;
});
afterAll(async () => {
  await server?.close();
  await Promise.all([costs?.close(), openai?.close(), hook?.close()]);
});

/** Another instance's services on the same database, built from its own environment (no HTTP server, no new database). */
async function depsFor(env: Record<string, string>): Promise<Deps> {
  return createDeps(parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CAPTCHA: 'off', ...env }), { logger: createLogger('silent'), db: server.deps.db });
}

async function resetJob(target = server) {
  await target.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM job_runs WHERE job = ${RECONCILE_JOB}`);
}

const reconcileAlerts = () => server.deps.prisma.serviceAlert.findMany({ where: { kind: 'reconcile_drift' }, orderBy: { periodKey: 'asc' } });
const alertMails = () => server.deps.prisma.emailOutbox.findMany({ where: { to: adminEmail, subject: { contains: "OpenAI's bill" } } });

describe('the Costs API client (real SDK, local server in the documented shape)', () => {
  beforeEach(() => costs.reset());

  it('sends the admin key and the documented query, and pages through has_more / next_page', async () => {
    costs.setCost(addDays(T, -3), 0.06);
    costs.setCost(addDays(T, -1), 12.3456789);
    const client = new OpenAICostsClient({ adminKey: costs.adminKey, baseUrl: costs.baseUrl });
    const pages = await client.fetchPages({ from: at(addDays(T, -7), '00:00:00'), to: at(T, '00:00:00') });
    // 7 buckets, 3 to a page.
    expect(pages.map((p) => p.data.length)).toEqual([3, 3, 1]);
    expect(pages.map((p) => p.has_more)).toEqual([true, true, false]);
    expect(costs.requests).toHaveLength(3);
    for (const r of costs.requests) {
      expect(r.path).toBe('/v1/organization/costs');
      expect(r.headers.authorization).toBe(`Bearer ${costs.adminKey}`);
      expect(r.query.get('start_time')).toBe(String(unix(addDays(T, -7))));
      expect(r.query.get('end_time')).toBe(String(unix(T)));
      expect(r.query.get('bucket_width')).toBe('1d');
    }
    expect(costs.requests.map((r) => r.query.get('page'))).toEqual([null, pages[0]!.next_page, pages[1]!.next_page]);
    const buckets = pages.flatMap((p) => p.data);
    expect(buckets.map((b) => b.start_time)).toEqual(Array.from({ length: 7 }, (_, i) => unix(addDays(T, i - 7))));
    expect(buckets[4]!.results).toEqual([{ object: 'organization.costs.result', amount: { value: 0.06, currency: 'usd' }, line_item: null, project_id: null }]);
    expect(buckets[3]!.results).toEqual([]);
  });

  it('passes RECONCILE_PROJECT_IDS as project_ids', async () => {
    costs.setCost(addDays(T, -1), 1, 'proj_chatmeter');
    costs.setCost(addDays(T, -1), 5, 'proj_other');
    const client = new OpenAICostsClient({ adminKey: costs.adminKey, baseUrl: costs.baseUrl, projectIds: ['proj_chatmeter'] });
    const pages = await client.fetchPages({ from: at(addDays(T, -1), '00:00:00'), to: at(T, '00:00:00') });
    expect(costs.requests[0]!.query.getAll('project_ids[]')).toEqual(['proj_chatmeter']);
    expect(pages[0]!.data[0]!.results[0]!.amount).toEqual({ value: 1, currency: 'usd' });
  });

  it('a wrong key is a CostsApiError with status 401 (not retried)', async () => {
    const client = new OpenAICostsClient({ adminKey: 'sk-admin-wrongkey7Q9Z', baseUrl: costs.baseUrl });
    const error = await client.fetchPages({ from: at(addDays(T, -1), '00:00:00'), to: at(T, '00:00:00') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CostsApiError);
    expect(error).toMatchObject({ status: 401, message: expect.stringContaining('Incorrect API key provided: sk-admin-[redacted]') });
    // OpenAI's 401 echoes the start of the key: it never reaches the log, job_runs or the Admin tab.
    expect((error as Error).message).not.toContain('7Q9Z');
    expect(costs.requests.map((r) => r.status)).toEqual([401]);
  });

  it('an answer in another shape is refused with the path of the problem', async () => {
    const odd = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          object: 'page',
          data: [
            {
              object: 'bucket',
              start_time: 0,
              end_time: 86400,
              results: [{ object: 'organization.costs.result', amount: { value: 'lots', currency: 'usd' } }],
            },
          ],
          has_more: false,
          next_page: null,
        }),
      ),
    );
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const client = new OpenAICostsClient({ adminKey: 'k', baseUrl: `http://127.0.0.1:${(odd.address() as AddressInfo).port}/v1` });
      const error = await client.fetchPages({ from: new Date(0), to: new Date(DAY_MS) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CostsApiError);
      expect((error as Error).message).toContain('data[0].results[0].amount.value');
    } finally {
      await new Promise<void>((resolve) => odd.close(() => resolve()));
    }
  });
});

describe('the daily job', () => {
  let meteredToday = 0;

  beforeAll(async () => {
    costs.reset();
    // Today: two chats through the real chat path, each reported by the provider as
    // 1,000 prompt + 500 completion tokens of gpt-4o-mini (150 + 300 micro-USD).
    openai.setDefault({ usage: { prompt_tokens: 1_000, completion_tokens: 500 } });
    const customer = await person(server);
    for (const content of ['first question', 'second question']) {
      const result = await send(customer.b, { content, model: 'gpt-4o-mini' });
      expect(result.done?.usage).toMatchObject({ promptTokens: 1_000, completionTokens: 500, costMicroUsd: 450 });
    }
    const events = await server.deps.prisma.usageEvent.aggregate({ where: { kind: 'chat', model: 'gpt-4o-mini' }, _sum: { costMicroUsd: true } });
    meteredToday = Number(events._sum.costMicroUsd);
    expect(meteredToday).toBe(900);
    // Usage that is not a provider call: the demo model and a spoken clip (local TTS).
    await insertEvents(server, [
      { userId: customer.id, model: 'demo', costMicroUsd: 5_000, createdAt: new Date() },
      { userId: customer.id, kind: 'tts', model: 'espeak-ng', ttsChars: 100, costMicroUsd: 7_000, createdAt: new Date() },
      // Yesterday: $1 metered on gpt-4o-mini (and demo usage that does not count).
      { userId: customer.id, costMicroUsd: 1_000_000, createdAt: at(addDays(T, -1)) },
      { userId: customer.id, model: 'demo', costMicroUsd: 500_000, createdAt: at(addDays(T, -1)) },
    ]);
    costs.setCost(T, 0.001); // 1,000 vs 900 metered: +10 % -> alert
    costs.setCost(addDays(T, -1), 1.02); // 1,020,000 vs 1,000,000: +1.96 % -> no alert
    costs.setCost(addDays(T, -3), 0.0040005); // 4,001 (half away from zero) vs 0: +100 % -> alert
  });
  beforeEach(() => {
    costs.requests.length = 0;
  });

  it('does not run before 06:00 UTC, then fetches the last 7 closed days, stores them and alerts on the days past 5 %', async () => {
    await resetJob();
    const tomorrow = addDays(T, 1);
    expect(await server.deps.reconcile.run({ now: at(tomorrow, '05:59:00') })).toEqual({ ran: false, skipped: 'too_early' });
    expect(costs.requests).toHaveLength(0);

    const result = await server.deps.reconcile.run({ now: at(tomorrow, '06:30:00') });
    expect(result).toEqual({ ran: true, ok: true, from: addDays(tomorrow, -7), to: T, days: 7, alerted: [addDays(T, -3), T] });
    expect(costs.requests).toHaveLength(3); // 7 buckets in pages of 3
    expect(costs.requests[0]!.query.get('start_time')).toBe(String(unix(addDays(tomorrow, -7))));
    expect(costs.requests[0]!.query.get('end_time')).toBe(String(unix(tomorrow)));

    const stored = await server.deps.prisma.providerCost.findMany({ orderBy: { day: 'asc' }, select: { day: true, costMicroUsd: true, source: true } });
    expect(stored.map((s) => [utcDay(s.day), s.costMicroUsd, s.source])).toEqual(
      Array.from({ length: 7 }, (_, i) => {
        const day = addDays(T, i - 6);
        const cost = { [T]: 1_000n, [addDays(T, -1)]: 1_020_000n, [addDays(T, -3)]: 4_001n }[day] ?? 0n;
        return [day, cost, 'api'];
      }),
    );

    const rows = await server.deps.reconcile.compare([addDays(T, -3), addDays(T, -2), addDays(T, -1), T]);
    expect(rows).toEqual([
      { day: addDays(T, -3), meteredMicroUsd: 0, providerMicroUsd: 4_001, driftPercent: 100, overThreshold: true, source: 'api' },
      { day: addDays(T, -2), meteredMicroUsd: 0, providerMicroUsd: 0, driftPercent: 0, overThreshold: false, source: 'api' },
      { day: addDays(T, -1), meteredMicroUsd: 1_000_000, providerMicroUsd: 1_020_000, driftPercent: 1.96, overThreshold: false, source: 'api' },
      { day: T, meteredMicroUsd: meteredToday, providerMicroUsd: 1_000, driftPercent: 10, overThreshold: true, source: 'api' },
    ]);

    const alerts = await reconcileAlerts();
    expect(alerts.map((a) => [a.subject, a.periodKey, a.emailsSent, a.webhookStatus])).toEqual([
      ['openai', addDays(T, -3), 1, 200],
      ['openai', T, 1, 200],
    ]);
    expect(alerts[1]!.title).toBe(`Metered cost and OpenAI's bill differ on ${T}: +10 %`);
    expect(alerts[1]!.body).toContain("ChatMeter metered $0.0009 of chat usage; OpenAI's Costs API reports $0.001.");
    expect(alerts[1]!.details).toMatchObject({ meteredMicroUsd: 900, providerMicroUsd: 1_000, driftPercent: 10, alertPercent: 5 });
    const mails = await alertMails();
    expect(mails.map((m) => m.subject).sort()).toEqual([
      `[ChatMeter alert] Metered cost and OpenAI's bill differ on ${addDays(T, -3)}: +100 %`,
      `[ChatMeter alert] Metered cost and OpenAI's bill differ on ${T}: +10 %`,
    ]);
    expect(hook.posts.filter((p) => p.text.includes("OpenAI's bill"))).toHaveLength(2);
    expect(await server.deps.reconcile.lastRun()).toMatchObject({ result: { ok: true, days: 7, alerted: [addDays(T, -3), T] } });
    // The admin key goes to the Costs API only, never to the chat provider (OPENAI_BASE_URL may be a third party).
    expect(openai.requests.length).toBeGreaterThan(0);
    expect(openai.requests.filter((r) => JSON.stringify(r.headers).includes(costs.adminKey))).toEqual([]);
  });

  it('runs once a day: later ticks skip; a forced run fetches again but alerts no day twice', async () => {
    const tomorrow = addDays(T, 1);
    expect(await server.deps.reconcile.run({ now: at(tomorrow, '07:30:00') })).toEqual({ ran: false, skipped: 'done_today' });
    expect(await server.deps.reconcile.run({ now: at(tomorrow, '23:59:00') })).toEqual({ ran: false, skipped: 'done_today' });
    expect(costs.requests).toHaveLength(0);

    // The provider corrects the day before yesterday's figure; a new run stores it, and alerts nothing again.
    costs.setCost(addDays(T, -1), 1.2);
    const forced = await server.deps.reconcile.run({ now: at(tomorrow, '08:00:00'), force: true });
    expect(forced).toMatchObject({ ran: true, ok: true, alerted: [addDays(T, -1)] });
    expect(costs.requests).toHaveLength(3);
    const again = await server.deps.reconcile.run({ now: at(tomorrow, '08:05:00'), force: true });
    expect(again).toMatchObject({ ran: true, ok: true, alerted: [] });
    expect((await reconcileAlerts()).map((a) => a.periodKey)).toEqual([addDays(T, -3), addDays(T, -1), T]);
    expect(await alertMails()).toHaveLength(3);
    expect(hook.posts.filter((p) => p.text.includes("OpenAI's bill"))).toHaveLength(3);
    costs.setCost(addDays(T, -1), 1.02);

    // The next day runs again.
    expect(await server.deps.reconcile.run({ now: at(addDays(T, 2), '06:00:00') })).toMatchObject({ ran: true, ok: true });
  });

  it('an API error is logged and recorded, never thrown; the run is tried again an hour later', async () => {
    const before = await server.deps.prisma.providerCost.findMany({ select: { day: true, costMicroUsd: true } });
    const options = {
      prisma: server.deps.prisma,
      logger: createLogger('silent'),
      alertPercent: 5,
      projectIds: [],
      fireAlert: (a: Parameters<typeof server.deps.alerts.fireServiceAlert>[0]) => server.deps.alerts.fireServiceAlert(a),
    };
    const now = at(addDays(T, 1), '09:00:00');
    // The provider unreachable.
    await resetJob();
    const unreachable = new ReconcileService({
      ...options,
      costs: new OpenAICostsClient({ adminKey: costs.adminKey, baseUrl: 'http://127.0.0.1:9/v1', maxRetries: 0 }),
    });
    expect(await unreachable.run({ now })).toMatchObject({ ran: true, ok: false, status: null, error: expect.stringContaining('could not be reached') });
    // A revoked key.
    await resetJob();
    const logged: { level: number; msg: string; status?: number; err?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const wrongKey = new ReconcileService({ ...options, logger, costs: new OpenAICostsClient({ adminKey: 'sk-admin-revoked42XY', baseUrl: costs.baseUrl }) });
    const failed = await wrongKey.run({ now });
    expect(logged).toMatchObject([
      { level: 50, msg: 'reconciliation failed', status: 401, err: expect.stringContaining('Incorrect API key provided: sk-admin-[redacted]') },
    ]);
    expect(JSON.stringify(logged)).not.toContain('42XY');
    expect(failed).toMatchObject({ ran: true, ok: false, status: 401, error: expect.stringContaining('401') });
    expect(JSON.stringify(await server.deps.reconcile.lastRun())).not.toContain('42XY');
    expect(await server.deps.reconcile.lastRun()).toMatchObject({ finishedAt: expect.any(Date), result: { ok: false, status: 401 } });
    expect(await server.deps.prisma.providerCost.findMany({ select: { day: true, costMicroUsd: true } })).toEqual(before);
    // Not again within the hour; after it, the next tick (here with the right key) runs.
    expect(await server.deps.reconcile.run({ now: new Date(now.getTime() + 30 * 60_000) })).toEqual({ ran: false, skipped: 'done_today' });
    expect(await server.deps.reconcile.run({ now: new Date(now.getTime() + 61 * 60_000) })).toMatchObject({ ran: true, ok: true, alerted: [] });
  });

  it('never runs without OPENAI_ADMIN_KEY', async () => {
    const jobBefore = await server.deps.prisma.jobRun.findUnique({ where: { job: RECONCILE_JOB } });
    const keyless = await depsFor({ OPENAI_ADMIN_BASE_URL: costs.baseUrl });
    try {
      expect(keyless.reconcile.configured).toBe(false);
      keyless.reconcile.start();
      expect(await keyless.reconcile.run({ now: at(addDays(T, 1)) })).toEqual({ ran: false, skipped: 'not_configured' });
      expect(await keyless.reconcile.run({ now: at(addDays(T, 1)), force: true })).toEqual({ ran: false, skipped: 'not_configured' });
      expect(await keyless.prisma.jobRun.findUnique({ where: { job: RECONCILE_JOB } })).toEqual(jobBefore);
      expect(costs.requests).toHaveLength(0);
    } finally {
      await keyless.close();
    }
  });
});

describe.skipIf(!testServerUrl())('two instances on one Postgres database', () => {
  let other: TestServer;
  beforeAll(async () => {
    other = await startTestServer(
      { OPENAI_ADMIN_KEY: costs.adminKey, OPENAI_ADMIN_BASE_URL: costs.baseUrl, ALERT_WEBHOOK_URL: hook.url },
      { sameDatabaseAs: server },
    );
  });
  afterAll(async () => {
    await other?.close();
  });

  it('the same tick on both: one fetch, one alert per day', async () => {
    await resetJob();
    await server.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM service_alerts WHERE kind = 'reconcile_drift'`);
    costs.requests.length = 0;
    const hooksBefore = hook.posts.length;
    const mailsBefore = (await alertMails()).length;
    const now = at(addDays(T, 1), '10:00:00');
    const results = await Promise.all([server.deps.reconcile.run({ now }), other.deps.reconcile.run({ now })]);
    const ran = results.filter((r) => r.ran);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ ok: true, alerted: [addDays(T, -3), T] });
    expect(results.find((r) => !r.ran)).toEqual({ ran: false, skipped: 'done_today' });
    expect(costs.requests).toHaveLength(3);
    expect((await reconcileAlerts()).map((a) => a.periodKey)).toEqual([addDays(T, -3), T]);
    expect(hook.posts.length - hooksBefore).toBe(2);
    expect((await alertMails()).length - mailsBefore).toBe(2);
  });
});

describe('admin.reconciliation', () => {
  it('gives staff the closed days with metered, provider and drift; users are refused', async () => {
    // Real "now": the window ends yesterday. Yesterday's figures were stored by the job above
    // (1,020,000 against 1,000,000 metered), when T is today.
    const admin = await person(server, 'admin');
    const support = await person(server, 'support');
    const user = await person(server, 'user');
    const report = await admin.b.trpc.admin.reconciliation.query({ days: 7 });
    expect(report).toMatchObject({ configured: true, alertPercent: 5, projectsOnly: false });
    expect(report.days.map((d) => d.day)).toEqual(Array.from({ length: 7 }, (_, i) => addDays(utcDay(new Date()), i - 7)));
    const yesterday = report.days.at(-1)!;
    if (yesterday.day === addDays(T, -1)) {
      expect(yesterday).toEqual({
        day: addDays(T, -1),
        meteredMicroUsd: 1_000_000,
        providerMicroUsd: 1_020_000,
        driftPercent: 1.96,
        overThreshold: false,
        source: 'api',
      });
    }
    expect(report.totals.days).toBe(report.days.filter((d) => d.providerMicroUsd !== null).length);
    expect(report.lastRun).toMatchObject({ result: { ok: true } });
    expect((await support.b.trpc.admin.reconciliation.query()).days).toHaveLength(30);
    expect(await trpcError(user.b.trpc.admin.reconciliation.query({ days: 7 }))).toMatchObject({ code: 'FORBIDDEN', reason: 'forbidden_role' });
    expect(await trpcError(admin.b.trpc.admin.reconciliation.query({ days: 0 }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(admin.b.trpc.admin.reconciliation.query({ days: 91 }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
  });

  it('without the key and without data: configured false, no provider figures', async () => {
    const keyless = await depsFor({});
    try {
      // A week long before anything was stored.
      const report = await keyless.reconcile.report(7, new Date('2001-01-08T12:00:00Z'));
      expect(report).toMatchObject({ configured: false, alertPercent: 5, totals: { days: 0, meteredMicroUsd: 0, providerMicroUsd: 0, driftPercent: null } });
      expect(report.days.map((d) => d.day)).toEqual(['2001-01-01', '2001-01-02', '2001-01-03', '2001-01-04', '2001-01-05', '2001-01-06', '2001-01-07']);
      expect(report.days.every((d) => d.providerMicroUsd === null && d.driftPercent === null && !d.overThreshold && d.source === null)).toBe(true);
    } finally {
      await keyless.close();
    }
  });
});

describe('npm run reconcile -- --file', () => {
  const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'chatmeter-reconcile-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/reconcile/cli.ts', ...args],
        { cwd: serverDir, env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }
  /** The server's own database when it is on Postgres (so the meter's side is real), else an embedded one of its own. */
  const dbEnv = (): Record<string, string> => (server.tdb.url ? { DATABASE_URL: server.tdb.url } : { DATA_DIR: path.join(dir, 'data') });

  // The embedded database is migrated by the CLI process itself: slow on a busy machine.
  it('stores a paged export (an array of pages) and prints the per-day comparison', { timeout: 300_000 }, async () => {
    const d1 = addDays(T, -10);
    const d2 = addDays(T, -9);
    const customer = await person(server);
    await insertEvents(server, [{ userId: customer.id, costMicroUsd: 12_000_000, createdAt: at(d2) }]);
    const bucket = (day: string, results: unknown[]) => ({ object: 'bucket', start_time: unix(day), end_time: unix(day) + 86_400, results });
    const result = (value: number | string, lineItem: string | null = null) => ({
      object: 'organization.costs.result',
      amount: { value, currency: 'usd' },
      line_item: lineItem,
      project_id: null,
    });
    const file = path.join(dir, 'costs.json');
    writeFileSync(
      file,
      JSON.stringify([
        { object: 'page', data: [bucket(d1, [result(0.06)])], has_more: true, next_page: 'page_2' },
        // Grouped by line item: summed exactly, rounded once.
        {
          object: 'page',
          data: [
            bucket(d2, [result(12.3456789, 'gpt-4o-mini, input'), result('0.0000004', 'gpt-4o-mini, output'), result(0.0000004, 'gpt-4o-mini, cached input')]),
          ],
          has_more: false,
          next_page: null,
        },
      ]),
    );
    const { code, stdout, stderr } = await run(['--file', file], dbEnv());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Stored OpenAI's cost for 2 days (${d1} to ${d2}) from ${file}.`);
    const line = (day: string) =>
      stdout
        .split('\n')
        .find((l) => l.startsWith(day))!
        .split(/\s{2,}/);
    if (server.tdb.url) {
      expect(line(d1)).toEqual([d1, '$0.00', '$0.06', '+100.00 %', '!']);
      expect(line(d2)).toEqual([d2, '$12.00', '$12.34568', '+2.80 %']);
      const stored = await server.deps.prisma.providerCost.findMany({ where: { source: 'file' }, orderBy: { day: 'asc' } });
      expect(stored.map((s) => [utcDay(s.day), s.costMicroUsd])).toEqual([
        [d1, 60_000n],
        [d2, 12_345_680n],
      ]);
    } else {
      expect(line(d1)).toEqual([d1, '$0.00', '$0.06', '+100.00 %', '!']);
      expect(line(d2)).toEqual([d2, '$0.00', '$12.34568', '+100.00 %', '!']);
    }
    expect(stdout).toContain('beyond RECONCILE_ALERT_PERCENT (5 %)');
  });

  it('refuses a file that is not in the Costs API shape, with the path of each problem, and stores nothing', { timeout: 180_000 }, async () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        object: 'page',
        data: [
          {
            object: 'bucket',
            start_time: unix(T),
            end_time: unix(T) + 86_400,
            results: [
              { object: 'organization.costs.result', amount: { value: 'twelve', currency: 'usd' } },
              { object: 'organization.costs.result', amount: { value: 1, currency: 'eur' } },
            ],
          },
        ],
        has_more: false,
      }),
    );
    const before = await server.deps.prisma.providerCost.count();
    const bad = await run(['--file', file], dbEnv());
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('is not a Costs API export');
    expect(bad.stderr).toContain('data[0].results[0].amount.value: must be a decimal number');
    expect(bad.stderr).toContain('data[0].results[1].amount.currency: only USD amounts can be compared with the meter');
    expect(bad.stderr).toContain('next_page');
    expect(await server.deps.prisma.providerCost.count()).toBe(before);

    const notJson = path.join(dir, 'not-json.json');
    writeFileSync(notJson, '{ "object": "page", ');
    const twice = path.join(dir, 'twice.json');
    const page = {
      object: 'page',
      data: [{ object: 'bucket', start_time: unix(T), end_time: unix(T) + 86_400, results: [] }],
      has_more: false,
      next_page: null,
    };
    writeFileSync(twice, JSON.stringify([page, page]));
    // In parallel: each run starts a Node process.
    const [a, b, c] = await Promise.all([
      run(['--file', notJson], dbEnv()),
      run(['--file', twice], dbEnv()),
      run(['--file', path.join(dir, 'missing.json')], dbEnv()),
    ]);
    expect(a).toMatchObject({ code: 2, stderr: expect.stringContaining('is not JSON') });
    expect(b).toMatchObject({ code: 2, stderr: expect.stringContaining(`the day ${T} appears in more than one bucket`) });
    expect(c).toMatchObject({ code: 2, stderr: expect.stringContaining('Cannot read') });
    expect(await server.deps.prisma.providerCost.count()).toBe(before);
  });
});
