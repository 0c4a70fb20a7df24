/**
 * Token counting with gpt-tokenizer, the same BPE tables OpenAI uses (tiktoken's), so our
 * counts match what the API bills: o200k_base for the gpt-4o / gpt-4.1 / o-series / gpt-5
 * families and anything unknown, cl100k_base for gpt-4 and gpt-3.5.
 *
 * Hot path: the rank tables are parsed once at import, each encoder is built once on first
 * use, and the model -> encoder resolution is memoised.
 */
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import o200kRanks from 'gpt-tokenizer/bpeRanks/o200k_base';
import cl100kRanks from 'gpt-tokenizer/bpeRanks/cl100k_base';
import { modelToEncodingMap } from 'gpt-tokenizer/mapping';
import { COMPLETION_REQUEST_TOKEN_OVERHEAD, countMessageTokens as countChatMessageTokens } from 'gpt-tokenizer/functionCalling';

export type TokenEncodingName = 'o200k_base' | 'cl100k_base';

export const DEFAULT_TOKEN_ENCODING: TokenEncodingName = 'o200k_base';

/** Every reply is primed with `<|start|>assistant<|message|>`: 3 tokens per request. */
export const REPLY_PRIMING_TOKENS: number = COMPLETION_REQUEST_TOKEN_OVERHEAD;

export interface TokenCountMessage {
  role: string;
  content: string;
  name?: string;
}

// User text may contain strings such as "<|endoftext|>": the API reads them as plain text,
// so we count them as text instead of letting gpt-tokenizer throw.
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

const encoders = new Map<TokenEncodingName, GptEncoding>();

function encoder(name: TokenEncodingName): GptEncoding {
  let enc = encoders.get(name);
  if (!enc) {
    enc = GptEncoding.getEncodingApi(name, () => (name === 'cl100k_base' ? cl100kRanks : o200kRanks));
    encoders.set(name, enc);
  }
  return enc;
}

const encodingByName = modelToEncodingMap as Readonly<Record<string, string | undefined>>;

/** "ft:gpt-4o-mini-2024-07-18:org::id" -> "gpt-4o-mini-2024-07-18", "openai/gpt-4o" -> "gpt-4o". */
function baseModelName(model: string): string {
  let name = model.trim().toLowerCase();
  if (name.startsWith('ft:')) name = name.slice(3).split(':')[0] ?? name;
  const slash = name.lastIndexOf('/');
  if (slash >= 0) name = name.slice(slash + 1);
  return name;
}

function resolveEncodingName(model: string): TokenEncodingName {
  const mapped = encodingByName[baseModelName(model)];
  // o200k_harmony (gpt-oss) has o200k's ranks, so plain text counts the same; p50k/r50k
  // belong to completion-only models that cannot be reached through Chat Completions.
  return mapped === 'cl100k_base' ? 'cl100k_base' : DEFAULT_TOKEN_ENCODING;
}

const MAX_MEMOISED_MODELS = 256;
const encodingByModel = new Map<string, TokenEncodingName>();

export function encodingNameForModel(model: string): TokenEncodingName {
  let name = encodingByModel.get(model);
  if (name === undefined) {
    name = resolveEncodingName(model);
    if (encodingByModel.size >= MAX_MEMOISED_MODELS) encodingByModel.clear();
    encodingByModel.set(model, name);
  }
  return name;
}

export function countTextTokens(model: string, text: string): number {
  if (text.length === 0) return 0;
  return encoder(encodingNameForModel(model)).countTokens(text, PLAIN_TEXT);
}

/**
 * Tokens one message adds to a Chat Completions prompt: its role, content and name plus
 * the per-message framing (3 tokens, +1 for a name), per gpt-tokenizer's implementation of
 * OpenAI's counting recipe.
 */
export function countMessageTokens(model: string, message: TokenCountMessage): number {
  const name = encodingNameForModel(model);
  const memo = memos.get(name) ?? newMemo(name);
  return countChatMessageTokens(message, (text) => (text ? memo.count(text) : 0));
}

/**
 * Counts already made, by text, for messages: the system prompt, the roles and each earlier
 * message of a conversation are the same from one chat to the next (a conversation's whole
 * kept history is counted again at every turn). First in, first out (Map keeps insertion
 * order), within a budget of characters and of entries; longer texts are not kept.
 */
export class CountMemo {
  private readonly counts = new Map<string, number>();
  private chars = 0;

  constructor(
    private readonly enc: Pick<GptEncoding, 'countTokens'>,
    readonly limits: { maxChars: number; maxEntries: number; maxTextChars: number },
  ) {}

  count(text: string): number {
    const { maxChars, maxEntries, maxTextChars } = this.limits;
    if (text.length > maxTextChars) return this.enc.countTokens(text, PLAIN_TEXT);
    // No reordering on a hit (a Map's delete and set cost more than the hit saves): a text in
    // use that leaves is counted once more when it comes back.
    const known = this.counts.get(text);
    if (known !== undefined) return known;
    const value = this.enc.countTokens(text, PLAIN_TEXT);
    this.counts.set(text, value);
    this.chars += text.length;
    if (this.chars > maxChars || this.counts.size > maxEntries) {
      for (const oldest of this.counts.keys()) {
        this.counts.delete(oldest);
        this.chars -= oldest.length;
        if (this.chars <= maxChars && this.counts.size <= maxEntries) break;
      }
    }
    return value;
  }

  get size(): { entries: number; chars: number } {
    return { entries: this.counts.size, chars: this.chars };
  }
}

/** At most about 2 M characters (4 MB) of kept texts per encoding. */
export const TOKEN_MEMO_LIMITS = { maxChars: 2_000_000, maxEntries: 20_000, maxTextChars: 16_384 } as const;

const memos = new Map<TokenEncodingName, CountMemo>();

function newMemo(name: TokenEncodingName): CountMemo {
  const memo = new CountMemo(encoder(name), TOKEN_MEMO_LIMITS);
  memos.set(name, memo);
  return memo;
}

/** What the message-count memo of an encoding holds (tests). */
export function tokenMemoSize(name: TokenEncodingName): { entries: number; chars: number } {
  return memos.get(name)?.size ?? { entries: 0, chars: 0 };
}

/**
 * Prompt tokens the provider will bill for these messages (no tools or functions):
 * the sum of `countMessageTokens` plus `REPLY_PRIMING_TOKENS`. Matches OpenAI's reported
 * `prompt_tokens` for the gpt-4o / gpt-4.1 families; for other OpenAI-compatible servers
 * (other tokenizers, other chat templates) it is an estimate.
 */
export function estimatePromptTokens(model: string, messages: readonly TokenCountMessage[]): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) total += countMessageTokens(model, message);
  return total;
}

/** The longest prefix of `text` that is at most `maxTokens` tokens (whole tokens only). */
export function truncateToTokens(model: string, text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  const enc = encoder(encodingNameForModel(model));
  if (enc.isWithinTokenLimit(text, maxTokens, PLAIN_TEXT) !== false) return text;
  let prefix = enc.decode(enc.encode(text, PLAIN_TEXT).slice(0, maxTokens));
  // A cut inside a multi-byte character decodes to U+FFFD; drop the partial character.
  while (prefix.endsWith('\uFFFD') && !text.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
