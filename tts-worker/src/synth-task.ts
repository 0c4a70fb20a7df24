import type { MessagePort } from 'node:worker_threads';
import type { AudioFormat } from './audio.ts';

/** What the main thread sends to a worker thread: one request's text, already chunked. */
export interface SynthTask {
  chunks: string[];
  voice: string;
  rate: number;
  format: AudioFormat;
  /** When set, encoded bytes are posted here as each chunk is ready (streaming). */
  port?: MessagePort;
}

/** Messages on `SynthTask.port`, in order: any number of `data`, then one `end`. */
export type StreamMessage = { type: 'data'; bytes: Uint8Array } | { type: 'end' };

export interface SynthTaskResult {
  /** The whole file; empty when the bytes were streamed through `port`. */
  audio: Uint8Array;
  bytes: number;
  sampleRate: number;
  samples: number;
  durationMs: number;
  /** Time spent in the engine only. */
  synthesisMs: number;
  /** Time spent encoding only. */
  encodeMs: number;
  /** Milliseconds from task start until the first chunk's audio was encoded. */
  firstAudioMs: number;
  engine: string;
  threadId: number;
}

export interface WorkerOptions {
  /**
   * Lets test texts trigger failures inside the worker (see synth.worker.ts). Only a
   * pool constructed with `faultInjection: true` sets it; no environment variable or
   * HTTP input can.
   */
  faultInjection: boolean;
}
