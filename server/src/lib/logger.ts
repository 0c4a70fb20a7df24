import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'chatmeter-server' },
      redact: { paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'], remove: true },
    },
    // Lines are written asynchronously: under load, those that gather while a write is
    // in flight go in one write (a synchronous write per request line cost a system call
    // each, issue 17). pino flushes what is left when the process exits.
    pino.destination({ dest: 1, sync: false }),
  );
}
