// `npm start`'s entry point (src/index.ts, through tsx) in its own process, for tests of
// what it does at start: a minimal environment (loopback, any free port, no captcha,
// LOG_LEVEL=info) under the test's own (DATA_DIR at least), and every line it writes to
// stdout or stderr.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface EntryPoint {
  child: ChildProcess;
  /** Its lines so far, stdout and stderr together. */
  lines: string[];
  /** Its exit code (null when killed by a signal), once its output has been read to the end. */
  exited: Promise<number | null>;
}

export function startEntryPoint(env: Record<string, string> & { DATA_DIR: string }, onLine?: (line: string) => void): EntryPoint {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: serverDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CAPTCHA: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const read = (line: string) => {
    lines.push(line);
    onLine?.(line);
  };
  createInterface({ input: child.stdout! }).on('line', read);
  createInterface({ input: child.stderr! }).on('line', read);
  return { child, lines, exited };
}

/** Starts it, returns its lines up to "ChatMeter listening", then stops it; fails with its lines if it exits first. */
export async function linesUntilListening(env: Record<string, string> & { DATA_DIR: string }): Promise<string[]> {
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const started = startEntryPoint(env, (line) => {
    if (line.includes('ChatMeter listening')) listening();
  });
  try {
    await Promise.race([
      ready,
      started.exited.then((code) => {
        throw new Error(`the server exited (${code}):\n${started.lines.join('\n')}`);
      }),
    ]);
    return started.lines;
  } finally {
    started.child.kill('SIGTERM');
    await started.exited;
  }
}
