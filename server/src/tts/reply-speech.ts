// A reply read aloud while it streams (chat.send with speak: true, docs/tts-worker.md
// "Speech while the reply streams"). The reply's text is cut into sentences as it
// arrives (SentenceCutter, the same text preparation tts.speak uses); each complete
// sentence goes to the engine, a few at a time, and its `audio` event joins the chat's
// stream in reply order. The ledger step of each sentence (TtsService.reserveSentence)
// runs one sentence at a time, in order, so a refusal (daily characters used up, no
// voice in the plan, a cap, the kill switch) ends the speech at that sentence with an
// `audio_end` event and the text goes on. A sentence the engine fails is skipped with
// an `audio_skipped` event; three in a row end the speech. Stop (the request's signal,
// or the consumer leaving) aborts the syntheses in flight and gives their reservations
// back before the stream ends.
import { SentenceCutter } from '@chatmeter/shared/speech-text';
import type { TSpeechEvent } from '@chatmeter/shared/tts';
import type { LimitName } from '@chatmeter/shared/errors';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';
import { TtsWorkerError } from './tts-client.ts';
import type { ReplyVoice, SentenceJob, TtsService, TtsUser } from './tts-service.ts';

export interface ReplySpeechOptions {
  tts: Pick<TtsService, 'replyVoice' | 'reserveSentence' | 'completeSentence' | 'cancelSentence'>;
  logger: Logger;
  /** Sentences synthesized at once for one reply (ahead of the one playing); default 2. */
  concurrency?: number;
  /** Engine failures in a row that end a reply's speech; default 3. */
  maxFailuresInARow?: number;
  /** After a reply's speech ended, when it counted characters (quota alerts, as after tts.speak); must not throw. */
  onSpoken?: (user: TtsUser) => void;
}

/** What speech reads of the chat's events (chat-service.ts ChatEvent): `start` and `delta`; the rest pass through. */
export interface StreamedEvent {
  type: string;
  conversationId?: string;
  messageId?: string;
  text?: string;
}

export class ReplySpeech {
  constructor(private readonly options: ReplySpeechOptions) {}

  /**
   * The chat stream with the speech events merged in. Chat events pass through as they
   * come; speech events come when their audio is ready, in sentence order, and may follow
   * `done`: the stream ends when both have ended.
   */
  async *speakAlong<E extends StreamedEvent>(
    user: TtsUser,
    events: AsyncGenerator<E>,
    request: { requestId: string; signal?: AbortSignal | undefined },
  ): AsyncGenerator<E | TSpeechEvent> {
    const speaker = new ReplySpeaker(this.options, user, request);
    let chatNext: Promise<IteratorResult<E>> | undefined;
    let speechNext: Promise<TSpeechEvent | null> | undefined;
    let chatDone = false;
    // The speech ended before the text (a refusal, or stopped): only the text is awaited from then on.
    let speechDone = false;
    let finished = false;
    try {
      for (;;) {
        if (!speechDone) speechNext ??= speaker.next();
        if (chatDone) {
          const event = speechNext ? await speechNext : null;
          speechNext = undefined;
          if (!event) break;
          yield event;
          continue;
        }
        chatNext ??= events.next();
        const won = await Promise.race([chatNext.then((chat) => ({ chat })), ...(speechNext ? [speechNext.then((speech) => ({ speech }))] : [])]);
        if ('speech' in won) {
          speechNext = undefined;
          if (won.speech) yield won.speech;
          else speechDone = true;
          continue;
        }
        chatNext = undefined;
        if (won.chat.done) {
          chatDone = true;
          // A stopped reply ends without `done`: its speech stops too.
          if (request.signal?.aborted) break;
          speaker.finish();
          continue;
        }
        const event = won.chat.value;
        if (event.type === 'start' && event.conversationId && event.messageId) speaker.begin(event.conversationId, event.messageId);
        else if (event.type === 'delta' && typeof event.text === 'string') speaker.text(event.text);
        yield event;
      }
      finished = !request.signal?.aborted;
    } finally {
      // Stopped, failed, or the consumer left: no more syntheses, reservations given back.
      if (!finished) await speaker.stop();
      speaker.detach();
      // The chat stream settles in its own finally (ChatService.run).
      if (!chatDone) await events.return(undefined);
      if (speaker.spokeAny) {
        try {
          this.options.onSpoken?.(user);
        } catch (error) {
          this.options.logger.error({ err: (error as Error).message }, 'onSpoken hook failed');
        }
      }
    }
  }
}

