// The OpenAI-compatible engine against the fake speech server: where voices come from,
// how long texts and errors are handled, and the audio's duration.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { prepareText } from '@chatmeter/shared/speech-text';
import { SPEECH_FIXTURE, startFakeSpeechServer, type FakeSpeechServer } from '../../test/fakes/speech-server.ts';
import { OpenAiSpeechClient, durationOf, parseVoiceList, type OpenAiSpeechOptions } from './openai-speech-client.ts';
import { TtsWorkerError } from './tts-client.ts';

let fake: FakeSpeechServer;
beforeAll(async () => {
  fake = await startFakeSpeechServer();
});
afterAll(() => fake?.close());
beforeEach(() => {
  fake.setVoices({ voices: ['af_bella', 'ff_siwis'] });
});

const client = (o: Partial<OpenAiSpeechOptions> = {}) =>
  new OpenAiSpeechClient({ baseUrl: fake.baseUrl, model: 'tts-1', voices: [], timeoutMs: 2_000, voicesTtlMs: 0, ...o });

async function failure(promise: Promise<unknown>): Promise<TtsWorkerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TtsWorkerError);
  return error as TtsWorkerError;
}

describe('voices', () => {
  it("uses the server's own list when it has one, else TTS_VOICES", async () => {
    const c = client({ voices: [{ id: 'alloy' }, { id: 'nova', language: 'de' }] });
    expect((await c.voices()).voices.map((v) => v.id)).toEqual(['af_bella', 'ff_siwis']);
    fake.setVoices(null); // OpenAI has no GET /audio/voices: 404
    expect(await c.voices()).toEqual({
      engine: 'openai-compatible:tts-1',
      voices: [
        { id: 'alloy', name: 'alloy', language: 'en', engine: 'openai-compatible' },
        { id: 'nova', name: 'nova', language: 'de', engine: 'openai-compatible' },
      ],
    });
  });

  it('is provider_unavailable with neither, and keeps the last good list for stale callers', async () => {
    const c = client();
    expect((await c.voices()).voices).toHaveLength(2);
    fake.setVoices(null);
    const error = await failure(c.voices());
    expect(error.kind).toBe('unavailable');
    expect(error.message).toMatch(/TTS_VOICES is not set/);
    expect((await c.voices({ allowStale: true })).voices).toHaveLength(2);
  });

  it('reads the shapes servers answer with and drops ids a user could not pick', () => {
    expect(parseVoiceList(['af_bella', 'bad id', 3])).toEqual([{ id: 'af_bella' }]);
    expect(
      parseVoiceList({
        data: [
          { voice_id: 'af_heart', object: 'voice' },
          { id: 'x1', name: 'Voice X', language: 'it' },
        ],
      }),
    ).toEqual([{ id: 'af_heart' }, { id: 'x1', name: 'Voice X', language: 'it' }]);
    expect(parseVoiceList({ nothing: true })).toEqual([]);
    expect(parseVoiceList([{ id: 'long', name: 'x'.repeat(500) }])[0]!.name).toHaveLength(100);
    expect(parseVoiceList(Array.from({ length: 2_000 }, (_, i) => `v${i}`))).toHaveLength(500);
    expect(parseVoiceList(null)).toEqual([]);
  });
});

