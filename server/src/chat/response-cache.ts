// Exact-match cache for identical single-turn prompts: the same model, system
// prompt and question within the TTL is answered without calling the provider.
// The message still counts against the plan; the tokens cost nothing.
import { createHash } from 'node:crypto';
import { BoundedMap } from '../lib/bounded-map.ts';
import type { FinishReason } from './providers/provider.ts';

/**
 * Only a complete, normal answer may be served to someone else: one that ran to
 * its natural end (`stop`) under the full completion cap. A reply cut short by
 * a nearly spent allowance (the cap was lowered at reservation), stopped by the
 * length limit or a content filter, refused, aborted or failed is this request's
 * own and never cached.
 */
export function isCacheable(reply: {
  status: 'ok' | 'aborted' | 'error' | (string & {});
  /** The provider's finish reason; `refusal` when the model declined (see providers/openai.ts). */
  finishReason: FinishReason | undefined;
  /** ChatMeter's own note after the text (reply-notes.ts): such a reply is not an ordinary answer. */
  note: string;
  requestedMaxTokens: number;
  grantedMaxTokens: number;
}): boolean {
  return reply.status === 'ok' && reply.finishReason === 'stop' && reply.note === '' && reply.grantedMaxTokens >= reply.requestedMaxTokens;
}

interface Entry {
  text: string;
  expiresAt: number;
}

export class ResponseCache {
  /** The newest `maxEntries` answers (set moves a key to the end; the oldest go first). */
  private readonly entries: BoundedMap<string, Entry>;

  constructor(
    private readonly ttlMs: number,
    maxEntries = 1_000,
  ) {
    this.entries = new BoundedMap(maxEntries);
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  static key(model: string, systemPrompt: string, content: string): string {
    return createHash('sha256').update(`${model}\u0000${systemPrompt}\u0000${content.trim()}`).digest('hex');
  }

  get(key: string, now = Date.now()): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.text;
  }

  set(key: string, text: string, now = Date.now()): void {
    if (!this.enabled || !text) return;
    this.entries.delete(key);
    this.entries.set(key, { text, expiresAt: now + this.ttlMs });
  }
}
