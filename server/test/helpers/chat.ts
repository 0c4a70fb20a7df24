import type { TChatEvent } from '@chatmeter/shared/chat';
import type { TestBrowser } from './server.ts';

export interface SendResult {
  events: TChatEvent[];
  text: string;
  start?: Extract<TChatEvent, { type: 'start' }>;
  done?: Extract<TChatEvent, { type: 'done' }>;
}

/** Sends a chat message and collects the streamed events. `stopAfterDeltas` aborts like the Stop button. */
export async function send(
  b: TestBrowser,
  input: { content: string; conversationId?: string; model?: string; captcha?: string; speak?: boolean },
  options: { stopAfterDeltas?: number; abortAfterMs?: number } = {},
): Promise<SendResult> {
  const controller = new AbortController();
  const events: TChatEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  if (options.abortAfterMs !== undefined) timer = setTimeout(() => controller.abort(), options.abortAfterMs);
  try {
    const stream = await b.trpc.chat.send.mutate(input, { signal: controller.signal });
    let deltas = 0;
    for await (const event of stream) {
      events.push(event as TChatEvent);
      if (event.type === 'delta' && options.stopAfterDeltas !== undefined && ++deltas >= options.stopAfterDeltas) {
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    if (timer) clearTimeout(timer);
  }
  return {
    events,
    text: events.map((e) => (e.type === 'delta' ? e.text : '')).join(''),
    start: events.find((e): e is Extract<TChatEvent, { type: 'start' }> => e.type === 'start'),
    done: events.find((e): e is Extract<TChatEvent, { type: 'done' }> => e.type === 'done'),
  };
}

/** Waits until `check` passes (settlement after an abort happens on the server's time). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
