// WEB_CONCURRENCY (issue 17): `node src/index.ts` with DATABASE_URL, REDIS_URL and
// WEB_CONCURRENCY=2 becomes a primary with two server processes on one port. The
// database is migrated once, one process runs the jobs, the one TTS worker the
// primary runs serves voice for both, a server process that dies is replaced
// (the jobs move with it), and SIGTERM stops everything. Without Redis more than
// one process is refused at start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '@chatmeter/db/migrate';
import { createEmptyServerDatabase, testServerUrl } from '@chatmeter/db/testing';
import { clientFor } from '../../test/helpers/cluster.ts';
import { privateRedis, redisServerAvailable, type RedisProcess } from '../../test/helpers/redis-process.ts';
import { buildWorker } from '../../test/helpers/tts.ts';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const enabled = Boolean(testServerUrl()) && redisServerAvailable();
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A POST on a connection of its own (fetch would reuse one, and so reach one process only). */
function postOnNewConnection(port: number, p: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Listening {
  pid: number;
  runsJobs?: boolean;
}

describe('the refusal without Redis', () => {
  it('refuses WEB_CONCURRENCY=2 without REDIS_URL, naming the variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      cwd: serverDir,
      env: { ...baseEnv, WEB_CONCURRENCY: '2', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/WEB_CONCURRENCY: 2 processes need DATABASE_URL .* and REDIS_URL/);
  });
});

describe.skipIf(!enabled)('WEB_CONCURRENCY=2 on Postgres and Redis', () => {
  let db: Awaited<ReturnType<typeof createEmptyServerDatabase>>;
  let redis: RedisProcess;
  let worker: Awaited<ReturnType<typeof buildWorker>>;
  let dataDir: string;
  beforeAll(async () => {
    [db, redis, worker, dataDir] = await Promise.all([
      createEmptyServerDatabase(testServerUrl()!),
      privateRedis(),
      buildWorker(),
      mkdtemp(path.join(os.tmpdir(), 'chatmeter-web-concurrency-')),
    ]);
  }, 120_000);
  afterAll(async () => {
    await redis?.stop();
    await db?.drop();
    await worker?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('two processes share the port; migrations and jobs once; voice through the primary’s worker; a dead process is replaced; SIGTERM stops all', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      cwd: serverDir,
      env: {
        ...baseEnv,
        WEB_CONCURRENCY: '2',
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        PORT: String(port),
        HOST: '127.0.0.1',
        APP_ORIGIN: `http://127.0.0.1:${port}`,
        TRUST_PROXY: 'loopback',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        TTS_LOG_LEVEL: 'warn',
        TTS_THREADS: '1',
        TTS_WORKER_SCRIPT: worker.script,
        CAPTCHA: 'off',
        DEMO_DELAY_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const listening: Listening[] = [];
    const output: string[] = [];
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes('ChatMeter listening')) {
        try {
          listening.push(JSON.parse(line) as Listening);
        } catch {
          /* not JSON */
        }
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waitFor = async (what: string, ok: () => boolean, ms = 90_000) => {
      const deadline = Date.now() + ms;
      while (!ok()) {
        if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) while waiting for ${what}:\n${output.join('\n')}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor('two server processes', () => listening.length >= 2);
      const pids = new Set(listening.map((l) => l.pid));
      expect(pids.size).toBe(2);
      expect(pids.has(child.pid!)).toBe(false);
      expect(listening.filter((l) => l.runsJobs === true)).toHaveLength(1);

      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const rows = (await client.query('SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY 1 ORDER BY 1')).rows;
        expect(rows.map((r) => [r.migration_name, r.n])).toEqual(readMigrations().map((m) => [m.name, 1]));
      } finally {
        await client.end();
      }

      const url = `http://127.0.0.1:${port}`;
      const browser = clientFor(url, { ip: '10.96.0.1' });
      await browser.trpc.auth.signUp.mutate({ email: `group-${Date.now()}@example.com`, password: 'correct horse battery' });
      const messageIds: string[] = [];
      for (let i = 0; i < 2; i++) {
        for await (const event of await browser.trpc.chat.send.mutate({ content: `Hello number ${i + 1}.` }))
          if (event.type === 'start') messageIds.push(event.messageId);
      }
      // Each new connection goes to the next process; every one must reach the primary's TTS worker.
      const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const speak = (messageId: string) =>
        postOnNewConnection(port, '/trpc/tts.speak', JSON.stringify({ json: { messageId } }), { cookie, origin: url, 'x-forwarded-for': '10.96.0.1' });
      // The worker starts beside the server processes: wait until it answers at all.
      await waitFor('the TTS worker', () => output.some((line) => /TTS worker started/.test(line)), 60_000).catch(() => {});
      for (let i = 0; i < 120 && (await speak(messageIds[0]!)).status === 503; i++) await new Promise((r) => setTimeout(r, 500));
      for (const messageId of [...messageIds, ...messageIds]) {
        const answer = await speak(messageId);
        expect(answer.status, `${answer.body}\n${output.join('\n')}`).toBe(200);
        const audioUrl = (JSON.parse(answer.body) as { result: { data: { json: { audioUrl: string } } } }).result.data.json.audioUrl;
        expect((await browser.fetch(audioUrl)).status).toBe(200);
      }

      // The process that runs the jobs dies: another takes its place, and the jobs with it.
      const jobsPid = listening.find((l) => l.runsJobs)!.pid;
      process.kill(jobsPid, 'SIGKILL');
      await waitFor('a replacement', () => listening.length >= 3);
      const replacement = listening[2]!;
      expect(replacement.pid).not.toBe(jobsPid);
      expect(replacement.runsJobs).toBe(true);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);

      const all = [...new Set(listening.map((l) => l.pid))].filter((pid) => pid !== jobsPid);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      for (const pid of all) expect(alive(pid)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 240_000);
});