describe('synthesize', () => {
  const input = { voice: 'af_bella', format: 'mp3' as const, priority: 'free' as const, language: 'en-US' };

  it('sends the prepared text and returns the audio with its duration', async () => {
    const before = fake.speeches().length;
    const result = await client({ apiKey: 'k' }).synthesize({ ...input, text: 'The **Pro plan** costs $4.50.' });
    expect(result.audio.equals(SPEECH_FIXTURE)).toBe(true);
    expect(result).toMatchObject({ mime: 'audio/mpeg', engine: 'openai-compatible:tts-1' });
    expect(result.durationMs).toBe(durationOf(SPEECH_FIXTURE, 'mp3'));
    const sent = fake.speeches().slice(before);
    expect(sent.map((r) => r.body?.input)).toEqual([prepareText('The **Pro plan** costs $4.50.', { language: 'en-US' })]);
    expect(sent[0]!.body?.input).toContain('four dollars and fifty cents');
    expect(sent[0]!.headers.authorization).toBe('Bearer k');
  });

  it('splits a text longer than one request may carry and joins the audio; WAV cannot be joined', async () => {
    const before = fake.speeches().length;
    const text = Array.from({ length: 12 }, (_, i) => `This is sentence number ${i + 1} of a long answer.`).join(' ');
    const result = await client({ maxInputChars: 200 }).synthesize({ ...input, text });
    const sent = fake.speeches().slice(before);
    expect(sent.length).toBeGreaterThan(2);
    expect(sent.every((r) => (r.body?.input ?? '').length <= 200)).toBe(true);
    expect(sent.map((r) => r.body?.input).join(' ')).toBe(prepareText(text, { language: 'en-US' }));
    expect(result.audio.byteLength).toBe(SPEECH_FIXTURE.byteLength * sent.length);
    expect(result.durationMs).toBe(durationOf(SPEECH_FIXTURE, 'mp3') * sent.length);
    expect((await failure(client({ maxInputChars: 200 }).synthesize({ ...input, format: 'wav', text }))).kind).toBe('input_too_long');
  });

  it('maps the answers: 429 busy with Retry-After, a length refusal, 401, 500, no answer in time, nothing speakable', async () => {
    fake.enqueue({ status: 429, headers: { 'retry-after-ms': '2500' } });
    const busy = await failure(client().synthesize({ ...input, text: 'Hi.' }));
    expect([busy.kind, busy.retryAfterSeconds]).toEqual(['busy', 3]);
    fake.enqueue({ status: 400, error: { message: 'Input is too long: maximum 4096 characters' } });
    expect((await failure(client().synthesize({ ...input, text: 'Hi.' }))).kind).toBe('input_too_long');
    fake.enqueue({ status: 401, error: { message: 'Incorrect API key provided' } });
    expect((await failure(client().synthesize({ ...input, text: 'Hi.' }))).message).toMatch(/refused TTS_API_KEY/);
    fake.enqueue({ status: 502 });
    expect((await failure(client().synthesize({ ...input, text: 'Hi.' }))).kind).toBe('unavailable');
    fake.enqueue({ delayMs: 1_500 });
    const late = await failure(client({ timeoutMs: 1_000 }).synthesize({ ...input, text: 'Hi.' }));
    expect([late.kind, late.message]).toEqual(['unavailable', 'the speech server did not answer in time']);
    const controller = new AbortController();
    fake.enqueue({ delayMs: 1_000 });
    const cancelled = client().synthesize({ ...input, text: 'Hi.', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await failure(cancelled)).kind).toBe('aborted');
    expect((await failure(client().synthesize({ ...input, text: '🎉🎉' }))).kind).toBe('invalid_input');
    // An answer larger than the cap is refused whether or not it announces its length.
    expect((await failure(client({ maxAudioBytes: 1_000 }).synthesize({ ...input, text: 'Hi.' }))).message).toMatch(/larger than 1000 bytes/);
    fake.enqueue({ chunked: true });
    expect((await failure(client({ maxAudioBytes: 1_000 }).synthesize({ ...input, text: 'Hi.' }))).message).toMatch(/larger than 1000 bytes/);
    expect((await client({ maxAudioBytes: SPEECH_FIXTURE.byteLength }).synthesize({ ...input, text: 'Hi.' })).audio.byteLength).toBe(SPEECH_FIXTURE.byteLength);
    expect((await failure(client({ baseUrl: 'http://127.0.0.1:9/v1' }).synthesize({ ...input, text: 'Hi.' }))).kind).toBe('unavailable');
  });

  it('reads durations of MP3 and WAV; unknown bytes are 0', () => {
    const mp3 = durationOf(SPEECH_FIXTURE, 'mp3');
    expect(mp3).toBeGreaterThanOrEqual(2_038);
    expect(mp3).toBeLessThan(2_200);
    const wav = Buffer.alloc(44 + 48_000);
    wav.write('RIFF', 0, 'ascii');
    wav.write('WAVE', 8, 'ascii');
    wav.write('fmt ', 12, 'ascii');
    wav.writeUInt32LE(16, 16);
    wav.writeUInt32LE(48_000, 28); // byte rate: 24 kHz, 16-bit mono
    wav.write('data', 36, 'ascii');
    wav.writeUInt32LE(0xffffffff, 40); // streamed: size unknown
    expect(durationOf(wav, 'wav')).toBe(1_000);
    expect(durationOf(Buffer.from('not audio'), 'wav')).toBe(0);
    expect(durationOf(Buffer.from('not audio at all'), 'mp3')).toBe(0);
  });
});
