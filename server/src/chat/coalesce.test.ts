import { describe, expect, it } from 'vitest';
import { coalesceReadyDeltas } from './coalesce.ts';
import type { ProviderEvent } from './providers/provider.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const delta = (text: string): ProviderEvent => ({ type: 'delta', text });

async function collect(source: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const out: ProviderEvent[] = [];
  for await (const e of coalesceReadyDeltas(source)) out.push(e);
  return out;
}

describe('coalesceReadyDeltas', () => {
  it('merges deltas that are already buffered, keeping other events and their order', async () => {
    async function* burst() {
      yield delta('Hel');
      yield delta('lo ');
      yield delta('world');
      yield { type: 'usage', promptTokens: 3, completionTokens: 2 } as ProviderEvent;
      yield delta('!');
    }
    expect(await collect(burst())).toEqual([delta('Hello world'), { type: 'usage', promptTokens: 3, completionTokens: 2 }, delta('!')]);
  });

  it('relays each delta at once when the next one is not here yet', async () => {
    // The source makes 'b' only once 'a' has reached the consumer (or after 2 s, so that a
    // coalescer that held 'a' back fails here instead of hanging): no clock thresholds.
    let sawA!: () => void;
    const aArrived = new Promise<void>((resolve) => {
      sawA = resolve;
    });
    let aBeforeB = false;
    async function* slow() {
      yield delta('a');
      aBeforeB = await Promise.race([aArrived.then(() => true), sleep(2_000).then(() => false)]);
      yield delta('b');
      await sleep(5);
      yield delta('c');
    }
    const seen: string[] = [];
    for await (const e of coalesceReadyDeltas(slow())) {
      if (e.type !== 'delta') continue;
      seen.push(e.text);
      if (e.text === 'a') sawA();
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    // 'a' did not wait for 'b'.
    expect(aBeforeB).toBe(true);
  });

  it('keeps the text already merged when the source fails, then throws', async () => {
    async function* failing() {
      yield delta('part ');
      yield delta('one');
      throw new Error('stream dropped');
    }
    const out: ProviderEvent[] = [];
    await expect(async () => {
      for await (const e of coalesceReadyDeltas(failing())) out.push(e);
    }).rejects.toThrow('stream dropped');
    expect(out.map((e) => (e.type === 'delta' ? e.text : e.type)).join('')).toBe('part one');
  });

  it('a consumer that stops early does not wait for the source, which is closed after its pending read', async () => {
    let closed = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* source() {
      try {
        yield delta('0');
        // The next read waits until the test lets it go: a consumer that waited for it would not return.
        await gate;
        yield delta('1');
      } finally {
        closed = true;
      }
    }
    const stopped = (async () => {
      for await (const _ of coalesceReadyDeltas(source())) break;
      return 'returned' as const;
    })();
    expect(await Promise.race([stopped, sleep(5_000).then(() => 'waited for the source' as const)])).toBe('returned');
    expect(closed).toBe(false);
    release();
    for (let i = 0; i < 100 && !closed; i++) await sleep(10);
    expect(closed).toBe(true);
  });
});
