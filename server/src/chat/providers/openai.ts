/**
 * ChatProvider for OpenAI and any server speaking its Chat Completions protocol (Ollama,
 * vLLM, LM Studio, ... via `baseUrl`), through the official `openai` SDK.
 *
 * Retry policy (the SDK's own retries are off): 429 (except `insufficient_quota`), 5xx and
 * connection failures are retried with exponential backoff and full jitter, honouring
 * Retry-After / retry-after-ms, at most `maxRetries` times and within `retryBudgetMs`,
 * and ONLY while no text has reached the caller. Once a delta was yielded, any failure is
 * final and reported with `startedStreaming: true`. Timeouts are not retried: the user has
 * already waited `timeoutMs`.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { nodeFetch, type FetchFunction } from './node-fetch.ts';
import { ProviderError, type ChatProvider, type FinishReason, type ProviderEvent, type ProviderRequest, type ProviderUsage } from './provider.ts';

export interface OpenAIProviderOptions {
  apiKey: string;
  /** The provider's id (PROVIDERS_FILE), recorded with its usage. Default "openai". */
  id?: string;
  /**
   * `openai`: OpenAI's request shape whatever the host (e.g. Azure OpenAI); `compatible`: a
   * compatible server's. Default: from the host (`resolveBaseUrl`).
   */
  kind?: 'openai' | 'compatible';
  /**
   * An OpenAI-compatible endpoint including `/v1`, e.g. `http://127.0.0.1:11434/v1`. Default:
   * OpenAI. A URL on OpenAI's own host is OpenAI, not a compatible server (`resolveBaseUrl`).
   */
  baseUrl?: string;
  /** Per attempt: the longest wait for response headers, and the longest silence between stream chunks. */
  timeoutMs: number;
  /** Retries before the first token; 0 makes a single attempt. */
  maxRetries: number;
  /** First backoff step (default 500 ms); step n waits up to base * 2^(n-1), jittered. */
  retryBaseDelayMs?: number;
  /** Cap of one backoff wait (default 8 s). Retry-After is honoured as is, within the budget. */
  retryMaxDelayMs?: number;
  /** No retry starts once this much time has passed since the request began (default 20 s). */
  retryBudgetMs?: number;
  /**
   * Name of the output limit parameter. Default: `max_completion_tokens` for OpenAI itself
   * (required by its reasoning models), `max_tokens` for a compatible server, since older
   * ones only know that one. A request for a reasoning model always uses
   * `max_completion_tokens` (see `ProviderRequest.reasoning`).
   */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens';
  /** Jitter source, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * The SDK's HTTP client. Default: `nodeFetch` (node:http with keep-alive), which costs far
   * less CPU per streamed completion than Node's built-in fetch; pass `globalThis.fetch` to
   * compare or to use an undici dispatcher.
   */
  fetch?: FetchFunction;
}

/** Where the SDK goes when no base URL is given. */
export const OPENAI_API_BASE_URL = 'https://api.openai.com/v1';

/** OpenAI's own API: api.openai.com, or a regional one such as eu.api.openai.com. */
export function isOpenAIHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return host === 'api.openai.com' || host.endsWith('.api.openai.com');
}

/**
 * Which server a configured base URL names. Unset, or on OpenAI's host (with or without
 * `/v1`, with or without a trailing slash), it is OpenAI itself: OpenAI's request shape
 * (`max_completion_tokens`, `safety_identifier`), and `/v1` added when the path is empty.
 * Anything else is an OpenAI-compatible server.
 */
export function resolveBaseUrl(baseUrl: string | undefined): { official: boolean; baseUrl: string } {
  const given = baseUrl?.trim();
  if (!given) return { official: true, baseUrl: OPENAI_API_BASE_URL };
  const url = new URL(given);
  const trimmed = given.replace(/\/+$/, '');
  if (!isOpenAIHost(url.hostname)) return { official: false, baseUrl: trimmed };
  return { official: true, baseUrl: url.pathname.replace(/\/+$/, '') === '' ? `${url.origin}/v1` : trimmed };
}

