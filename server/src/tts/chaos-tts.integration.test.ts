// Chaos, part 3: the TTS worker killed (-9) under the supervisor `npm start`
// uses. While it is gone, voice answers provider_unavailable and chat keeps
// working; the supervisor starts a new worker and voice works again.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speechChars } from '@chatmeter/shared/speech-text';
import { createLogger } from '../lib/logger.ts';
import { TtsWorkerProcess } from './worker-process.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';
import { buildWorker, tempDataDir } from '../../test/helpers/tts.ts';

let built: Awaited<ReturnType<typeof buildWorker>>;
let worker: TtsWorkerProcess;
let server: TestServer;
let dataDir: string;

beforeAll(async () => {
  built = await buildWorker();
  // A restart delay long enough to observe the gap.
  worker = new TtsWorkerProcess({
    script: built.script,
    parentEnv: { PATH: process.env.PATH, TTS_THREADS: '1', TTS_LOG_LEVEL: 'silent' },
    initialBackoffMs: 1_500,
    maxBackoffMs: 3_000,
  });
  worker.start(createLogger('silent'));
  if (!(await worker.ready(30_000))) throw new Error('the TTS worker did not start');
  dataDir = await tempDataDir();
  server = await startTestServer({ DATA_DIR: dataDir, TTS_TIMEOUT_MS: '5000' }, { ttsWorker: () => worker.target() });
});
afterAll(async () => {
  await server?.close();
  await worker?.stop();
  await built?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('chaos: a TTS worker killed', () => {
  it('voice is provider_unavailable while it is gone, chat keeps working, and the supervisor brings it back', async () => {
    const b = server.browser({ ip: '10.91.0.1' });
    await b.trpc.auth.signUp.mutate({ email: `tts-kill-${Date.now()}@example.com`, password: 'correct horse battery' });
    const first = await send(b, { content: 'Say something short.' });
    expect((await b.trpc.tts.speak.mutate({ messageId: first.start!.messageId })).audioUrl).toMatch(/^\/audio\//);

    const pid = worker.pid!;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && worker.target(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(worker.target()).toBeUndefined();

    const second = await send(b, { content: 'And another thing.', conversationId: first.start!.conversationId });
    expect(second.done?.status).toBe('ok');
    expect(await trpcError(b.trpc.tts.speak.mutate({ messageId: second.start!.messageId }))).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      reason: 'provider_unavailable',
    });
    const third = await send(b, { content: 'Chat still works while voice is down.', conversationId: first.start!.conversationId });
    expect(third.done?.status).toBe('ok');

    expect(await worker.ready(30_000)).toBe(true);
    expect(worker.pid).not.toBe(pid);
    expect(worker.starts).toBe(2);
    const spoken = await b.trpc.tts.speak.mutate({ messageId: second.start!.messageId });
    expect(spoken.durationMs).toBeGreaterThan(0);
    const audio = await b.fetch(spoken.audioUrl);
    expect(audio.status).toBe(200);
    // The refused attempt charged nothing: only the two spoken replies count.
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.ttsCharsToday).toBe(speechChars(first.text) + speechChars(second.text));
  });
});
