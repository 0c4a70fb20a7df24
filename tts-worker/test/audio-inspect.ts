// Decoders and parsers used by the tests to check that what the worker returns is real,
// playable audio of the expected length, using independent decoders (mpg123 and
// libvorbis builds), not the encoders under test.
import { OggVorbisDecoder } from '@wasm-audio-decoders/ogg-vorbis';
import { MPEGDecoder } from 'mpg123-decoder';

export interface Decoded {
  samples: Float32Array;
  sampleRate: number;
  durationMs: number;
}

export async function decodeMp3(bytes: Uint8Array): Promise<Decoded & { errors: number }> {
  const decoder = new MPEGDecoder();
  await decoder.ready;
  try {
    const result = decoder.decode(bytes);
    const samples = result.channelData[0] ?? new Float32Array(0);
    return {
      samples,
      sampleRate: result.sampleRate,
      durationMs: (result.samplesDecoded / result.sampleRate) * 1000,
      errors: result.errors.length,
    };
  } finally {
    decoder.free();
  }
}

export async function decodeOgg(bytes: Uint8Array): Promise<Decoded & { errors: number }> {
  const decoder = new OggVorbisDecoder();
  await decoder.ready;
  try {
    const result = await decoder.decodeFile(bytes);
    const samples = result.channelData[0] ?? new Float32Array(0);
    return {
      samples,
      sampleRate: result.sampleRate,
      durationMs: (result.samplesDecoded / result.sampleRate) * 1000,
      errors: result.errors.length,
    };
  } finally {
    decoder.free();
  }
}

export interface WavInfo {
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  dataBytes: number;
  samples: Int16Array;
}

export function parseWavFile(bytes: Uint8Array): WavInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not RIFF/WAVE');
  if (view.getUint32(4, true) !== bytes.length - 8) throw new Error('RIFF size does not match file size');
  let offset = 12;
  let fmt: Omit<WavInfo, 'dataBytes' | 'samples'> | undefined;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    if (id === 'fmt ') {
      fmt = {
        format: view.getUint16(offset + 8, true),
        channels: view.getUint16(offset + 10, true),
        sampleRate: view.getUint32(offset + 12, true),
        bitsPerSample: view.getUint16(offset + 22, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new Error('data before fmt');
      if (offset + 8 + size !== bytes.length) throw new Error('data size does not match file size');
      const samples = new Int16Array(bytes.slice(offset + 8, offset + 8 + size).buffer);
      return { ...fmt, dataBytes: size, samples };
    }
    offset += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

/** Counts MPEG audio frames by walking frame headers; every byte must belong to a frame. */
export function mp3FrameStats(bytes: Uint8Array): { frames: number; sampleRate: number; durationMs: number } {
  const BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  const RATES_V2 = [22050, 24000, 16000];
  let offset = 0;
  let frames = 0;
  let sampleRate = 0;
  while (offset + 4 <= bytes.length) {
    const b1 = bytes[offset + 1] as number;
    const b2 = bytes[offset + 2] as number;
    if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) throw new Error(`no frame sync at byte ${offset}`);
    const version = (b1 >> 3) & 3; // 2 = MPEG-2
    const layer = (b1 >> 1) & 3; // 1 = Layer III
    if (version !== 2 || layer !== 1) throw new Error(`unexpected MPEG version ${version} layer ${layer}`);
    const bitrate = (BITRATES_V2_L3[(b2 >> 4) & 15] ?? 0) * 1000;
    sampleRate = RATES_V2[(b2 >> 2) & 3] ?? 0;
    const padding = (b2 >> 1) & 1;
    if (!bitrate || !sampleRate) throw new Error(`bad frame header at byte ${offset}`);
    offset += Math.floor((72 * bitrate) / sampleRate) + padding;
    frames++;
  }
  if (offset !== bytes.length) throw new Error(`trailing ${bytes.length - offset} bytes after the last frame`);
  return { frames, sampleRate, durationMs: ((frames * 576) / sampleRate) * 1000 };
}

/** Root mean square of samples in [-1, 1]. */
export function rms(samples: ArrayLike<number>, scale = 1): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const value = (samples[i] as number) / scale;
    sum += value * value;
  }
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}
