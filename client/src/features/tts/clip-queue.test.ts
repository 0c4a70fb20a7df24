import { describe, expect, it } from 'vitest';
import { ClipQueue, type AudioLike } from './clip-queue.ts';

class FakeAudio implements AudioLike {
  preload = '';
  onended: (() => void) | null = null;
  onerror: (() => void) | null = null;
  paused = true;
  constructor(
    readonly url: string,
    private readonly log: string[],
  ) {}
  play(): Promise<void> {
    this.paused = false;
    this.log.push(`play ${this.url}`);
    return Promise.resolve();
  }
  pause(): void {
    this.paused = true;
  }
  removeAttribute(): void {}
  load(): void {}
  end(): void {
    this.paused = true;
    this.log.push(`end ${this.url}`);
    this.onended?.();
  }
}

function setup(options: { onError?: () => void } = {}) {
  const log: string[] = [];
  const made = new Map<string, FakeAudio>();
  let ended = 0;
  const queue = new ClipQueue({
    ...options,
    onEnd: () => void ended++,
    make: (url) => {
      const audio = new FakeAudio(url, log);
      made.set(url, audio);
      return audio;
    },
  });
  return { queue, log, made, ended: () => ended };
}

describe('ClipQueue', () => {
  it('plays clips back to back in the order they came, one at a time, as they arrive', () => {
    const { queue, log, made, ended } = setup();
    queue.push('/audio/0');
    queue.push('/audio/1');
    expect(log).toEqual(['play /audio/0']);
    made.get('/audio/0')!.end();
    expect(log).toEqual(['play /audio/0', 'end /audio/0', 'play /audio/1']);
    made.get('/audio/1')!.end();
    // Waiting for more: the queue is open.
    expect(queue.active).toBe(true);
    queue.push('/audio/2');
    expect(log.at(-1)).toBe('play /audio/2');
    queue.close();
    expect(ended()).toBe(0);
    made.get('/audio/2')!.end();
    expect(ended()).toBe(1);
    expect(queue.active).toBe(false);
  });

  it('stop silences the clip playing and drops the waiting ones', () => {
    const { queue, log, made, ended } = setup();
    queue.push('/audio/0');
    queue.push('/audio/1');
    queue.stop();
    expect(made.get('/audio/0')!.paused).toBe(true);
    expect(ended()).toBe(1);
    queue.push('/audio/2');
    expect(log).toEqual(['play /audio/0']);
  });

  it('passes over a clip that cannot play, or hands the failure to its owner', () => {
    const first = setup();
    first.queue.push('/audio/0');
    first.queue.push('/audio/1');
    first.made.get('/audio/0')!.onerror?.();
    expect(first.log).toEqual(['play /audio/0', 'play /audio/1']);

    let failed = 0;
    const second = setup({ onError: () => void failed++ });
    second.queue.push('/audio/0');
    second.queue.push('/audio/1');
    second.made.get('/audio/0')!.onerror?.();
    expect(failed).toBe(1);
    expect(second.ended()).toBe(0);
    expect(second.log).toEqual(['play /audio/0']);
  });
});
