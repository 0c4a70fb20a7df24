// Exact-match cache for identical single-turn prompts: the same model, system
// prompt and question within the TTL is answered without calling the provider.
// The message still counts against the plan; the tokens cost nothing.
import { createHash } from 'node:crypto';

interface Entry {
  text: string;
  expiresAt: number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 1_000) {}

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
    // Maps iterate in insertion order: drop the oldest beyond the bound.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
