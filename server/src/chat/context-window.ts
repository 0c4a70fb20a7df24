/**
 * Chooses how much conversation history goes into a request. The system prompt and the new
 * user message are always sent; history is added newest first while it fits, and stops at
 * the first message that does not (so the kept history is a contiguous recent tail, never
 * a conversation with holes in it).
 *
 * Budget = min(contextWindow - reserveOutputTokens - safetyMarginTokens, maxPromptTokens),
 * measured with `estimatePromptTokens` (message framing and reply priming included).
 */
import { countMessageTokens, estimatePromptTokens, type TokenCountMessage } from './tokens.ts';

export interface ContextMessage extends TokenCountMessage {
  role: 'system' | 'user' | 'assistant';
}

export interface ContextLimits {
  contextWindow: number;
  maxOutputTokens: number;
}

export interface FitContextInput {
  /** Selects the tokenizer. */
  model: string;
  /** Usually the model's `TModelPrice` entry. */
  limits: ContextLimits;
  systemPrompt?: string;
  /** Earlier turns, oldest first. */
  history: readonly ContextMessage[];
  newMessage: ContextMessage;
  /**
   * Tokens kept free for the reply: pass the `maxTokens` the request will use. Defaults to
   * `limits.maxOutputTokens`, capped at half the window (some models advertise an output
   * limit as large as their whole window).
   */
  reserveOutputTokens?: number;
  /**
   * Slack for tokenizer mismatch (OpenAI-compatible servers running other models count
   * differently). Default: 2% of the window, at least 128 tokens.
   */
  safetyMarginTokens?: number;
  /** Optional cost cap: never send a prompt larger than this, whatever the window. */
  maxPromptTokens?: number;
}

export interface FitContextResult {
  /** What to send: [system?, ...kept history, new message]. */
  messages: ContextMessage[];
  /** `estimatePromptTokens(model, messages)`. */
  promptTokens: number;
  /** The prompt budget that was applied. */
  budgetTokens: number;
  /** How many of the most recent history messages were kept / left out. */
  keptHistory: number;
  droppedHistory: number;
  /**
   * False when the system prompt and the new message alone exceed the budget; `messages`
   * then holds just those two and the caller should refuse (e.g. `input_too_long`).
   */
  fits: boolean;
}

export function defaultSafetyMargin(contextWindow: number): number {
  return Math.max(128, Math.ceil(contextWindow * 0.02));
}

export function promptBudget(input: Omit<FitContextInput, 'model' | 'history' | 'newMessage' | 'systemPrompt'>): number {
  const { contextWindow, maxOutputTokens } = input.limits;
  const reserve = input.reserveOutputTokens ?? Math.min(maxOutputTokens, Math.floor(contextWindow / 2));
  const margin = input.safetyMarginTokens ?? defaultSafetyMargin(contextWindow);
  let budget = contextWindow - reserve - margin;
  if (input.maxPromptTokens !== undefined) budget = Math.min(budget, input.maxPromptTokens);
  return Math.max(0, budget);
}

export function fitContextWindow(input: FitContextInput): FitContextResult {
  const { model, history, newMessage } = input;
  const budgetTokens = promptBudget(input);

  const head: ContextMessage[] = input.systemPrompt ? [{ role: 'system', content: input.systemPrompt }] : [];
  const fixed = estimatePromptTokens(model, [...head, newMessage]);

  if (fixed > budgetTokens) {
    return {
      messages: [...head, newMessage],
      promptTokens: fixed,
      budgetTokens,
      keptHistory: 0,
      droppedHistory: history.length,
      fits: false,
    };
  }

  // Walk back from the newest message; only the messages we keep (plus one) get tokenized.
  let total = fixed;
  let first = history.length;
  while (first > 0) {
    const candidate = history[first - 1]!;
    const cost = countMessageTokens(model, candidate);
    if (total + cost > budgetTokens) break;
    total += cost;
    first -= 1;
  }

  const kept = history.slice(first);
  return {
    messages: [...head, ...kept, newMessage],
    promptTokens: total,
    budgetTokens,
    keptHistory: kept.length,
    droppedHistory: first,
    fits: true,
  };
}
