/**
 * The provider layer: one interface in front of the real OpenAI-compatible API and the
 * offline demo model. The metering code (reservation -> stream -> settlement) is written
 * against this file only.
 *
 * Contract of `ChatProvider.stream()`:
 *  - yields zero or more `delta` and `tool_call` events (in the order they arrive), then at
 *    most one `finish`, then at most one `usage`; `usage`, when present, is the last event;
 *  - a `delta` is text for the user: the model's answer, or its refusal (then `finish` says
 *    `refusal`); reasoning text some servers stream (`reasoning_content`) is not a delta;
 *  - `usage` appears only when the provider reported usage. Its absence means "unknown"
 *    (the caller settles with its own estimate); a reported zero is a real zero;
 *  - failures are thrown as `ProviderError` (see `startedStreaming` for settlement);
 *  - when `signal` aborts, the upstream request is cancelled at once and the iterator
 *    throws `signal.reason` (an `AbortError` DOMException unless the caller gave a
 *    reason; see `isAbortError`); no usage follows an abort;
 *  - leaving the loop early (`break`, `return`, a throw in the loop body) also cancels the
 *    upstream request.
 */

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ProviderRequest {
  /** Provider model id, e.g. "gpt-4o-mini" (or "demo"). */
  model: string;
  /** Already fitted to the context window (see ../context-window.ts). */
  messages: readonly ChatMessage[];
  /**
   * Upper bound on completion tokens; the reservation is computed from it. For a reasoning
   * model it bounds reasoning and visible output together (`max_completion_tokens`).
   */
  maxTokens: number;
  /**
   * The model reasons before it answers (the pricing table's `reasoning`): its cap must go
   * out as `max_completion_tokens`, which covers the reasoning tokens, on any server.
   */
  reasoning?: boolean;
  /** Stable, non-identifying end-user id for the provider's abuse monitoring. */
  user?: string;
  signal: AbortSignal;
  /** Our id for the request; sent upstream as `X-Client-Request-Id` for tracing. */
  requestId: string;
  /**
   * False: a 429 is thrown at once (kind `rate_limited`) instead of retried here, so the
   * admission gate (gate.ts) can hold the request back with the others. Default true.
   */
  retryRateLimited?: boolean;
  /** The status and headers of each HTTP response (errors included), for the gate's rate-limit headers. */
  onResponse?: (status: number, headers: Headers) => void;
}

export interface ProviderUsage {
  promptTokens: number;
  /**
   * Output tokens as the provider bills them, reasoning included: its `completion_tokens`,
   * or `total_tokens - prompt_tokens` when the total is larger (xAI counts reasoning
   * outside `completion_tokens` but inside the total it bills).
   */
  completionTokens: number;
  /**
   * Part of `promptTokens` served from the provider's prompt cache. Present (possibly 0)
   * when the provider reported it, absent when it did not.
   */
  cachedPromptTokens?: number;
}

/**
 * The provider's `finish_reason`, except `refusal`: the answer came as a refusal (OpenAI
 * streams it in `delta.refusal` and finishes with `stop`).
 */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'function_call' | 'refusal' | (string & {});

export type ProviderEvent =
  | { type: 'delta'; text: string }
  /** The model called a tool (by name, once per call). ChatMeter offers none: nothing runs. */
  | { type: 'tool_call'; name: string }
  | { type: 'finish'; reason: FinishReason }
  | ({ type: 'usage' } & ProviderUsage);

export interface ChatProvider {
  /** "openai" (the one-provider shorthand), an id from PROVIDERS_FILE, or "demo". */
  readonly id: string;
  /** True for the offline demo model: its answers are canned, not a model's. */
  readonly isDemo: boolean;
  /** Human-readable, for logs and the UI ("demo model", "OpenAI", "OpenAI-compatible (host)"). */
  readonly label: string;
  stream(request: ProviderRequest): AsyncIterable<ProviderEvent>;
}

/**
 * - `unavailable`: the provider could not be reached, failed (5xx), rejected our key, or
 *   the stream broke;
 * - `rate_limited`: 429 from the provider (our own limiter is separate);
 * - `bad_request`: the provider rejected the request itself (4xx such as an unknown model
 *   or a prompt over its limit): retrying the same request will not help;
 * - `timeout`: no response headers within the timeout, or the stream went silent.
 */
export type ProviderErrorKind = 'unavailable' | 'rate_limited' | 'bad_request' | 'timeout';

export interface ProviderErrorOptions {
  kind: ProviderErrorKind;
  /** Whether sending the same request again later may succeed. */
  retryable: boolean;
  /**
   * True once at least one non-empty `delta` was yielded: text reached the caller, the
   * provider has probably billed tokens, and the request must not be retried blindly. Settle
   * such a request on an estimate (prompt estimate + tokens of the text received).
   */
  startedStreaming: boolean;
  /** HTTP status from the provider, when there was one. */
  status?: number;
  /** From the provider's Retry-After / retry-after-ms headers. */
  retryAfterMs?: number;
  /** Attempts made, retries included. */
  attempts?: number;
  cause?: unknown;
}

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly kind: ProviderErrorKind;
  readonly retryable: boolean;
  readonly startedStreaming: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly attempts: number;

  constructor(message: string, options: ProviderErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind;
    this.retryable = options.retryable;
    this.startedStreaming = options.startedStreaming;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.attempts = options.attempts ?? 1;
  }
}

export function isProviderError(error: unknown): error is ProviderError {
  return error instanceof ProviderError;
}

/**
 * True for what `stream()` throws when the caller's signal aborted. Pass the signal to
 * also recognise a custom abort reason (`controller.abort(myReason)`).
 */
export function isAbortError(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted && error === signal.reason) return true;
  return typeof error === 'object' && error !== null && 'name' in error && (error as { name: unknown }).name === 'AbortError';
}
