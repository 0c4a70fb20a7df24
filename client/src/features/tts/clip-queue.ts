// Plays audio clips one after the other, as they arrive: the clips of a reply read
// aloud while it streams (chat.send with speak), or of a reading made of several
// clips (tts.speak's `clips`). Each clip is loaded as soon as it is known, so the
// next one is ready when the one playing ends: no gap, and never two at once.

/** What the queue needs of an HTMLAudioElement (tests pass a fake). */
export interface AudioLike {
  preload: string;
  play(): Promise<void>;
  pause(): void;
  removeAttribute(name: string): void;
  load(): void;
  onended: (() => void) | null;
  onerror: (() => void) | null;
}

export interface ClipQueueOptions {
  /** Called when the queue has played everything it was given and `close` was called (or on stop). */
  onEnd?: () => void;
  /** A clip that cannot be played: by default it is passed over; with this, the queue stops and calls it. */
  onError?: () => void;
  make?: (url: string) => AudioLike;
}

function browserAudio(url: string): AudioLike {
  const audio = new Audio(url);
  audio.preload = 'auto';
  // The DOM's handler types take `this` and an Event; the queue sets handlers that need neither.
  return audio as unknown as AudioLike;
}

export class ClipQueue {
  private readonly waiting: AudioLike[] = [];
  private current: AudioLike | null = null;
  private closed = false;
  private stopped = false;

  constructor(private readonly o: ClipQueueOptions = {}) {}

  /** Adds a clip; it plays now if nothing is playing, else after the ones before it. */
  push(url: string): void {
    if (this.stopped) return;
    this.waiting.push((this.o.make ?? browserAudio)(url));
    if (!this.current) this.advance();
  }

  /** No more clips will come: the queue ends once the last one has played. */
  close(): void {
    this.closed = true;
    if (!this.current && this.waiting.length === 0) this.finish();
  }

  /** Silence at once; what was waiting is dropped. */
  stop(): void {
    this.halt();
    this.finish();
  }

  private halt(): void {
    for (const audio of [this.current, ...this.waiting]) if (audio) silence(audio);
    this.current = null;
    this.waiting.length = 0;
  }

  /** Playing, or waiting for the next clip of an open queue. */
  get active(): boolean {
    return !this.stopped;
  }

  private advance(): void {
    const next = this.waiting.shift() ?? null;
    this.current = next;
    if (!next) {
      if (this.closed) this.finish();
      return;
    }
    const onward = () => {
      if (this.current === next) this.advance();
    };
    next.onended = onward;
    next.onerror = () => {
      if (this.current !== next) return;
      if (this.o.onError && !this.stopped) {
        // Handed to the owner instead of onEnd.
        this.halt();
        this.stopped = true;
        this.o.onError();
      } else onward();
    };
    next.play().catch((reason: unknown) => {
      // Stopped meanwhile (AbortError), or refused by the browser's auto-play policy: pass over it.
      if ((reason as Error)?.name !== 'AbortError') onward();
    });
  }

  private finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.o.onEnd?.();
  }
}

function silence(audio: AudioLike): void {
  audio.onended = null;
  audio.onerror = null;
  audio.pause();
  audio.removeAttribute('src');
  audio.load();
}

// One voice at a time, across the page: starting a reading (a speak button, or a reply
// read aloud as it streams) stops the one playing.
let current: { owner: symbol; stop: () => void } | undefined;

export function takeVoice(owner: symbol, stop: () => void): void {
  if (current && current.owner !== owner) current.stop();
  current = { owner, stop };
}

export function releaseVoice(owner: symbol): void {
  if (current?.owner === owner) current = undefined;
}

export function holdsVoice(owner: symbol): boolean {
  return current?.owner === owner;
}
