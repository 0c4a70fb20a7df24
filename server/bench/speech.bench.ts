// npm run bench:speech — speech while the reply streams, with the built-in engine
// (the real tts-worker, built from tts-worker/src, espeak-ng in its thread pool): for
// BENCH_REPLIES replies (default 40), one at a time, the time from the moment the
// stream completed the first sentence to that sentence's `audio` event, as the client
// sees them; p50 / p95 / p99. Goal: p95 under 300 ms on the 2-core machine.
//
// "Completed" is when the server can know it: the first delta after which the
// sentence cutter (the server's own, SentenceCutter) gives sentence 0, i.e. the next
// word has arrived. Also printed: the time from the delta holding the sentence's last
// character (what a listener would call its end), and the load average before and
// after, since the machine is shared.
//
// The server runs in this process (as the integration tests start it), with the demo
// model streaming at DEMO_DELAY_MS (default 15 ms between chunks, the product's
// default); the audio cache is emptied before each reply so every first sentence is
// synthesized. Uses TEST_DATABASE_URL's Postgres when set, else PGlite.
// BENCH_TTS_THREADS: the worker's threads (default 2, one a core).
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { SentenceCutter, speechSentences } from '@chatmeter/shared/speech-text';
import type { TChatEvent } from '@chatmeter/shared/chat';
import { startTestServer } from '../test/helpers/server.ts';
import { buildWorker, startRealWorker, tempDataDir } from '../test/helpers/tts.ts';
import { percentile } from './lib.ts';

const REPLIES = Number(process.env.BENCH_REPLIES ?? 40);
const DELAY = process.env.DEMO_DELAY_MS ?? '15';
const THREADS = process.env.BENCH_TTS_THREADS ?? '2';

const QUESTIONS = [
  'How do plans and quotas work here?',
  'Explain what a token costs on this service.',
  'Tell me about usage limits and credits.',
  'What happens when my monthly quota runs out?',
  'Describe the pricing of the models.',
];

function summary(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number) => `${Math.round(v)} ms`;
  return `${label.padEnd(46)} p50 ${f(percentile(sorted, 50))}  p95 ${f(percentile(sorted, 95))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted.at(-1) ?? NaN)}`;
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  console.log(`speech bench: ${REPLIES} replies, DEMO_DELAY_MS=${DELAY}, worker threads ${THREADS}, ${os.availableParallelism()} cores`);
  console.log(`load average before: ${loadBefore.map((v) => v.toFixed(2)).join(' ')}`);
  const build = await buildWorker();
  const worker = await startRealWorker(build.script, { TTS_THREADS: THREADS });
  const dataDir = await tempDataDir();
  const server = await startTestServer({ DATA_DIR: dataDir, TTS_WORKER_URL: worker.target()!.url, TTS_WORKER_SECRET: worker.secret, DEMO_DELAY_MS: DELAY });
  const fromCut: number[] = [];
  const fromLastChar: number[] = [];
  const synthesis: number[] = [];
  try {
    const b = server.browser({ ip: '10.90.0.1' });
    // A paid plan's allowance, so the daily characters never stop the run.
    await b.trpc.auth.signUp.mutate({ email: 'bench-speech@example.com', password: 'a long bench password 1' });
    const me = await b.trpc.auth.me.query();
    await server.deps.prisma.user.update({ where: { id: me!.id }, data: { planId: 'enterprise', emailVerifiedAt: new Date() } });
    // One warm-up reply (the worker's first synthesis loads eSpeak NG in each thread).
    for (let i = -1; i < REPLIES; i++) {
      await server.deps.prisma.audioClip.deleteMany({});
      const stream = await b.trpc.chat.send.mutate({ content: `${QUESTIONS[(i + 5) % QUESTIONS.length]} (${i})`, speak: true });
      const cutter = new SentenceCutter({ language: 'en-US' });
      let text = '';
      let cutAt: number | undefined;
      const deltaTimes: Array<{ at: number; length: number }> = [];
      let audioAt: number | undefined;
      for await (const raw of stream) {
        const event = raw as TChatEvent;
        const now = performance.now();
        if (event.type === 'delta') {
          text += event.text;
          deltaTimes.push({ at: now, length: text.length });
          if (cutAt === undefined && cutter.push(event.text).length > 0) cutAt = now;
        } else if (event.type === 'audio' && event.index === 0) {
          audioAt = now;
        } else if (event.type === 'audio_skipped' || event.type === 'audio_end') {
          throw new Error(`speech did not work: ${JSON.stringify(event)}`);
        }
      }
      if (i < 0) continue;
      if (audioAt === undefined) throw new Error('no audio for the first sentence');
      cutAt ??= deltaTimes.at(-1)!.at;
      fromCut.push(audioAt - cutAt);
      // The delta that carried the first sentence's last character: the first one after which the
      // text, prepared, starts with the whole first sentence.
      const first = speechSentences(text, { language: 'en-US' })[0]!;
      const ended = deltaTimes.find((d) => speechSentences(text.slice(0, d.length), { language: 'en-US' })[0] === first) ?? deltaTimes.at(-1)!;
      fromLastChar.push(audioAt - ended.at);
    }
    const rows = await server.deps.prisma.audioClip.findMany({ select: { synthesisMs: true } });
    synthesis.push(...rows.map((r) => r.synthesisMs));
  } finally {
    await server.close();
    await worker.stop();
    await build.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  }
  console.log(summary('sentence cut -> its audio event', fromCut));
  console.log(summary("sentence's last character -> its audio event", fromLastChar));
  if (synthesis.length) console.log(summary('(worker synthesis of the last reply, per sentence)', synthesis));
  console.log(
    `load average after: ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  const p95 = percentile(
    [...fromCut].sort((a, b) => a - b),
    95,
  );
  console.log(p95 <= 300 ? `goal met: p95 ${Math.round(p95)} ms <= 300 ms` : `goal missed: p95 ${Math.round(p95)} ms > 300 ms`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
