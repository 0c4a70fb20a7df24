// Starts ChatMeter: parse the environment, open the database (migrating it),
// create the first admin, listen, and shut down cleanly on a signal.
import { createApp } from './app.ts';
import { appOrigin, createDeps } from './deps.ts';
import { EnvError, parseEnv } from './env.ts';
import { sweepExpiredReservations } from './metering/sweeper.ts';
import { defaultWorkerScript, TtsWorkerProcess } from './tts/worker-process.ts';

async function main(): Promise<void> {
  const env = parseEnv(process.env);
  // Without TTS_WORKER_URL the server runs the TTS worker itself (docs/tts-worker.md).
  const ttsWorker = env.TTS_WORKER_URL ? undefined : new TtsWorkerProcess({ script: defaultWorkerScript(), parentEnv: process.env, secret: env.TTS_WORKER_SECRET });
  const deps = await createDeps(env, ttsWorker ? { ttsWorker: () => ttsWorker.target() } : {});
  ttsWorker?.start(deps.logger.child({ component: 'tts-worker' }));
  if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD) await deps.auth.ensureAdmin(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
  const app = createApp(deps);
  const server = app.listen(env.PORT, env.HOST, () => {
    deps.logger.info({ port: env.PORT, db: deps.db.kind, rateLimits: deps.limiters.store }, `ChatMeter listening on ${appOrigin(env)}`);
  });
  const sweep = setInterval(() => void deps.sessions.deleteExpired().catch(() => {}), 60 * 60 * 1000);
  sweep.unref();
  // Reservations whose stream never settled (a crashed instance) are settled as estimated.
  const reservationSweep = setInterval(
    () => void sweepExpiredReservations(deps.prisma, deps.meter, deps.pricing, { logger: deps.logger }).catch((error: Error) => deps.logger.error({ err: error.message }, 'reservation sweep failed')),
    60 * 1000,
  );
  reservationSweep.unref();
  // Ends past_due grace periods (and cancelled subscriptions whose period is over) on time.
  deps.billing.startSweeper();
  // Raw usage past RETENTION_DAYS (and messages past MESSAGE_RETENTION_DAYS): hourly, once across instances.
  deps.retention.start();
  // The provider's daily costs against the meter: once a day across instances, only with OPENAI_ADMIN_KEY.
  deps.reconcile.start();
  // The overview's closed days are read in the background, not by the first admin of the day.
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

main().catch((error: Error) => {
  if (error instanceof EnvError) console.error(error.message);
  else console.error('ChatMeter failed to start:', error);
  process.exit(1);
});