const DEFAULT_RETRY_BASE_DELAY_MS = 500;
const DEFAULT_RETRY_MAX_DELAY_MS = 8_000;
const DEFAULT_RETRY_BUDGET_MS = 20_000;

export function createOpenAIProvider(options: OpenAIProviderOptions): ChatProvider {
  return new OpenAIProvider(options);
}

type BodyRequest = Pick<ProviderRequest, 'model' | 'messages' | 'maxTokens' | 'user' | 'reasoning'>;

/** The Chat Completions body the provider sends for `request` to the server `options` names (no network). */
export function buildChatRequestBody(
  options: Pick<OpenAIProviderOptions, 'baseUrl' | 'maxTokensParam'>,
  request: BodyRequest,
): ChatCompletionCreateParamsStreaming {
  const official = resolveBaseUrl(options.baseUrl).official;
  return requestBody({ official, maxTokensParam: options.maxTokensParam ?? (official ? 'max_completion_tokens' : 'max_tokens') }, request);
}

function requestBody(
  target: { official: boolean; maxTokensParam: 'max_tokens' | 'max_completion_tokens' },
  request: BodyRequest,
): ChatCompletionCreateParamsStreaming {
  const body: ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
    stream: true,
    stream_options: { include_usage: true },
  };
  // A reasoning model's cap must cover its reasoning: only max_completion_tokens does (and
  // OpenAI and Azure OpenAI reject max_tokens for these models).
  const param = request.reasoning ? 'max_completion_tokens' : target.maxTokensParam;
  if (param === 'max_tokens') body.max_tokens = request.maxTokens;
  else body.max_completion_tokens = request.maxTokens;
  if (request.user) {
    // OpenAI replaced `user` with `safety_identifier`; compatible servers know `user`.
    if (target.official) body.safety_identifier = request.user;
    else body.user = request.user;
  }
  return body;
}

class OpenAIProvider implements ChatProvider {
  readonly id: string;
  readonly isDemo = false;
  readonly label: string;
  private readonly client: OpenAI;
  private readonly options: OpenAIProviderOptions;
  private readonly maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  private readonly isOfficialApi: boolean;

