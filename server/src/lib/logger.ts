import pino, { type Logger } from 'pino';

export type { Logger };

/** Log lines wait until this much has gathered, or `LOG_FLUSH_MS` has passed. */
export const LOG_BUFFER_BYTES = 4096;
export const LOG_FLUSH_MS = 250;

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'chatmeter-server' },
      redact: { paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'], remove: true },
    },
    // Lines are written asynchronously, gathered up to 4 KB and at most a quarter of a
    // second late: a write per request line cost a system call each, 2-3 % of the
    // server's CPU per chat under load (issue 17). pino flushes what is left when the
    // process exits.
    pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MS }),
  );
}
