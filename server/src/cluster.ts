// `npm run cluster`: the several-instance topology on one machine, for trying
// it out and for the load benchmark. Three ChatMeter instances and two TTS
// workers against one Postgres (DATABASE_URL) and one Redis (REDIS_URL), a
// round-robin front for the instances on PORT and a second one for the workers
// (the instances' TTS_WORKER_URL). Everything that must be equal across
// instances is passed to all of them (docs/deployment.md); Ctrl-C stops it all.
// This launcher reads its own few variables; each instance parses the full
// environment itself (server/src/env.ts) and refuses a bad value by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RoundRobinProxy } from './cluster/round-robin-proxy.ts';

const ZClusterEnv = z.object({
  DATABASE_URL: z
    .string({ error: 'DATABASE_URL is required: every instance must use the same Postgres database' })
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL'),
  REDIS_URL: z
    .string({ error: 'REDIS_URL is required: rate limits must be shared by the instances' })
    .regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// URL'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  CLUSTER_HOST: z.string().default('127.0.0.1'),
  CLUSTER_INSTANCES: z.coerce.number().int().min(1).max(16).default(3),
  CLUSTER_WORKERS: z.coerce.number().int().min(1).max(8).default(2),
  /** First port of the instances (then +1...); the workers follow them. Default PORT + 1. */
  CLUSTER_BASE_PORT: z.coerce.number().int().min(1).max(65000).optional(),
  DATA_DIR: z.string().default('./data'),
  /** What the members run (tests): default the built server/dist/index.js and tts-worker/dist/server.js; a .ts entry runs through tsx. */
  CLUSTER_SERVER_ENTRY: z.string().optional(),
  CLUSTER_WORKER_ENTRY: z.string().optional(),
});

const here = path.dirname(fileURLToPath(import.meta.url));
const serverRoot = path.resolve(here, '..');
const repoRoot = path.resolve(serverRoot, '..');
const PARENT_WATCHDOG = 'data:text/javascript,process.on("disconnect",()=>process.kill(process.pid,"SIGTERM"))';

interface Member {
  name: string;
  port: number;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  child?: ChildProcess;
  restarts: number;
}

function blank(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  // Empty values count as unset, as in env.ts.
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v?.trim() ? v : undefined]));
}