  constructor(options: OpenAIProviderOptions) {
    if (!options.apiKey) throw new Error('createOpenAIProvider: apiKey is required');
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new Error('createOpenAIProvider: timeoutMs must be a positive integer');
    }
    if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) {
      throw new Error('createOpenAIProvider: maxRetries must be a non-negative integer');
    }
    this.options = options;
    this.id = options.id ?? 'openai';
    const target = resolveBaseUrl(options.baseUrl);
    this.isOfficialApi = options.kind ? options.kind === 'openai' : target.official;
    this.label = target.official
      ? 'OpenAI'
      : this.isOfficialApi
        ? `OpenAI (${new URL(target.baseUrl).host})`
        : `OpenAI-compatible (${new URL(target.baseUrl).host})`;
    this.maxTokensParam = options.maxTokensParam ?? (this.isOfficialApi ? 'max_completion_tokens' : 'max_tokens');
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: target.baseUrl,
      timeout: options.timeoutMs,
      maxRetries: 0,
      fetch: options.fetch ?? nodeFetch,
    });
  }

  private buildBody(request: ProviderRequest): ChatCompletionCreateParamsStreaming {
    return requestBody({ official: this.isOfficialApi, maxTokensParam: this.maxTokensParam }, request);
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderEvent, void, undefined> {
    const { signal } = request;
    const { timeoutMs, maxRetries } = this.options;
    const budgetMs = this.options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
    const body = this.buildBody(request);
    const began = Date.now();
    let startedStreaming = false;

    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      // The attempt's upstream request is aborted by the caller's signal (the SDK listens to it)
      // and, once the response has come, through the SDK's own controller for it
      // (`stream.controller`): by the idle timer, and in `finally` so that `break` in the
      // caller's loop closes the upstream connection. (No controller of our own per attempt:
      // every AbortSignal node makes has a V8 map of its own, and each access to one is a
      // cache miss; docs/performance.md, sixth part.)
      let upstream: AbortController | undefined;
      let idleTimer: NodeJS.Timeout | undefined;
      let idleTimedOut = false;
      // Re-armed on every chunk: one timer, refreshed (not a new one per chunk).
      const armIdleTimer = () => {
        if (idleTimer) {
          idleTimer.refresh();
          return;
        }
        idleTimer = setTimeout(() => {
          idleTimedOut = true;
          upstream?.abort();
        }, timeoutMs);
      };
      // The response was read to its end: nothing upstream is left to close.
      let complete = false;

      try {
        const { data: stream, response } = await this.client.chat.completions
          .create(body, {
            signal,
            headers: { 'X-Client-Request-Id': request.requestId },
          })
          .withResponse();
        upstream = stream.controller;
        request.onResponse?.(response.status, response.headers);
        armIdleTimer();
        let finishReason: FinishReason | undefined;
        let usage: ProviderUsage | undefined;
        let refused = false;
        for await (const chunk of stream) {
          armIdleTimer();
          usage = readUsage(chunk) ?? usage;
          for (const choice of chunk.choices ?? []) {
            if (choice.index !== 0) continue;
            const delta = choice.delta as ChunkDelta | undefined;
            const text = delta?.content;
            if (text) {
              startedStreaming = true;
              yield { type: 'delta', text };
            }
            // A refusal is the model's answer too: the user reads it (and the provider bills it).
            const refusal = delta?.refusal;
            if (typeof refusal === 'string' && refusal) {
              refused = true;
              startedStreaming = true;
              yield { type: 'delta', text: refusal };
            }
            // A call's name comes with its first delta; later ones carry only arguments.
            for (const call of delta?.tool_calls ?? []) {
              const name = call.function?.name;
              if (typeof name === 'string' && name) yield { type: 'tool_call', name };
            }
            const legacyName = delta?.function_call?.name;
            if (typeof legacyName === 'string' && legacyName) yield { type: 'tool_call', name: legacyName };
            const reason = readFinishReason(choice.finish_reason);
            if (reason) finishReason = reason;
          }
        }
        // The SDK ends the iteration quietly when its request is aborted.
        signal.throwIfAborted();
        complete = !idleTimedOut;
        if (idleTimedOut) {
          throw new ProviderError(`no data from the provider for ${timeoutMs} ms`, {
            kind: 'timeout',
            retryable: true,
            startedStreaming,
            attempts: attempt,
          });
        }
        if (finishReason === undefined && usage === undefined) {
          throw new ProviderError('the provider stream ended before the response was complete', {
            kind: 'unavailable',
            retryable: true,
            startedStreaming,
            attempts: attempt,
          });
        }
        if (refused && (finishReason === undefined || finishReason === 'stop')) finishReason = 'refusal';
        if (finishReason !== undefined) yield { type: 'finish', reason: finishReason };
        if (usage !== undefined) yield { type: 'usage', ...usage };
        return;
      } catch (error) {
        signal.throwIfAborted();
        if (error instanceof APIError && typeof error.status === 'number' && error.headers) request.onResponse?.(error.status, error.headers);
        const failure = toProviderError(error, { startedStreaming, attempts: attempt, idleTimedOut, timeoutMs });
        if (startedStreaming || attempt > maxRetries || !isAutoRetryable(failure)) throw failure;
        // The admission gate waits out a rate limit with the other requests (gate.ts).
        if (failure.kind === 'rate_limited' && request.retryRateLimited === false) throw failure;
        const delay = failure.retryAfterMs ?? this.backoffDelay(attempt);
        if (Date.now() - began + delay > budgetMs) throw failure;
        await sleep(delay, signal);
      } finally {
        clearTimeout(idleTimer);
        // Aborting a finished request only costs (an AbortError and the SDK's listeners).
        if (!complete) upstream?.abort();
      }
    }
  }

  private backoffDelay(attempt: number): number {
    const base = this.options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
    const cap = this.options.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS;
    const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
    return Math.floor((this.options.random ?? Math.random)() * ceiling);
  }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** What a chunk's delta may carry beyond the SDK's type, from the servers we have seen. */
type ChunkDelta = ChatCompletionChunk.Choice['delta'] & { refusal?: string | null };

