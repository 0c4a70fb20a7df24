import { createMp3Encoder, createOggEncoder, type WasmMediaEncoder } from 'wasm-media-encoders';

export const AUDIO_FORMATS = ['mp3', 'ogg', 'wav'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

export const CONTENT_TYPES: Record<AudioFormat, string> = {
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
};

/** Formats whose bytes can be sent before the whole text is synthesized. */
export const STREAMABLE_FORMATS: ReadonlySet<AudioFormat> = new Set(['mp3', 'ogg']);

// Speech at 22.05 kHz mono: 48 kbit/s CBR MP3 is transparent enough and keeps the
// duration computable from the byte count; Vorbis quality 3 is ~50 kbit/s here.
const MP3_BITRATE = 48;
const MP3_SAMPLE_RATES = new Set([8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]);
const OGG_QUALITY = 3;

export function durationMs(samples: number, sampleRate: number): number {
  return sampleRate > 0 ? Math.round((samples / sampleRate) * 1000) : 0;
}

/** A 44-byte PCM16 mono WAV header followed by the samples. */
export function encodeWav(pcm: Int16Array, sampleRate: number): Uint8Array {
  const dataBytes = pcm.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  const samples = new Int16Array(out.buffer, 44, pcm.length);
  samples.set(pcm);
  return out;
}

/**
 * Encodes PCM pushed piece by piece into one continuous MP3 or Ogg stream (no gaps
 * between the pieces), returning encoded bytes as soon as the codec has them.
 */
export interface StreamEncoder {
  readonly format: AudioFormat;
  push(pcm: Int16Array): Uint8Array;
  finish(): Uint8Array;
}

type Mp3Encoder = WasmMediaEncoder<'audio/mpeg'>;
type OggEncoder = WasmMediaEncoder<'audio/ogg'>;
type Mp3OutputRate = NonNullable<Parameters<Mp3Encoder['configure']>[0]['outputSampleRate']>;

/**
 * Holds one WASM encoder per codec for reuse (`configure()` resets an encoder), so a
 * worker thread compiles each codec once. Not safe for two streams at the same time;
 * a worker thread runs one task at a time.
 */
export class EncoderCache {
  private mp3: Promise<Mp3Encoder> | undefined;
  private ogg: Promise<OggEncoder> | undefined;

  async warmUp(): Promise<void> {
    await Promise.all([this.getMp3(), this.getOgg()]);
  }

  async open(format: AudioFormat, sampleRate: number): Promise<StreamEncoder> {
    if (format === 'mp3') {
      const encoder = await this.getMp3();
      encoder.configure({
        sampleRate,
        channels: 1,
        bitrate: MP3_BITRATE,
        ...(MP3_SAMPLE_RATES.has(sampleRate) ? { outputSampleRate: sampleRate as Mp3OutputRate } : {}),
      });
      return wrap(format, encoder);
    }
    if (format === 'ogg') {
      const encoder = await this.getOgg();
      encoder.configure({ sampleRate, channels: 1, vbrQuality: OGG_QUALITY });
      return wrap(format, encoder);
    }
    return wavStream(sampleRate);
  }

  private getMp3(): Promise<Mp3Encoder> {
    this.mp3 ??= createMp3Encoder();
    return this.mp3;
  }

  private getOgg(): Promise<OggEncoder> {
    this.ogg ??= createOggEncoder();
    return this.ogg;
  }
}

// PCM goes to the encoder in blocks through one reused float buffer, rather than as a
// float copy of the whole chunk (megabytes for a long chunk).
const BLOCK_SAMPLES = 16_384;
const floatBlock = new Float32Array(BLOCK_SAMPLES);

function wrap(format: AudioFormat, encoder: Mp3Encoder | OggEncoder): StreamEncoder {
  return {
    format,
    push: (pcm) => {
      const parts: Uint8Array[] = [];
      for (let offset = 0; offset < pcm.length; offset += BLOCK_SAMPLES) {
        const block = pcm.subarray(offset, offset + BLOCK_SAMPLES);
        for (let i = 0; i < block.length; i++) floatBlock[i] = (block[i] as number) / 32768;
        // The encoder owns the returned memory until its next call: copy it out.
        const encoded = encoder.encode([floatBlock.subarray(0, block.length)]);
        if (encoded.length) parts.push(encoded.slice());
      }
      return parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts);
    },
    finish: () => encoder.finalize().slice(),
  };
}

/** WAV needs its length up front, so it is buffered and written whole at the end. */
function wavStream(sampleRate: number): StreamEncoder {
  const parts: Int16Array[] = [];
  return {
    format: 'wav',
    push: (pcm) => {
      parts.push(pcm);
      return new Uint8Array(0);
    },
    finish: () => encodeWav(concatInt16(parts), sampleRate),
  };
}

export function concatInt16(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One-shot encoding of a whole PCM buffer. */
export async function encodeAudio(
  pcm: Int16Array,
  sampleRate: number,
  format: AudioFormat,
  cache: EncoderCache = new EncoderCache(),
): Promise<{ bytes: Uint8Array; durationMs: number }> {
  const stream = await cache.open(format, sampleRate);
  const bytes = concatBytes([stream.push(pcm), stream.finish()]);
  return { bytes, durationMs: durationMs(pcm.length, sampleRate) };
}
