import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { EncoderCache, concatBytes, durationMs } from './audio.ts';
import { EspeakEngine } from './engines/espeak.ts';
import type { SynthTask, SynthTaskResult, StreamMessage, WorkerOptions } from './synth-task.ts';

// One warm engine and one set of encoders per thread. Top-level await: piscina reports
// the thread ready only after this module has loaded, so no request pays for start-up.
const engine = new EspeakEngine();
const encoders = new EncoderCache();
await Promise.all([engine.warmUp(), encoders.warmUp()]);

const options = (workerData ?? {}) as Partial<WorkerOptions>;

export default async function synthesize(task: SynthTask): Promise<SynthTaskResult> {
  const started = performance.now();
  let synthesisMs = 0;
  let encodeMs = 0;
  let samples = 0;
  let sampleRate = 0;
  let firstAudioMs = -1;
  let encoder: Awaited<ReturnType<EncoderCache['open']>> | undefined;
  const parts: Uint8Array[] = [];
  const emit = (bytes: Uint8Array) => {
    if (!bytes.length) return;
    if (firstAudioMs < 0) firstAudioMs = performance.now() - started;
    if (task.port) {
      const message: StreamMessage = { type: 'data', bytes };
      task.port.postMessage(message, [bytes.buffer as ArrayBuffer]);
    } else {
      parts.push(bytes);
    }
  };

  try {
    for (const chunk of task.chunks) {
      if (options.faultInjection) await injectFault(chunk);
      const t0 = performance.now();
      const { pcm, sampleRate: rate } = await engine.synthesize({ text: chunk, voice: task.voice, rate: task.rate });
      const t1 = performance.now();
      synthesisMs += t1 - t0;
      sampleRate ||= rate;
      encoder ??= await encoders.open(task.format, sampleRate);
      samples += pcm.length;
      emit(encoder.push(pcm));
      encodeMs += performance.now() - t1;
    }
    const t2 = performance.now();
    encoder ??= await encoders.open(task.format, sampleRate || 22_050);
    emit(encoder.finish());
    encodeMs += performance.now() - t2;
  } finally {
    if (task.port) {
      const end: StreamMessage = { type: 'end' };
      task.port.postMessage(end);
      task.port.close();
    }
  }

  const audio = task.port ? new Uint8Array(0) : concatBytes(parts);
  const result: SynthTaskResult = {
    audio,
    bytes: task.port ? 0 : audio.length,
    sampleRate: sampleRate || 22_050,
    samples,
    durationMs: durationMs(samples, sampleRate || 22_050),
    synthesisMs,
    encodeMs,
    firstAudioMs: Math.max(0, firstAudioMs),
    engine: `${engine.id}@${engine.version}`,
    threadId,
  };
  if (!audio.length) return result;
  // Hand the audio buffer to the main thread instead of copying it.
  const transferable = { [transferableSymbol]: [audio.buffer], [valueSymbol]: result };
  return move(transferable as never) as unknown as SynthTaskResult;
}

/**
 * Test-only failure modes, reachable only when the pool was built with
 * `faultInjection: true`: a chunk containing one of these words makes the worker
 * throw, spin forever (to exercise the timeout), kill its thread, or sleep.
 */
async function injectFault(chunk: string): Promise<void> {
  if (chunk.includes('ttsfaultthrow')) throw new Error('injected fault: throw');
  if (chunk.includes('ttsfaulthang')) {
    for (;;) {
      // Busy loop: only terminating the thread stops this.
    }
  }
  if (chunk.includes('ttsfaultcrash')) process.exit(1);
  const sleep = /ttsfaultsleep(\d+)/.exec(chunk);
  if (sleep) await new Promise((resolve) => setTimeout(resolve, Number(sleep[1])));
}
