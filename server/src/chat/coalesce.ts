// Merges stream deltas that are already here. A provider often delivers several
// chunks in one network read (and a busy server finds several waiting); relaying
// each as its own event costs a tRPC frame, a superjson pass and a socket write
// apiece. This waits for nothing: after a delta it looks whether the next event
// arrives before the event loop's next turn (setImmediate), that is, whether it
// was already buffered. If so it is appended; if not, the text so far goes out
// at once. A model that streams token by token gets every token as before.
import type { ProviderEvent } from './providers/provider.ts';

const TURN = Symbol('nextTurn');

function nextTurn(): Promise<typeof TURN> {
  return new Promise((resolve) => setImmediate(resolve, TURN));
}

export async function* coalesceReadyDeltas(source: AsyncIterable<ProviderEvent>): AsyncGenerator<ProviderEvent> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<ProviderEvent>> | undefined = iterator.next();
  try {
    while (pending) {
      const first: IteratorResult<ProviderEvent> = await pending;
      pending = undefined;
      if (first.done) return;
      if (first.value.type !== 'delta') {
        pending = iterator.next();
        yield first.value;
        continue;
      }
      let text = first.value.text;
      let after: ProviderEvent | undefined;
      let ended = false;
      let failure: { error: unknown } | undefined;
      for (;;) {
        pending = iterator.next();
        let next: IteratorResult<ProviderEvent> | typeof TURN;
        try {
          next = await Promise.race([pending, nextTurn()]);
        } catch (error) {
          // The text merged so far was received: relay it before the failure.
          pending = undefined;
          failure = { error };
          break;
        }
        if (next === TURN) break;
        pending = undefined;
        if (next.done) {
          ended = true;
          break;
        }
        if (next.value.type !== 'delta') {
          after = next.value;
          break;
        }
        text += next.value.text;
      }
      yield { type: 'delta', text };
      if (failure) throw failure.error;
      if (after) {
        pending = iterator.next();
        yield after;
      }
      if (ended) return;
    }
  } finally {
    // The consumer stopped early (or the source failed): let the source clean up. With a
    // read still outstanding, return() would wait for it, so it is not awaited: the caller
    // aborts the upstream request (chat-service aborts its controller), which ends the read.
    if (pending) {
      pending.catch(() => {});
      void iterator.return?.()?.catch(() => {});
    } else {
      await iterator.return?.()?.catch(() => {});
    }
  }
}
