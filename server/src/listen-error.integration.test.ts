// `npm start` on a port that is taken: the server says so and stops with exit code 1
// (express 5's app.listen hands the error to the listening callback, which used to log
// "ChatMeter listening" and leave the process running, not listening, with its jobs).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEntryPoint } from '../test/helpers/entry-point.ts';

let dir: string;
let taken: Server;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-listen-error-'));
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  port = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a port in use: "could not listen" and exit code 1, never "listening"', async () => {
  const { child, lines, exited } = startEntryPoint({
    PORT: String(port),
    DATA_DIR: path.join(dir, 'data'),
    // No local TTS worker to leave behind.
    TTS_ENGINE: 'openai-compatible',
    TTS_BASE_URL: 'http://127.0.0.1:9/v1',
    TTS_MODEL: 'tts-1',
  });
  const stalled = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(stalled);
  expect(lines.filter((l) => l.includes('ChatMeter listening'))).toEqual([]);
  const refusal = lines.find((l) => l.includes('ChatMeter could not listen'));
  expect(refusal, lines.join('\n')).toBeDefined();
  expect(JSON.parse(refusal!)).toMatchObject({ level: 60, code: 'EADDRINUSE', port });
  expect(code).toBe(1);
}, 90_000);
