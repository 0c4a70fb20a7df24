// WEB_CONCURRENCY: several server processes on one machine, sharing the port
// through node:cluster (the primary accepts connections and hands them out).
// The primary migrates the database once, runs the one TTS worker and tells the
// server processes where it listens, and restarts a server process that dies.
// One server process, the first, runs the jobs that must run once per process
// group (session and reservation sweeps, the billing sweeper, retention,
// reconciliation); a replacement of it takes them over. Retention and
// reconciliation also hold database locks, so other instances elsewhere are safe.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '@chatmeter/db/client';
import type { ServerEnv } from '../env.ts';
import type { Logger } from '../lib/logger.ts';
import type { TtsWorkerTarget } from '../tts/tts-client.ts';
import { defaultWorkerScript, TtsWorkerProcess } from '../tts/worker-process.ts';

/** Set in a server process's environment by the primary. */
export const JOBS_ENV = 'CHATMETER_RUNS_JOBS';

export type TtsTargetMessage = { type: 'chatmeter:tts-target'; target: TtsWorkerTarget | null };
/** A server process asks for the current target once it listens for the answer (a message sent earlier would be lost). */
export type TtsTargetRequest = { type: 'chatmeter:tts-target?' };

/** How many server processes to run: WEB_CONCURRENCY, else the cores (at most 8) when the database and limits can be shared. */
export function webConcurrency(env: Pick<ServerEnv, 'WEB_CONCURRENCY' | 'DATABASE_URL' | 'REDIS_URL'>, cores = os.availableParallelism()): number {
  if (env.WEB_CONCURRENCY) return env.WEB_CONCURRENCY;
  return env.DATABASE_URL && env.REDIS_URL ? Math.max(1, Math.min(cores, 8)) : 1;
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a server process: the TTS worker's address as the primary last announced it. */
export function followTtsTarget(): () => TtsWorkerTarget | undefined {
  let current: TtsWorkerTarget | undefined;
  process.on('message', (message: unknown) => {
    const m = message as Partial<TtsTargetMessage> | null;
    if (m && m.type === 'chatmeter:tts-target') current = m.target ?? undefined;
  });
  const ask: TtsTargetRequest = { type: 'chatmeter:tts-target?' };
  process.send?.(ask);
  return () => current;
}

/** Runs the primary: never returns until it is told to stop. */
export async function runPrimary(env: ServerEnv, count: number, logger: Logger): Promise<void> {
  // Once, before any server process opens the database.
  const db = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: path.join(env.dataDirAbsolute, 'pglite'),
    poolMax: 1,
    logger: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
  });
  await db.close();

  const tts =
    env.TTS_WORKER_URL || env.TTS_ENGINE !== 'espeak-ng'
      ? undefined
      : new TtsWorkerProcess({ script: env.TTS_WORKER_SCRIPT ?? defaultWorkerScript(), parentEnv: process.env, secret: env.TTS_WORKER_SECRET });
  tts?.start(logger.child({ component: 'tts-worker' }));
  let announced: string | undefined;
  const announce = (to: Iterable<Worker>) => {
    const message: TtsTargetMessage = { type: 'chatmeter:tts-target', target: tts?.target() ?? null };
    for (const worker of to) if (worker.isConnected()) worker.send(message);
  };
  // The TTS worker's port changes when it restarts: tell every server process.
  const watch = setInterval(() => {
    const now = JSON.stringify(tts?.target() ?? null);
    if (now !== announced) {
      announced = now;
      announce(Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w));
    }
  }, 250);
  watch.unref();

  let stopping = false;
  let jobsWorker: Worker | undefined;
  const fork = (runsJobs: boolean) => {
    const worker = cluster.fork({ [JOBS_ENV]: runsJobs ? '1' : '0', TTS_WORKER_SECRET: tts?.secret ?? env.TTS_WORKER_SECRET ?? '' });
    if (runsJobs) jobsWorker = worker;
    worker.on('message', (message: unknown) => {
      if ((message as Partial<TtsTargetRequest> | null)?.type === 'chatmeter:tts-target?') announce([worker]);
    });
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const runsJobs = worker === jobsWorker;
    logger.error({ pid: worker.process.pid, code, signal, runsJobs }, 'a server process exited; starting another');
    setTimeout(() => {
      if (!stopping) fork(runsJobs);
    }, 500).unref();
  });
  for (let i = 0; i < count; i++) fork(i === 0);
  logger.info({ processes: count, pid: process.pid }, `ChatMeter primary: ${count} server processes share port ${env.PORT}`);

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down the server processes');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    for (const worker of workers) worker.process.kill('SIGTERM');
    const exited = Promise.all(workers.map((w) => (w.isDead() ? Promise.resolve() : new Promise<void>((resolve) => w.once('exit', () => resolve())))));
    void Promise.all([exited, tts?.stop()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 12_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
