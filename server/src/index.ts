// Starts ChatMeter: parse the environment, open the database (migrating it),
// create the first admin, listen, and shut down cleanly on a signal. With
// WEB_CONCURRENCY above 1 this process becomes the primary of several server
// processes sharing the port (cluster/web-workers.ts), each of which runs main().
import { createApp } from './app.ts';
import { followTtsTarget, isClusterWorker, JOBS_ENV, runPrimary, webConcurrency } from './cluster/web-workers.ts';
import { appOrigin, createDeps } from './deps.ts';
import { EnvError, parseEnv, type ServerEnv } from './env.ts';
import { createLogger } from './lib/logger.ts';
import { sweepExpiredReservations } from './metering/sweeper.ts';
import { defaultWorkerScript, TtsWorkerProcess } from './tts/worker-process.ts';
import { listen } from './web/http-server.ts';

async function start(): Promise<void> {
  const env = parseEnv(process.env);
  const processes = webConcurrency(env);
  if (!isClusterWorker() && processes > 1) return runPrimary(env, processes, createLogger(env.LOG_LEVEL));
  return main(env);
}

async function main(env: ServerEnv): Promise<void> {
  // In a server process of a group, the primary runs the TTS worker and says where it listens.
  const inGroup = isClusterWorker();
  const runsJobs = !inGroup || process.env[JOBS_ENV] === '1';
  // Without TTS_WORKER_URL the server runs the TTS worker itself (docs/tts-worker.md);
  // with TTS_ENGINE=openai-compatible another server speaks and no worker runs.
  const localWorker = env.TTS_ENGINE === 'espeak-ng';
  const ttsWorker =
    inGroup || env.TTS_WORKER_URL || !localWorker
      ? undefined
      : new TtsWorkerProcess({ script: env.TTS_WORKER_SCRIPT ?? defaultWorkerScript(), parentEnv: process.env, secret: env.TTS_WORKER_SECRET });
  const ttsTarget = inGroup && !env.TTS_WORKER_URL && localWorker ? followTtsTarget() : ttsWorker ? () => ttsWorker.target() : undefined;
  const deps = await createDeps(env, ttsTarget ? { ttsWorker: ttsTarget } : {});
  ttsWorker?.start(deps.logger.child({ component: 'tts-worker' }));
  if (runsJobs && env.ADMIN_EMAIL && env.ADMIN_PASSWORD) await deps.auth.ensureAdmin(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
  // Once per deployment, not once per server process: what each paid plan can cost, and which can lose money.
  if (runsJobs) deps.economics.logAtStart(deps.logger);
  const app = createApp(deps);
  // Called with the error when the port cannot be had (in use, not ours to take). The server's
  // requests and responses are born express's (web/http-server.ts).
  const server = listen(app, env.PORT, env.HOST, (error?: Error) => {
    if (error) {
      deps.logger.fatal({ err: error.message, code: (error as NodeJS.ErrnoException).code, port: env.PORT, host: env.HOST }, 'ChatMeter could not listen');
      // The worker first, at most 5 s: it is our child process.
      const stopped = ttsWorker?.stop();
      setTimeout(() => process.exit(1), 5_000).unref();
      void Promise.resolve(stopped).finally(() => process.exit(1));
      return;
    }
    deps.logger.info(
      { port: env.PORT, db: deps.db.kind, rateLimits: deps.limiters.store, pid: process.pid, ...(inGroup ? { runsJobs } : {}) },
      `ChatMeter listening on ${appOrigin(env)}`,
    );
    if (!inGroup && !env.DATABASE_URL)
      deps.logger.info('one server process: the embedded database (PGlite) is not shared between processes; set DATABASE_URL and REDIS_URL to use every core');
  });
  if (inGroup) process.on('disconnect', () => process.exit(0));
  if (runsJobs) startJobs(deps);
  // Each process's overview cache: the closed days are read in the background, not by the first admin of the day.
  deps.overview.startWarming();
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    deps.logger.info({ signal }, 'shutting down');
    // At once: Ctrl-C reaches the worker too, and it must not be restarted meanwhile.
    const workerStopped = ttsWorker?.stop();
    server.close(() => void Promise.all([deps.close(), workerStopped]).finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The periodic jobs: in one process of a group (the primary picks it), or in the only process. */
function startJobs(deps: Awaited<ReturnType<typeof createDeps>>): void {
  const sweep = setInterval(() => void deps.sessions.deleteExpired().catch(() => {}), 60 * 60 * 1000);
  sweep.unref();
  // Reservations whose stream never settled (a crashed instance) are settled as estimated.
  const reservationSweep = setInterval(
    () =>
      void sweepExpiredReservations(deps.prisma, deps.meter, deps.pricing, {
        logger: deps.logger,
        providerFor: (model) => deps.providers.forModel(model)?.id,
      }).catch((error: Error) => deps.logger.error({ err: error.message }, 'reservation sweep failed')),
    60 * 1000,
  );
  reservationSweep.unref();
  // Ends past_due grace periods (and cancelled subscriptions whose period is over) on time.
  deps.billing.startSweeper();
  // Raw usage past RETENTION_DAYS (and messages past MESSAGE_RETENTION_DAYS): hourly, once across instances.
  deps.retention.start();
  // The provider's daily costs against the meter: once a day across instances, only with OPENAI_ADMIN_KEY.
  deps.reconcile.start();
  // Global caps and spending alerts on settled usage (every minute), and the weekly spend report: once across instances.
  deps.alerts.start();
}

start().catch((error: Error) => {
  if (error instanceof EnvError) console.error(error.message);
  else console.error('ChatMeter failed to start:', error);
  process.exit(1);
});
