/**
 * What the worker needs from a speech engine. eSpeak NG implements it today; a neural
 * engine (Piper, Kokoro, sherpa-onnx) can implement it where its model files exist.
 */
export interface Voice {
  /** Stable id a client passes back in `voice`, e.g. `en-us` or `en-us+f3`. */
  id: string;
  name: string;
  /** BCP 47 tag, e.g. `en-US`. */
  language: string;
}

export interface SynthesisRequest {
  text: string;
  voice: string;
  /** Words per minute, already validated against the engine's bounds. */
  rate: number;
}

export interface SynthesisOutput {
  /** 16-bit signed mono PCM. */
  pcm: Int16Array;
  sampleRate: number;
}

export interface TtsEngine {
  readonly id: string;
  readonly version: string;
  /** Cheap and synchronous: callable on the main thread without loading the engine. */
  voices(): Voice[];
  /** Loads whatever the engine needs, so the first real request is not slow. */
  warmUp(): Promise<void>;
  synthesize(request: SynthesisRequest): Promise<SynthesisOutput>;
}

export const RATE_LIMITS = { min: 80, max: 450, default: 175 } as const;

export class EngineError extends Error {
  override readonly name = 'EngineError';
}