type Outcome = TSpeechEvent | 'dropped';

/** The speech of one reply: sentences in, events out in sentence order. */
class ReplySpeaker {
  private readonly controller = new AbortController();
  private readonly cutter: { text: string; cutter?: SentenceCutter } = { text: '' };
  private voice: ReplyVoice | { refused: AppError } | undefined;
  private message: { conversationId: string; messageId: string } | undefined;
  private readonly queue: SentenceJob[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly outcomes = new Map<number, Outcome>();
  /** The ledger steps, one after the other in sentence order. */
  private ledger: Promise<unknown> = Promise.resolve();
  private sentences = 0;
  private emitted = 0;
  private failuresInARow = 0;
  /** A sentence was charged (spoken, or a cached clip granted). */
  spokeAny = false;
  private inputDone = false;
  private end: { index: number; event: TSpeechEvent; sent: boolean } | undefined;
  private waiter: ((event: TSpeechEvent | null) => void) | undefined;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly options: ReplySpeechOptions,
    private readonly user: TtsUser,
    private readonly request: { requestId: string; signal?: AbortSignal | undefined },
  ) {
    request.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (request.signal?.aborted) this.controller.abort();
  }

  begin(conversationId: string, messageId: string): void {
    if (this.message) return;
    this.message = { conversationId, messageId };
    // The voice (a saved preference, the plan) is looked up once, while the first sentence streams.
    void this.options.tts.replyVoice(this.user).then(
      (voice) => this.voiceReady(voice),
      (error: unknown) => this.voiceReady({ refused: asAppError(error, this.options.logger) }),
    );
  }

  text(delta: string): void {
    this.cutter.text += delta;
    this.cut(false);
  }

  finish(): void {
    this.inputDone = true;
    this.cut(true);
    this.settleWaiter();
  }

