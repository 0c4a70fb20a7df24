import { describe, expect, it } from 'vitest';
import { decodeMp3, decodeOgg, mp3FrameStats, parseWavFile, rms } from '../test/audio-inspect.ts';
import { EncoderCache, concatBytes, durationMs, encodeAudio, encodeWav } from './audio.ts';

const RATE = 22_050;

function sine(seconds: number, frequency = 440, amplitude = 0.5): Int16Array {
  const pcm = new Int16Array(Math.round(seconds * RATE));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * frequency * i) / RATE));
  return pcm;
}

/**
 * Upward zero crossings per second over the middle half (away from the codec's padding
 * at either end): the frequency of a clean tone.
 */
function frequencyOf(samples: Float32Array, sampleRate: number): number {
  const middle = samples.subarray(Math.floor(samples.length / 4), Math.floor((samples.length * 3) / 4));
  let crossings = 0;
  for (let i = 1; i < middle.length; i++) if ((middle[i - 1] as number) < 0 && (middle[i] as number) >= 0) crossings++;
  return crossings / (middle.length / sampleRate);
}

describe('audio encoding', () => {
  it('writes a standard PCM16 mono WAV', () => {
    const pcm = sine(0.5);
    const wav = encodeWav(pcm, RATE);
    const info = parseWavFile(wav);
    expect(info).toMatchObject({ format: 1, channels: 1, sampleRate: RATE, bitsPerSample: 16, dataBytes: pcm.length * 2 });
    expect(info.samples).toEqual(pcm);
  });

  it('encodes MP3 that an independent decoder plays back with the same tone and length', async () => {
    const pcm = sine(1.0);
    const { bytes, durationMs: ms } = await encodeAudio(pcm, RATE, 'mp3');
    expect(ms).toBe(1000);
    // Every byte belongs to an MPEG-2 Layer III frame at 22.05 kHz.
    const frames = mp3FrameStats(bytes);
    expect(frames.sampleRate).toBe(RATE);
    expect(frames.durationMs).toBeGreaterThanOrEqual(1000);
    expect(frames.durationMs).toBeLessThan(1150);
    const decoded = await decodeMp3(bytes);
    expect(decoded.errors).toBe(0);
    expect(decoded.sampleRate).toBe(RATE);
    expect(decoded.durationMs).toBeGreaterThanOrEqual(1000);
    expect(decoded.durationMs).toBeLessThan(1150);
    expect(rms(decoded.samples)).toBeGreaterThan(0.3);
    expect(rms(decoded.samples)).toBeLessThan(0.4);
    expect(frequencyOf(decoded.samples, RATE)).toBeGreaterThan(420);
    expect(frequencyOf(decoded.samples, RATE)).toBeLessThan(460);
  });

  it('streams one continuous MP3 when PCM arrives in pieces', async () => {
    const pcm = sine(2.0, 300);
    const stream = await new EncoderCache().open('mp3', RATE);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) parts.push(stream.push(pcm.subarray(i * 4410, (i + 1) * 4410)));
    parts.push(stream.finish());
    // Bytes come out as the pieces go in, not only at the end.
    expect(parts.slice(0, 5).some((part) => part.length > 0)).toBe(true);
    const decoded = await decodeMp3(concatBytes(parts));
    expect(decoded.errors).toBe(0);
    expect(decoded.durationMs).toBeGreaterThanOrEqual(2000);
    expect(decoded.durationMs).toBeLessThan(2150);
    expect(frequencyOf(decoded.samples, RATE)).toBeGreaterThan(290);
    expect(frequencyOf(decoded.samples, RATE)).toBeLessThan(310);
  });

  it('encodes Ogg Vorbis, sample-exact', async () => {
    const pcm = sine(1.5, 500);
    const { bytes } = await encodeAudio(pcm, RATE, 'ogg');
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('OggS');
    const decoded = await decodeOgg(bytes);
    expect(decoded.errors).toBe(0);
    expect(decoded.sampleRate).toBe(RATE);
    expect(decoded.samples.length).toBe(pcm.length);
    expect(rms(decoded.samples)).toBeGreaterThan(0.3);
  });

  it('reuses a cached encoder for a second stream without leaking the first', async () => {
    const cache = new EncoderCache();
    const first = await encodeAudio(sine(1.0), RATE, 'mp3', cache);
    const second = await encodeAudio(sine(0.5), RATE, 'mp3', cache);
    expect((await decodeMp3(first.bytes)).durationMs).toBeGreaterThanOrEqual(1000);
    const decoded = await decodeMp3(second.bytes);
    expect(decoded.durationMs).toBeGreaterThanOrEqual(500);
    expect(decoded.durationMs).toBeLessThan(650);
  });

  it('buffers WAV pieces into one file', async () => {
    const stream = await new EncoderCache().open('wav', RATE);
    expect(stream.push(sine(0.25)).length).toBe(0);
    stream.push(sine(0.25));
    const info = parseWavFile(stream.finish());
    expect(info.samples.length).toBe(Math.round(0.25 * RATE) * 2);
  });

  it('computes durations in milliseconds', () => {
    expect(durationMs(22_050, RATE)).toBe(1000);
    expect(durationMs(11_025, RATE)).toBe(500);
    expect(durationMs(100, 0)).toBe(0);
  });
});
