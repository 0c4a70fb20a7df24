// `npm start` (src/index.ts) runs the built-in TTS worker only for TTS_ENGINE=espeak-ng:
// with openai-compatible another server speaks and no worker is started. The worker
// script is pointed at a file that does not exist, so starting it logs "the TTS worker is
// not built" at once, before the server says it is listening.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-tts-engine-start-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts `node src/index.ts` on PGlite, returns its log lines up to "listening", then stops it. */
async function start(name: string, env: Record<string, string>): Promise<{ lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: serverDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: path.join(dir, name),
      LOG_LEVEL: 'info',
      CAPTCHA: 'off',
      TTS_WORKER_SCRIPT: path.join(dir, 'no-such-worker.js'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const onLine = (line: string) => {
        lines.push(line);
        if (line.includes('ChatMeter listening')) resolve();
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      child.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${lines.join('\n')}`)));
    });
    return { lines };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('npm start and TTS_ENGINE', () => {
  it('espeak-ng (the default) starts the local worker', async () => {
    const { lines } = await start('espeak', {});
    expect(lines.some((l) => l.includes('the TTS worker is not built'))).toBe(true);
  }, 120_000);

  it('openai-compatible does not start it', async () => {
    const { lines } = await start('openai', { TTS_ENGINE: 'openai-compatible', TTS_BASE_URL: 'http://127.0.0.1:9/v1', TTS_MODEL: 'tts-1' });
    expect(lines.some((l) => l.includes('ChatMeter listening'))).toBe(true);
    expect(lines.filter((l) => /tts-worker|TTS worker/.test(l))).toEqual([]);
  }, 120_000);
});