  /** The next event in sentence order, or null when the speech is over (call again only after it resolved). */
  next(): Promise<TSpeechEvent | null> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.settleWaiter();
    });
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.queue.length = 0;
    await Promise.allSettled([...this.running, this.ledger]);
  }

  /** The stream is over: stop listening to the request's signal. */
  detach(): void {
    this.request.signal?.removeEventListener('abort', this.onAbort);
  }

  private voiceReady(voice: ReplyVoice | { refused: AppError }): void {
    this.voice = voice;
    this.cut(this.inputDone);
    this.settleWaiter();
  }

  /** Moves complete sentences (all of them once the reply ended) to the queue, once the voice is known. */
  private cut(all: boolean): void {
    if (!this.voice || !this.message || this.end) return;
    if ('refused' in this.voice) {
      // The voice was refused (not in the plan, engine down): speech ends at the first sentence.
      if (this.cutter.text.trim()) this.endAt(0, this.voice.refused);
      return;
    }
    this.cutter.cutter ??= new SentenceCutter({ language: this.voice.language });
    const fresh = this.cutter.text ? this.cutter.cutter.push(this.cutter.text) : [];
    this.cutter.text = '';
    if (all) fresh.push(...this.cutter.cutter.end());
    for (const text of fresh) {
      this.queue.push({ ...this.message, index: this.sentences++, text, requestId: this.request.requestId, signal: this.controller.signal });
    }
    this.pump();
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 2;
    while (!this.end && !this.controller.signal.aborted && this.running.size < limit && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const task: Promise<void> = this.speak(job).then(
        (outcome) => void this.outcomes.set(job.index, outcome),
        (error: unknown) => void this.outcomes.set(job.index, this.failed(job, error)),
      );
      const tracked = task.finally(() => {
        this.running.delete(tracked);
        this.pump();
        this.settleWaiter();
      });
      this.running.add(tracked);
    }
  }

  private async speak(job: SentenceJob): Promise<Outcome> {
    const voice = this.voice as ReplyVoice;
    // The ledger step waits for the previous sentence's, so they reserve in order.
    const step = this.ledger.then(() => (this.end || this.controller.signal.aborted ? null : this.options.tts.reserveSentence(voice, job)));
    this.ledger = step.catch(() => {});
    const ticket = await step;
    if (!ticket) return 'dropped';
    if ('refused' in ticket) {
      this.endAt(job.index, ticket.refused);
      return 'dropped';
    }
    if (this.end || this.controller.signal.aborted) {
      await this.options.tts.cancelSentence(ticket);
      return 'dropped';
    }
    const spoken = await this.options.tts.completeSentence(voice, job, ticket);
    if ('refused' in spoken) {
      this.endAt(job.index, spoken.refused);
      return 'dropped';
    }
    this.spokeAny = true;
    return {
      type: 'audio',
      index: job.index,
      audioUrl: `/audio/${spoken.clipId}`,
      durationMs: spoken.durationMs,
      chars: spoken.chars,
      costMicroUsd: spoken.costMicroUsd,
    };
  }

  private failed(job: SentenceJob, error: unknown): Outcome {
    if (this.controller.signal.aborted || (error instanceof TtsWorkerError && error.kind === 'aborted')) return 'dropped';
    const refusal = asAppError(error, this.options.logger);
    return { type: 'audio_skipped', index: job.index, reason: refusal.reason, message: refusal.message };
  }

  private endAt(index: number, refusal: AppError): void {
    if (this.end && this.end.index <= index) return;
    const limit = typeof refusal.details.limit === 'string' ? (refusal.details.limit as LimitName) : null;
    this.end = { index, sent: false, event: { type: 'audio_end', index, reason: refusal.reason, limit, message: refusal.message } };
    this.queue.length = 0;
  }

  /** Hands the waiting consumer the next event in order, if it is known. */
  private settleWaiter(): void {
    while (this.waiter) {
      if (this.end && this.emitted >= this.end.index) {
        if (!this.end.sent) {
          this.end.sent = true;
          this.resolve(this.end.event);
          return;
        }
        // Sentences still in flight finish (or give their reservations back) before the speech ends.
        if (this.running.size === 0) {
          this.resolve(null);
          return;
        }
        return;
      }
      const outcome = this.outcomes.get(this.emitted);
      if (outcome === undefined) {
        const idle = this.running.size === 0 && this.queue.length === 0;
        if (this.controller.signal.aborted && this.running.size === 0) {
          this.resolve(null);
          return;
        }
        if (this.inputDone && idle && this.emitted >= this.sentences && (this.voice || !this.message)) {
          this.resolve(null);
          return;
        }
        return;
      }
      this.outcomes.delete(this.emitted);
      this.emitted++;
      if (outcome === 'dropped') continue;
      if (outcome.type === 'audio_skipped') {
        this.failuresInARow++;
        if (this.failuresInARow >= (this.options.maxFailuresInARow ?? 3)) {
          this.endAt(
            this.emitted,
            new AppError('provider_unavailable', 'The voice service is not available right now, so the rest of this answer is not read aloud.'),
          );
          this.controller.abort();
        }
      } else {
        this.failuresInARow = 0;
      }
      this.resolve(outcome);
      return;
    }
  }

  private resolve(event: TSpeechEvent | null): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(event);
  }
}

function asAppError(error: unknown, logger: Logger): AppError {
  if (error instanceof AppError) return error;
  logger.error({ err: error instanceof Error ? error.message : String(error) }, 'reading a sentence aloud failed');
  return new AppError('provider_unavailable', 'This sentence could not be read aloud.');
}