async function waitHealthy(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return true;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main(): Promise<void> {
  const parsed = ZClusterEnv.safeParse(blank(process.env));
  if (!parsed.success) {
    console.error(`npm run cluster: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    process.exit(1);
  }
  const env = parsed.data;
  const serverEntry = path.resolve(env.CLUSTER_SERVER_ENTRY ?? path.join(serverRoot, 'dist', 'index.js'));
  const workerEntry = path.resolve(env.CLUSTER_WORKER_ENTRY ?? path.join(repoRoot, 'tts-worker', 'dist', 'server.js'));
  const loader = (entry: string) => (entry.endsWith('.ts') ? ['--import', 'tsx'] : []);
  for (const file of [serverEntry, workerEntry]) {
    if (!existsSync(file)) {
      console.error(`npm run cluster: ${path.relative(repoRoot, file)} is missing; run \`npm run build\` first`);
      process.exit(1);
    }
  }
  const base = env.CLUSTER_BASE_PORT ?? env.PORT + 1;
  const frontOrigin = `http://${env.CLUSTER_HOST === '0.0.0.0' ? 'localhost' : env.CLUSTER_HOST}:${env.PORT}`;
  // Equal on every instance, generated once per run when not given.
  const shared = {
    TTS_WORKER_SECRET: process.env.TTS_WORKER_SECRET?.trim() || randomBytes(24).toString('base64url'),
    CAPTCHA_HMAC_KEY: process.env.CAPTCHA_HMAC_KEY?.trim() || randomBytes(32).toString('hex'),
    DATA_DIR: path.resolve(process.env.INIT_CWD ?? process.cwd(), env.DATA_DIR),
  };
  const passEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));

  const workers: Member[] = Array.from({ length: env.CLUSTER_WORKERS }, (_, i) => ({
    name: `tts${i + 1}`,
    port: base + env.CLUSTER_INSTANCES + i,
    args: [...loader(workerEntry), '--import', PARENT_WATCHDOG, workerEntry],
    cwd: path.dirname(path.dirname(workerEntry)),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // Not the OpenAI-compatible engine's settings: TTS_API_KEY is a secret the worker never needs.
      ...Object.fromEntries(
        Object.entries(passEnv).filter(([k]) => k.startsWith('TTS_') && !['TTS_ENGINE', 'TTS_BASE_URL', 'TTS_API_KEY', 'TTS_MODEL', 'TTS_VOICES'].includes(k)),
      ),
      TTS_WORKER_HOST: '127.0.0.1',
      TTS_WORKER_PORT: String(base + env.CLUSTER_INSTANCES + i),
      TTS_WORKER_SECRET: shared.TTS_WORKER_SECRET,
    },
    restarts: 0,
  }));
  const ttsFront = new RoundRobinProxy({ upstreams: workers.map((w) => `http://127.0.0.1:${w.port}`) });
  const ttsFrontUrl = await ttsFront.listen(0, '127.0.0.1');

  const instances: Member[] = Array.from({ length: env.CLUSTER_INSTANCES }, (_, i) => ({
    name: `app${i + 1}`,
    port: base + i,
    args: ['--enable-source-maps', ...loader(serverEntry), '--import', PARENT_WATCHDOG, serverEntry],
    cwd: process.env.INIT_CWD ?? process.cwd(),
    env: {
      ...passEnv,
      ...shared,
      PORT: String(base + i),
      HOST: '127.0.0.1',
      APP_ORIGIN: process.env.APP_ORIGIN?.trim() || frontOrigin,
      TRUST_PROXY: process.env.TRUST_PROXY?.trim() || 'loopback',
      TTS_WORKER_URL: ttsFrontUrl,
      // Each instance is one process: this launcher is the several-process topology itself.
      WEB_CONCURRENCY: '1',
    },
    restarts: 0,
  }));

  let stopping = false;
  const start = (m: Member) => {
    const child = spawn(process.execPath, m.args, { cwd: m.cwd, env: m.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    m.child = child;
    const prefix = `[${m.name}] `;
    createInterface({ input: child.stdout! }).on('line', (line) => process.stdout.write(`${prefix + line}\n`));
    createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`${prefix + line}\n`));
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const delay = Math.min(500 * 2 ** m.restarts, 10_000);
      m.restarts++;
      process.stderr.write(`[cluster] ${m.name} exited (${signal ?? code}); restarting in ${delay} ms\n`);
      setTimeout(() => !stopping && start(m), delay).unref();
    });
  };
  for (const m of [...workers, ...instances]) start(m);

  const front = new RoundRobinProxy({ upstreams: instances.map((m) => `http://127.0.0.1:${m.port}`) });
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[cluster] ${signal}: stopping\n`);
    await Promise.allSettled([front.close(), ttsFront.close()]);
    const all = [...instances, ...workers].map((m) => m.child).filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const healthy = await Promise.all([
    ...instances.map((m) => waitHealthy(`http://127.0.0.1:${m.port}/healthz`, 90_000)),
    ...workers.map((m) => waitHealthy(`http://127.0.0.1:${m.port}/healthz`, 90_000)),
  ]);
  if (healthy.some((ok) => !ok)) {
    process.stderr.write('[cluster] not every member became healthy within 90 s; stopping\n');
    await stop('start-up failure');
    return;
  }
  const url = await front.listen(env.PORT, env.CLUSTER_HOST);
  const state = {
    msg: 'cluster ready',
    url,
    origin: frontOrigin,
    ttsFront: ttsFrontUrl,
    instances: instances.map((m) => ({ name: m.name, port: m.port, pid: m.child?.pid })),
    workers: workers.map((m) => ({ name: m.name, port: m.port, pid: m.child?.pid })),
  };
  process.stdout.write(`[cluster] ${JSON.stringify(state)}\n`);
  process.stdout.write(`[cluster] ChatMeter on ${frontOrigin}: ${instances.length} instances, ${workers.length} TTS workers. Ctrl-C stops everything.\n`);
}

main().catch((error: Error) => {
  console.error('npm run cluster failed:', error);
  process.exit(1);
});