/** Finish reasons are short identifiers; anything else from a careless server is ignored. */
function readFinishReason(value: unknown): FinishReason | undefined {
  return typeof value === 'string' && /^[a-z][a-z0-9_]{0,31}$/i.test(value) ? value : undefined;
}

/**
 * The usage as the provider bills it. Cumulative usage on every chunk (vLLM, Perplexity)
 * is fine: the caller keeps the last. Output is `completion_tokens`, or `total_tokens -
 * prompt_tokens` when the total is larger: xAI bills reasoning tokens that it counts in
 * `total_tokens` but not in `completion_tokens`.
 */
export function readUsage(chunk: Pick<ChatCompletionChunk, 'usage'>): ProviderUsage | undefined {
  const usage = chunk.usage as (ChatCompletionChunk['usage'] & { prompt_cache_hit_tokens?: unknown }) | null | undefined;
  if (!usage) return undefined;
  // Compatible servers are not always careful: unusable figures count as "not reported".
  if (!isNonNegativeInteger(usage.prompt_tokens) || !isNonNegativeInteger(usage.completion_tokens)) return undefined;
  const total = usage.total_tokens;
  const completionTokens =
    isNonNegativeInteger(total) && total > usage.prompt_tokens + usage.completion_tokens ? total - usage.prompt_tokens : usage.completion_tokens;
  // DeepSeek's own field when the OpenAI-style details are missing.
  const cached = usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens;
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens,
    ...(isNonNegativeInteger(cached) ? { cachedPromptTokens: Math.min(cached, usage.prompt_tokens) } : {}),
  };
}

/** Milliseconds from `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date). */
export function parseRetryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const header = headers.get('retry-after');
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function errorCode(error: APIError): string | undefined {
  const code = error.code ?? (error.error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function toProviderError(error: unknown, context: { startedStreaming: boolean; attempts: number; idleTimedOut: boolean; timeoutMs: number }): ProviderError {
  if (error instanceof ProviderError) return error;
  const { startedStreaming, attempts } = context;
  const base = { startedStreaming, attempts, cause: error };

  if (context.idleTimedOut || error instanceof APIConnectionTimeoutError) {
    return new ProviderError(`the provider did not respond within ${context.timeoutMs} ms`, {
      ...base,
      kind: 'timeout',
      retryable: true,
    });
  }
  if (error instanceof APIConnectionError) {
    return new ProviderError(`cannot reach the provider: ${error.message}`, { ...base, kind: 'unavailable', retryable: true });
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const retryAfterMs = parseRetryAfter(error.headers);
    const withStatus = { ...base, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    const message = `provider answered ${error.message}`;
    if (status === 429) {
      // Out of credit at the provider: waiting will not help.
      if (errorCode(error) === 'insufficient_quota') {
        return new ProviderError(message, { ...withStatus, kind: 'unavailable', retryable: false });
      }
      return new ProviderError(message, { ...withStatus, kind: 'rate_limited', retryable: true });
    }
    if (status === 408) return new ProviderError(message, { ...withStatus, kind: 'timeout', retryable: true });
    if (status >= 500 || status === 409) {
      return new ProviderError(message, { ...withStatus, kind: 'unavailable', retryable: true });
    }
    // A bad key or a forbidden model is our configuration, not the user's request.
    if (status === 401 || status === 403) {
      return new ProviderError(message, { ...withStatus, kind: 'unavailable', retryable: false });
    }
    return new ProviderError(message, { ...withStatus, kind: 'bad_request', retryable: false });
  }
  // An error event inside the stream (no status), or the connection breaking mid-body
  // (nodeFetch: "Error: aborted", code ECONNRESET; undici: "TypeError: terminated").
  const detail = error instanceof Error ? error.message : String(error);
  return new ProviderError(`the provider stream failed: ${detail}`, { ...base, kind: 'unavailable', retryable: true });
}

/** Only 429, 5xx and connection failures are worth an immediate retry. */
function isAutoRetryable(error: ProviderError): boolean {
  if (!error.retryable) return false;
  if (error.kind === 'rate_limited') return true;
  if (error.kind !== 'unavailable') return false;
  return error.status === undefined || error.status >= 500;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
