// npm run bench:load — the cluster under a day's traffic compressed into a
// minute: `npm run cluster` (3 instances, 2 TTS workers, the round-robin front)
// as child processes against a fresh Postgres database and a private Redis, a
// fake OpenAI server with realistic latency, and LOAD_USERS simulated users who
// each send LOAD_CHATS chats at random moments of LOAD_SECONDS (continuing one
// conversation) and ask for voice on LOAD_VOICE_SHARE of the replies. Prints
// throughput, latency percentiles, errors by reason and the instances' RSS
// before and after. Needs TEST_DATABASE_URL (a server where it may CREATE
// DATABASE) and redis-server; the built server and worker (the root script builds).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TRPCClientError } from '@trpc/client';
import { createEmptyServerDatabase } from '@chatmeter/db/testing';
import { startFakeOpenAIServer } from '../test/fakes/openai-server.ts';
import { clientFor } from '../test/helpers/cluster.ts';
import { privateRedis } from '../test/helpers/redis-process.ts';
import { freePort, percentile } from './lib.ts';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const USERS = Number(process.env.LOAD_USERS ?? 200);
const CHATS = Number(process.env.LOAD_CHATS ?? 5);
const VOICE_SHARE = Number(process.env.LOAD_VOICE_SHARE ?? 0.2);
const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Math.round(Number(line?.replace(/\D+/g, '')) / 1024);
  } catch {
    return NaN;
  }
}

interface ClusterState {
  url: string;
  instances: { name: string; port: number; pid: number }[];
  workers: { name: string; port: number; pid: number }[];
}

