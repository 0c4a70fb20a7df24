// The server's log destination gathers lines (logger.ts): each must still reach stdout
// within about LOG_FLUSH_MS while the process runs on, and all of them when it exits.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { LOG_FLUSH_MS } from './logger.ts';

/** A child process that logs with createLogger as the script says: the messages it wrote to stdout, when the first arrived, its exit. */
function logChild(script: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createLogger } from './src/lib/logger.ts';\n${script}`], {
    cwd: new URL('../..', import.meta.url),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let arrived!: (at: number) => void;
  const firstArrival = new Promise<number>((resolve) => (arrived = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push((JSON.parse(line) as { msg: string }).msg);
    arrived(Date.now());
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { child, lines, firstArrival, exited };
}

describe('createLogger', () => {
  it('writes every line when the process exits, those still gathered included', async () => {
    const { lines, exited } = logChild(`
      const logger = createLogger('info');
      for (let i = 0; i < 5; i++) logger.info('line ' + i);
      process.exit(3);
    `);
    expect(await exited).toBe(3);
    expect(lines).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  });

  it('keeps a lone line no longer than about the flush interval', async () => {
    // The child reports on stderr when it logged; the parent notes when the line arrived.
    const { child, firstArrival } = logChild(`
      const logger = createLogger('info');
      setTimeout(() => { process.stderr.write(String(Date.now()) + '\\n'); logger.info('timed'); }, 500);
      setTimeout(() => process.exit(0), 5_000);
    `);
    const loggedAt = new Promise<number>((resolve) => createInterface({ input: child.stderr! }).once('line', (line) => resolve(Number(line))));
    const delay = (await firstArrival) - (await loggedAt);
    child.kill('SIGKILL');
    // One interval, and room for a busy machine.
    expect(delay).toBeLessThan(LOG_FLUSH_MS + 1_000);
  });
});
