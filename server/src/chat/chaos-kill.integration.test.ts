// Chaos, part 1: an instance killed (-9) mid-stream, and Postgres dropping the
// server's connections while a settlement runs. Neither may charge twice or
// lose the usage event.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma, openDatabase } from '@chatmeter/db/client';
import { testServerUrl } from '@chatmeter/db/testing';
import { RESERVATION_TTL_MS } from '../metering/meter.ts';
import { sweepExpiredReservations } from '../metering/sweeper.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { clientFor } from '../../test/helpers/cluster.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LONG_REPLY = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');

let fake: FakeOpenAIServer;
let main: TestServer;
const openaiEnv = () => ({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0', CHAT_MAX_TOKENS: '200' });

beforeAll(async () => {
  fake = await startFakeOpenAIServer();
  if (testServerUrl()) main = await startTestServer(openaiEnv());
});
afterAll(async () => {
  await main?.close();
  await fake?.close();
});

async function counters(server: TestServer, userId: string) {
  const rows = await server.deps.prisma.$queryRaw<{ kind: string; used: bigint }[]>(Prisma.sql`
    SELECT kind, sum(used)::bigint AS used FROM quota_counters WHERE subject = ${`u:${userId}`} GROUP BY kind`);
  return Object.fromEntries(rows.map((r) => [r.kind, Number(r.used)]));
}

async function startChild(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/child-server.ts'], {
    cwd: serverDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      CAPTCHA: 'off',
      TRUST_PROXY: 'loopback',
      CHAT_CACHE_TTL_SECONDS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child server did not start in 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`the child server exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const { port } = JSON.parse(line) as { port?: number };
        if (port) {
          clearTimeout(timer);
          resolve(port);
        }
      } catch {
        /* a log line */
      }
    });
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

describe.skipIf(!testServerUrl())('chaos: a server killed mid-stream', () => {
  it('kill -9 mid-stream: the reservation stays held, then the sweeper settles it as estimated exactly once and keeps the relayed text as an interrupted reply', async () => {
    fake.setDefault({ reply: LONG_REPLY, chunks: 60, chunkDelayMs: 50 });
    const { child, url } = await startChild({ DATABASE_URL: main.tdb.url!, ...openaiEnv() });
    let userId = '';
    const email = `killed-${Date.now()}@example.com`;
    try {
      const browser = clientFor(url, { ip: '10.80.0.1' });
      userId = (await browser.trpc.auth.signUp.mutate({ email, password: 'correct horse battery' })).user.id;
      // The stream is read by hand (tRPC's link would report the cut connection as an unhandled rejection).
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const response = await browser.fetch('/trpc/chat.send?batch=1', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'trpc-accept': 'application/jsonl' },
        body: JSON.stringify({ 0: { json: { content: 'tell me a long story' } } }),
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let deltas = 0;
      let cut = false;
      // The reply streams for a while: the server saves what it relayed (at most once a second); it dies after that.
      const savedPartial = async () =>
        (await main.deps.prisma.reservation.findFirst({ where: { userId, status: 'held', partialContent: { not: null } }, select: { partialContent: true } }))
          ?.partialContent ?? null;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          deltas += decoder.decode(value, { stream: true }).split('"type":"delta"').length - 1;
          if (deltas >= 3 && child.exitCode === null && child.signalCode === null && (await savedPartial()) !== null) child.kill('SIGKILL');
        }
      } catch {
        cut = true;
      }
      expect(cut).toBe(true);
      await exited;
      expect(deltas).toBeGreaterThanOrEqual(3);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const prisma = main.deps.prisma;
    const [reservation] = await prisma.reservation.findMany({
      where: { userId },
      select: { id: true, status: true, globalTokens: true, promptTokens: true, expiresAt: true, partialContent: true },
    });
    expect(reservation).toMatchObject({ status: 'held' });
    const partial = reservation!.partialContent!;
    expect(partial.length).toBeGreaterThan(0);
    expect(LONG_REPLY.startsWith(partial)).toBe(true);
    expect(partial.length).toBeLessThan(LONG_REPLY.length);
    expect(await prisma.usageEvent.count({ where: { userId } })).toBe(0);
    // Nothing is swept before the expiry; afterwards two instances sweeping at once settle it once.
    const sweep = (now: Date) => sweepExpiredReservations(prisma, main.deps.meter, main.deps.pricing, { now });
    expect(await sweep(new Date())).toBe(0);
    const later = new Date(Date.now() + RESERVATION_TTL_MS + 60_000);
    const swept = await Promise.all([sweep(later), sweep(later), sweep(later)]);
    expect(swept.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await sweep(later)).toBe(0);
    const events = await prisma.usageEvent.findMany({
      where: { userId },
      select: { reservationId: true, status: true, estimated: true, promptTokens: true, completionTokens: true },
    });
    expect(events).toEqual([
      {
        reservationId: reservation!.id,
        status: 'expired',
        estimated: true,
        promptTokens: Number(reservation!.promptTokens),
        completionTokens: Number(reservation!.globalTokens - reservation!.promptTokens),
      },
    ]);
    // Counters: one message; the month and the global day hold exactly what the event charged.
    const charged = events[0]!.promptTokens + events[0]!.completionTokens;
    expect(await counters(main, userId)).toMatchObject({ messages_day: 1, messages_hour: 1, tokens_month: charged });
    expect(await prisma.reservation.count({ where: { userId, status: 'held' } })).toBe(0);
    // The user keeps what they saw: the relayed text, after their message, marked interrupted, with the usage it was charged.
    const conversation = await prisma.conversation.findFirstOrThrow({ where: { userId }, select: { id: true, messageCount: true } });
    const reader = main.browser({ ip: '10.80.0.3' });
    await reader.trpc.auth.signIn.mutate({ email, password: 'correct horse battery' });
    const { items } = await reader.trpc.chat.messages.query({ conversationId: conversation.id });
    expect(items.map((m) => [m.role, m.status])).toEqual([
      ['assistant', 'interrupted'],
      ['user', 'ok'],
    ]);
    expect(items[0]).toMatchObject({
      content: partial,
      finishReason: null,
      usage: { promptTokens: events[0]!.promptTokens, completionTokens: events[0]!.completionTokens, estimated: true },
    });
    expect(conversation.messageCount).toBe(2);
    // The saved text left the reservation with its settlement.
    expect((await prisma.reservation.findUniqueOrThrow({ where: { id: reservation!.id }, select: { partialContent: true } })).partialContent).toBeNull();
  });
});

describe.skipIf(!testServerUrl())('chaos: Postgres drops the connections during settlement', () => {
  it('the settlement is retried on a new connection: one usage event, counters charged once', async () => {
    fake.setDefault({ reply: 'A short answer in six chunks for the test.', chunks: 6, chunkDelayMs: 100 });
    const browser = main.browser({ ip: '10.80.0.2' });
    const { user } = await browser.trpc.auth.signUp.mutate({ email: `pgdrop-${Date.now()}@example.com`, password: 'correct horse battery' });
    const meter = main.deps.meter;
    const original = meter.settleChat.bind(meter);
    const attempts: string[] = [];
    meter.settleChat = async (input) => {
      try {
        const result = await original(input);
        attempts.push(result ? 'settled' : 'already settled');
        return result;
      } catch (error) {
        attempts.push(`failed: ${(error as Error).message}`);
        throw error;
      }
    };
    // A separate connection holds the reservation's row, so the settlement (its cm_meter_batch) blocks on it;
    // then every other backend of this database is terminated and the row let go.
    const saboteur = await openDatabase({ databaseUrl: main.tdb.url!, dataDir: '', poolMax: 1, migrate: false });
    try {
      const requests = fake.requests.length;
      const chat = send(browser, { content: 'settle me through a dropped connection' });
      await fake.waitForRequests(requests + 1);
      const terminated = await saboteur.prisma.$transaction(
        async (tx) => {
          await tx.$queryRaw(Prisma.sql`SELECT id FROM reservations WHERE user_id = ${user.id}::uuid FOR UPDATE`);
          await eventually(async () => {
            // pg_stat_activity is read once per transaction unless the snapshot is cleared.
            await tx.$executeRaw(Prisma.sql`SELECT pg_stat_clear_snapshot()`);
            const rows = await tx.$queryRaw<{ n: bigint }[]>(Prisma.sql`
              SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%cm_meter_batch_replies(%' AND wait_event_type = 'Lock'`);
            expect(Number(rows[0]!.n)).toBe(1);
          }, 10_000);
          const killed = await tx.$queryRaw<{ ok: boolean }[]>(Prisma.sql`
            SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
          return killed.length;
        },
        { timeout: 20_000 },
      );
      expect(terminated).toBeGreaterThanOrEqual(1);
      const result = await chat;
      expect(result.done).toMatchObject({ status: 'ok', usage: { estimated: false } });
      expect(attempts[0]).toMatch(/^failed: /);
      expect(attempts.at(-1)).toBe('settled');
      expect(attempts.filter((a) => a === 'settled')).toHaveLength(1);
    } finally {
      meter.settleChat = original;
      await saboteur.close();
    }
    const prisma = main.deps.prisma;
    const events = await eventually(async () =>
      prisma.usageEvent.findMany({ where: { userId: user.id }, select: { status: true, promptTokens: true, completionTokens: true, reservationId: true } }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.status).toBe('ok');
    expect(await prisma.reservation.findMany({ where: { userId: user.id }, select: { status: true } })).toEqual([{ status: 'settled' }]);
    expect(await counters(main, user.id)).toMatchObject({ messages_day: 1, tokens_month: events[0]!.promptTokens + events[0]!.completionTokens });
    expect(await prisma.message.count({ where: { userId: user.id, role: 'assistant' } })).toBe(1);
  });
});
