// Starts ChatMeter: parse the environment, open the database (migrating it),
// create the first admin, listen, and shut down cleanly on a signal.
import { createApp } from './app.ts';
import { appOrigin, createDeps } from './deps.ts';
import { EnvError, parseEnv } from './env.ts';
import { sweepExpiredReservations } from './metering/sweeper.ts';

async function main(): Promise<void> {
  const env = parseEnv(process.env);
  const deps = await createDeps(env);
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
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    deps.logger.info({ signal }, 'shutting down');
    server.close(() => void deps.close().finally(() => process.exit(0)));
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
