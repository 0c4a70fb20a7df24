import { beforeAll, describe, expect, it } from 'vitest';
import { rms } from '../../test/audio-inspect.ts';
import { EngineError } from './engine.ts';
import { EspeakEngine, parseWav } from './espeak.ts';

const FOX = 'The quick brown fox jumps over the lazy dog.';
const ms = (pcm: Int16Array, rate: number) => (pcm.length / rate) * 1000;

describe('EspeakEngine', () => {
  const engine = new EspeakEngine();
  beforeAll(() => engine.warmUp());

  it('describes itself without loading the WASM module', () => {
    const cold = new EspeakEngine();
    expect(cold.id).toBe('espeak-ng');
    expect(cold.version).toMatch(/^\d+\.\d+\.\d+/);
    const ids = cold.voices().map((voice) => voice.id);
    expect(ids).toContain('en-us');
    expect(ids).toContain('en-gb');
    expect(ids).toContain('en-us+f3');
    expect(ids).toContain('de');
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('synthesizes audible 22.05 kHz speech of plausible length', async () => {
    const { pcm, sampleRate } = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 175 });
    expect(sampleRate).toBe(22_050);
    // 9 words at 175 words per minute is about 3 s.
    expect(ms(pcm, sampleRate)).toBeGreaterThan(1500);
    expect(ms(pcm, sampleRate)).toBeLessThan(6000);
    expect(rms(pcm, 32768)).toBeGreaterThan(0.02);
  });

  it('gives the same bytes on a reused instance as on a fresh one (state is reset per call)', async () => {
    const first = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 175 });
    await engine.synthesize({ text: 'Something else entirely, in German.', voice: 'de+f3', rate: 300 });
    await engine.synthesize({ text: 'And a third call.', voice: 'en-gb', rate: 120 });
    const again = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 175 });
    const fresh = await new EspeakEngine().synthesize({ text: FOX, voice: 'en-us', rate: 175 });
    expect(again.pcm.length).toBeGreaterThan(0);
    expect(Buffer.from(again.pcm.buffer).equals(Buffer.from(first.pcm.buffer))).toBe(true);
    expect(Buffer.from(fresh.pcm.buffer).equals(Buffer.from(first.pcm.buffer))).toBe(true);
  });

  it('honours the rate and the voice variant', async () => {
    const slow = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 120 });
    const fast = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 350 });
    expect(fast.pcm.length / slow.pcm.length).toBeLessThan(0.6);
    const base = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 175 });
    const female = await engine.synthesize({ text: FOX, voice: 'en-us+f3', rate: 175 });
    expect(Buffer.from(female.pcm.buffer).equals(Buffer.from(base.pcm.buffer))).toBe(false);
    expect(rms(female.pcm, 32768)).toBeGreaterThan(0.02);
  });

  it('speaks with every listed voice, leaving the embedded data files untouched', async () => {
    for (const voice of engine.voices()) {
      const { pcm, sampleRate } = await engine.synthesize({ text: 'Hello 123.', voice: voice.id, rate: 175 });
      expect(ms(pcm, sampleRate), voice.id).toBeGreaterThan(300);
    }
    // Those 18 MB are not restored between calls, on the grounds that nothing writes them.
    expect(await engine.dataIntact()).toBe(true);
  });

  it('never reads the text as command-line options', async () => {
    const { pcm } = await engine.synthesize({ text: '-v de -w /etc/passwd --version', voice: 'en-us', rate: 175 });
    expect(pcm.length).toBeGreaterThan(22_050);
  });

  it('handles long texts, empty output and unknown voices', async () => {
    const long = await engine.synthesize({ text: `${FOX} `.repeat(60), voice: 'en-us', rate: 175 });
    expect(ms(long.pcm, long.sampleRate)).toBeGreaterThan(60_000);
    const nothing = await engine.synthesize({ text: '   ', voice: 'en-us', rate: 175 });
    expect(ms(nothing.pcm, nothing.sampleRate)).toBeLessThan(1000);
    await expect(engine.synthesize({ text: 'hi', voice: 'xx-nope', rate: 175 })).rejects.toThrow(EngineError);
    // Still fine afterwards.
    const after = await engine.synthesize({ text: FOX, voice: 'en-us', rate: 175 });
    expect(after.pcm.length).toBeGreaterThan(22_050);
  });

  it('parses WAV files and rejects other data', () => {
    expect(() => parseWav(new TextEncoder().encode('definitely not a wav file'))).toThrow(EngineError);
  });
});
