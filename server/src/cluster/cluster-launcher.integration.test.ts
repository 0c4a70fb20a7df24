// `npm run cluster` end to end: the launcher (server/src/cluster.ts) refuses to
// start without DATABASE_URL and REDIS_URL; with them it starts three instances
// and two TTS workers behind its fronts, chat and voice work through the front
// (so the instances reach the workers through the second front), and Ctrl-C
// (SIGINT) stops every process it started.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('npm run cluster', () => {
  it('refuses to start without DATABASE_URL and REDIS_URL, naming them', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cluster.ts'], { cwd: serverDir, env: baseEnv, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL is required');
    expect(result.stderr).toContain('REDIS_URL is required');
  });
});

describe.skipIf(!enabled)('npm run cluster, running', () => {
  let db: Awaited<ReturnType<typeof createEmptyServerDatabase>>;
  let redis: RedisProcess;
  let worker: Awaited<ReturnType<typeof buildWorker>>;
  let dataDir: string;
  beforeAll(async () => {
    [db, redis, worker, dataDir] = await Promise.all([
      createEmptyServerDatabase(testServerUrl()!),
      privateRedis(),
      buildWorker(),
      mkdtemp(path.join(os.tmpdir(), 'chatmeter-cluster-')),
    ]);
  });
  afterAll(async () => {
    await redis?.stop();
    await db?.drop();
    await worker?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts 3 instances and 2 workers behind the front; chat and voice work through it; SIGINT stops everything', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cluster.ts'], {
      cwd: serverDir,
      env: {
        ...baseEnv,
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        PORT: String(port),
        CLUSTER_BASE_PORT: String(20_000 + Math.floor(Math.random() * 20_000)),
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        TTS_LOG_LEVEL: 'warn',
        TTS_THREADS: '1',
        CAPTCHA: 'off',
        DEMO_DELAY_MS: '0',
        // From source (the test does not depend on a fresh `npm run build`); the worker built by the helper.
        CLUSTER_SERVER_ENTRY: path.join(serverDir, 'src', 'index.ts'),
        CLUSTER_WORKER_ENTRY: worker.script,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const state = await new Promise<{ url: string; instances: { pid: number }[]; workers: { pid: number }[] }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the cluster did not start in 90 s: ${stderr.join('\n')}`)), 90_000);
        void exited.then((code) => reject(new Error(`the cluster exited (${code}): ${stderr.join('\n')}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.startsWith('[cluster] {')) {
            clearTimeout(timer);
            resolve(JSON.parse(line.slice('[cluster] '.length)));
          }
        });
      });
      expect(state.url).toBe(`http://127.0.0.1:${port}`);
      expect(state.instances).toHaveLength(3);
      expect(state.workers).toHaveLength(2);
      for (let i = 0; i < 3; i++) expect(await (await fetch(`${state.url}/healthz`)).json()).toMatchObject({ ok: true, db: 'postgres' });

      const browser = clientFor(state.url, { ip: '10.95.0.1' });
      await browser.trpc.auth.signUp.mutate({ email: `launcher-${Date.now()}@example.com`, password: 'correct horse battery' });
      let messageId = '';
      for await (const event of await browser.trpc.chat.send.mutate({ content: 'Hello through the front.' }))
        if (event.type === 'start') messageId = event.messageId;
      const spoken = await browser.trpc.tts.speak.mutate({ messageId });
      // The clip is in the shared DATA_DIR: whichever instance answers can serve it.
      for (let i = 0; i < 3; i++) expect((await browser.fetch(spoken.audioUrl)).status).toBe(200);

      const pids = [...state.instances, ...state.workers].map((m) => m.pid);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      for (const pid of pids) expect(alive(pid)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
