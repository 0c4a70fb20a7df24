import { describe, expect, it } from 'vitest';
import type { TPlan } from '@chatmeter/shared/plans';
import { speechSentences } from '@chatmeter/shared/speech-text';
import { AppError } from '../lib/app-error.ts';
import { createLogger } from '../lib/logger.ts';
import { ReplySpeech, type ReplySpeechOptions, type StreamedEvent } from './reply-speech.ts';
import { TtsWorkerError } from './tts-client.ts';
import type { ReplyVoice, SentenceJob, SentenceTicket, TtsUser } from './tts-service.ts';

const user: TtsUser = { id: 'u1', isGuest: false, planId: 'free', emailVerifiedAt: null } as unknown as TtsUser;
const voice: ReplyVoice = { user, plan: {} as TPlan, voice: 'en-us', language: 'en-US', month: undefined };
const REPLY = 'One is here. Two is longer than one. Three. Four comes now. Five ends it.';

/** A chat stream: start, then the reply in small deltas with a pause between them. */
async function* chat(text = REPLY, pauseMs = 2): AsyncGenerator<StreamedEvent> {
  yield { type: 'start', conversationId: 'c1', messageId: 'm1' };
  for (let i = 0; i < text.length; i += 7) {
    await new Promise((r) => setTimeout(r, pauseMs));
    yield { type: 'delta', text: text.slice(i, i + 7) };
  }
  yield { type: 'done' };
}

/** A fake voice service: synthesis time by sentence index, refusals and failures by index; records the ledger order. */
function fakeTts(o: { delayMs?: (index: number) => number; refuseAt?: number; failAt?: Set<number> } = {}) {
  const reserved: number[] = [];
  const released: number[] = [];
  const tts: ReplySpeechOptions['tts'] = {
    replyVoice: async () => voice,
    reserveSentence: async (_v, job: SentenceJob) => {
      if (job.index === o.refuseAt) return { refused: new AppError('quota_exhausted', 'No more voice today.', { limit: 'ttsCharsPerDay' }) };
      reserved.push(job.index);
      return { charge: { chars: job.text.length } as SentenceTicket['charge'], reservationId: `r${job.index}` };
    },
    completeSentence: async (_v, job: SentenceJob) => {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, o.delayMs?.(job.index) ?? 1);
        job.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          released.push(job.index);
          reject(new TtsWorkerError('aborted', 'stopped'));
        });
      });
      if (o.failAt?.has(job.index)) throw new AppError('provider_unavailable', 'The engine failed.');
      return { clipId: `clip-${job.index}`, durationMs: 1000, mime: 'audio/mpeg', chars: job.text.length, costMicroUsd: 0 };
    },
    cancelSentence: async (ticket: SentenceTicket) => {
      released.push(Number(ticket.reservationId!.slice(1)));
    },
  };
  return { tts, reserved, released };
}

async function collect(events: AsyncGenerator<StreamedEvent | { type: string; index?: number }>) {
  const out: Array<{ type: string; index?: number; reason?: string; text?: string }> = [];
  for await (const event of events) out.push(event as { type: string; index?: number });
  return out;
}

describe('ReplySpeech', () => {
  const sentences = speechSentences(REPLY, { language: 'en-US' });

  it('emits audio in sentence order even when later sentences finish first, interleaved with the text', async () => {
    const { tts, reserved } = fakeTts({ delayMs: (i) => (i === 0 ? 60 : 5) });
    const speech = new ReplySpeech({ tts, logger: createLogger('silent'), concurrency: 3 });
    const events = await collect(speech.speakAlong(user, chat(), { requestId: 'q' }));
    const audio = events.filter((e) => e.type === 'audio');
    expect(audio.map((e) => e.index)).toEqual(sentences.map((_, i) => i));
    // The ledger went in order.
    expect(reserved).toEqual(sentences.map((_, i) => i));
    // `done` passes through; speech may follow it.
    expect(events.some((e) => e.type === 'done')).toBe(true);
    expect(events.findIndex((e) => e.type === 'audio')).toBeGreaterThan(events.findIndex((e) => e.type === 'start'));
  });

  it('ends the speech at a refused sentence: nothing after it is reserved, the text goes on', async () => {
    const { tts, reserved } = fakeTts({ refuseAt: 2 });
    const speech = new ReplySpeech({ tts, logger: createLogger('silent') });
    const events = await collect(speech.speakAlong(user, chat(), { requestId: 'q' }));
    const spoken = events.filter((e) => e.type.startsWith('audio'));
    expect(spoken).toEqual([
      expect.objectContaining({ type: 'audio', index: 0 }),
      expect.objectContaining({ type: 'audio', index: 1 }),
      { type: 'audio_end', index: 2, reason: 'quota_exhausted', limit: 'ttsCharsPerDay', message: 'No more voice today.' },
    ]);
    expect(reserved).toEqual([0, 1]);
    expect(
      events
        .filter((e) => e.type === 'delta')
        .map((e) => e.text)
        .join(''),
    ).toBe(REPLY);
  });

  it('skips a failed sentence with a note, and ends after three failures in a row', async () => {
    const one = fakeTts({ failAt: new Set([1]) });
    const skipped = await collect(new ReplySpeech({ tts: one.tts, logger: createLogger('silent') }).speakAlong(user, chat(), { requestId: 'q' }));
    expect(skipped.filter((e) => e.type.startsWith('audio')).map((e) => `${e.type}:${e.index}`)).toEqual(
      sentences.map((_, i) => (i === 1 ? 'audio_skipped:1' : `audio:${i}`)),
    );

    const three = fakeTts({ failAt: new Set([1, 2, 3]) });
    const ended = await collect(new ReplySpeech({ tts: three.tts, logger: createLogger('silent') }).speakAlong(user, chat(), { requestId: 'q' }));
    expect(ended.filter((e) => e.type.startsWith('audio')).map((e) => `${e.type}:${e.index}`)).toEqual([
      'audio:0',
      'audio_skipped:1',
      'audio_skipped:2',
      'audio_skipped:3',
      'audio_end:4',
    ]);
  });

  it('Stop aborts what is in flight and gives every reservation back before the stream ends', async () => {
    const { tts, reserved, released } = fakeTts({ delayMs: () => 10_000 });
    const controller = new AbortController();
    const speech = new ReplySpeech({ tts, logger: createLogger('silent') });
    const stream = speech.speakAlong(user, chat(REPLY, 5), { requestId: 'q', signal: controller.signal });
    for await (const event of stream) {
      if (event.type === 'delta' && reserved.length >= 2) {
        controller.abort();
        break;
      }
    }
    expect(reserved.length).toBeGreaterThanOrEqual(2);
    expect([...released].sort()).toEqual([...reserved].sort());
  });
});
