import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { EspeakEngine } from './engines/espeak.ts';
import { EnvError, loadConfig, type Config } from './env.ts';
import { createLogger, errorFields } from './logger.ts';
import { SynthPool } from './pool.ts';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof EnvError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.logLevel);
if (config.secret && config.secret.length < 16) {
  logger.warn('TTS_WORKER_SECRET is shorter than 16 characters');
}
if (!config.secret && !['127.0.0.1', '::1', 'localhost'].includes(config.host)) {
  logger.warn('listening beyond loopback without TTS_WORKER_SECRET: anyone who can reach the port can use it', {
    host: config.host,
  });
}

process.on('unhandledRejection', (err) => logger.error('unhandled rejection', errorFields(err)));

const engine = new EspeakEngine();
const pool = new SynthPool({
  threads: config.threads,
  maxQueue: config.maxQueue,
  taskTimeoutMs: config.taskTimeoutMs,
  logger,
});
const app = createApp({ config, pool, engine, logger });

const server = app.listen(config.port, config.host);
server.on('error', (err) => {
  logger.error('server error', errorFields(err));
  process.exit(1);
});
server.on('listening', () => {
  const address = server.address() as AddressInfo;
  logger.info('listening', {
    host: address.address,
    port: address.port,
    threads: config.threads,
    maxQueue: config.maxQueue,
    engine: `${engine.id}@${engine.version}`,
    secret: config.secret ? 'required' : 'off',
  });
});

const warmStart = performance.now();
pool.ready().then(
  () => logger.info('pool ready', { threads: config.threads, ms: Math.round(performance.now() - warmStart) }),
  (err: unknown) => logger.error('pool warm-up failed', errorFields(err)),
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down', { signal });
  // Whatever happens below, do not hang forever.
  setTimeout(() => {
    logger.error('shutdown timed out; exiting');
    process.exit(1);
  }, config.taskTimeoutMs + 5000).unref();
  // No new connections; queued jobs get 503 tts_busy; running jobs finish and answer.
  const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await pool.close();
  await serverClosed;
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
