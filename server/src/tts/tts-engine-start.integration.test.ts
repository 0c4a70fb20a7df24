// `npm start` (src/index.ts) runs the built-in TTS worker only for TTS_ENGINE=espeak-ng:
// with openai-compatible another server speaks and no worker is started. The worker
// script is pointed at a file that does not exist, so starting it logs "the TTS worker is
// not built" at once, before the server says it is listening.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linesUntilListening } from '../../test/helpers/entry-point.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-tts-engine-start-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `node src/index.ts` on PGlite: its log lines up to "listening" (then stopped). */
async function start(name: string, env: Record<string, string>): Promise<{ lines: string[] }> {
  const lines = await linesUntilListening({ DATA_DIR: path.join(dir, name), TTS_WORKER_SCRIPT: path.join(dir, 'no-such-worker.js'), ...env });
  return { lines };
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