async function main() {
  const serverUrl = process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) throw new Error('bench:load needs TEST_DATABASE_URL (a Postgres server where it may create a database)');
  const db = await createEmptyServerDatabase(serverUrl);
  const redis = await privateRedis();
  const fake = await startFakeOpenAIServer();
  // About what a small hosted model does: 350 ms to the first token, then 10 chunks 40 ms apart.
  // Every reply differs (its number), so voice really synthesizes instead of hitting the shared clip cache.
  const reply = 'Metering keeps every request tied to a user and a plan, so the bill is never a surprise. Reservations settle from the provider usage.';
  fake.setHandler((request) => ({ reply: `${reply} This was answer ${request.index}.`, chunks: 10, firstByteDelayMs: 350, chunkDelayMs: 40 }));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chatmeter-load-'));
  const port = await freePort();
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const cluster = spawn(process.execPath, ['--import', 'tsx', 'src/cluster.ts'], {
    cwd: serverDir,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      PORT: String(port),
      CLUSTER_BASE_PORT: String(base),
      DATA_DIR: dataDir,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      TTS_LOG_LEVEL: 'warn',
      CAPTCHA: 'off',
      CHAT_CACHE_TTL_SECONDS: '0',
      OPENAI_API_KEY: 'sk-load',
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_MAX_RETRIES: '0',
      CHAT_MAX_TOKENS: '256',
      TTS_THREADS: '1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state = await new Promise<ClusterState>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the cluster did not start in 120 s')), 120_000);
    cluster.once('exit', (code) => reject(new Error(`the cluster exited (${code})`)));
    createInterface({ input: cluster.stdout! }).on('line', (line) => {
      if (line.startsWith('[cluster] {')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('[cluster] '.length)) as ClusterState);
      } else if (/"level":(50|60)|error/i.test(line)) process.stderr.write(`${line}\n`);
    });
  });
  const rss = () => Object.fromEntries([...state.instances, ...state.workers].map((m) => [m.name, rssMb(m.pid)]));

  try {
    // Sign-ups (argon2) before the measured minute, 20 at a time; each user gets its own client IP.
    const users: ReturnType<typeof clientFor>[] = [];
    for (let i = 0; i < USERS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, USERS - i) }, async (_, j) => {
          const n = i + j;
          const client = clientFor(state.url, { ip: `10.${100 + Math.floor(n / 250)}.${n % 250}.1` });
          await client.trpc.auth.signUp.mutate({ email: `load${n}@example.com`, password: 'load-password-123' });
          return client;
        }),
      );
      users.push(...batch);
    }
    // Warm-up: a few chats through every instance, then the "before" reading.
    await Promise.all(
      users.slice(0, 6).map(async (u) => {
        for await (const _ of await u.trpc.chat.send.mutate({ content: 'warm up' })) {
          /* drain */
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const rssBefore = rss();

    const chatMs: number[] = [];
    const firstTokenMs: number[] = [];
    const voiceMs: number[] = [];
    const errors = new Map<string, number>();
    const fail = (what: string, error: unknown) => {
      const reason =
        error instanceof TRPCClientError ? String((error.data as { reason?: string } | undefined)?.reason ?? error.message) : (error as Error).message;
      errors.set(`${what}: ${reason}`, (errors.get(`${what}: ${reason}`) ?? 0) + 1);
    };
    let chats = 0;
    let voices = 0;
    const started = performance.now();
    await Promise.all(
      users.map(async (user, n) => {
        const moments = Array.from({ length: CHATS }, () => Math.random() * SECONDS * 1000).sort((a, b) => a - b);
        let conversationId: string | undefined;
        for (const at of moments) {
          const wait = at - (performance.now() - started);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const t0 = performance.now();
          let messageId: string | undefined;
          try {
            const stream = await user.trpc.chat.send.mutate({
              content: `Question ${n}/${chats}: how does metering work?`,
              ...(conversationId ? { conversationId } : {}),
            });
            let first = true;
            for await (const event of stream) {
              if (event.type === 'start') {
                conversationId = event.conversationId;
                messageId = event.messageId;
              } else if (event.type === 'delta' && first) {
                first = false;
                firstTokenMs.push(performance.now() - t0);
              }
            }
            chatMs.push(performance.now() - t0);
            chats++;
          } catch (error) {
            fail('chat', error);
            continue;
          }
          if (messageId && Math.random() < VOICE_SHARE) {
            const v0 = performance.now();
            try {
              const spoken = await user.trpc.tts.speak.mutate({ messageId });
              const audio = await user.fetch(spoken.audioUrl);
              if (audio.status !== 200) throw new Error(`GET audio ${audio.status}`);
              await audio.arrayBuffer();
              voiceMs.push(performance.now() - v0);
              voices++;
            } catch (error) {
              fail('voice', error);
            }
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2_000));
    const rssAfter = rss();
    chatMs.sort((a, b) => a - b);
    firstTokenMs.sort((a, b) => a - b);
    voiceMs.sort((a, b) => a - b);
    const r = (x: number) => Math.round(x);
    const report = {
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
      users: USERS,
      chatsPerUser: CHATS,
      voiceShare: VOICE_SHARE,
      windowSeconds: SECONDS,
      elapsedSeconds: Number(seconds.toFixed(1)),
      chats,
      chatsPerSecond: Number((chats / seconds).toFixed(2)),
      voices,
      chatMs: { p50: r(percentile(chatMs, 50)), p95: r(percentile(chatMs, 95)), p99: r(percentile(chatMs, 99)), max: r(chatMs.at(-1) ?? NaN) },
      firstTokenMs: { p50: r(percentile(firstTokenMs, 50)), p95: r(percentile(firstTokenMs, 95)), p99: r(percentile(firstTokenMs, 99)) },
      voiceMs: { p50: r(percentile(voiceMs, 50)), p95: r(percentile(voiceMs, 95)), p99: r(percentile(voiceMs, 99)) },
      errors: Object.fromEntries(errors),
      rssMbBefore: rssBefore,
      rssMbAfter: rssAfter,
      rssGrowth: Object.fromEntries(Object.keys(rssBefore).map((k) => [k, `${(((rssAfter[k]! - rssBefore[k]!) / rssBefore[k]!) * 100).toFixed(0)}%`])),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    const exited = new Promise((resolve) => cluster.once('exit', resolve));
    cluster.kill('SIGINT');
    const killer = setTimeout(() => cluster.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
    await fake.close();
    await redis.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
