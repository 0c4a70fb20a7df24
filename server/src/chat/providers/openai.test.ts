import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../../test/fakes/openai-server.ts';
import { estimatePromptTokens } from '../tokens.ts';
import { createOpenAIProvider, parseRetryAfter, type OpenAIProviderOptions } from './openai.ts';
import { ProviderError, isAbortError, type ChatMessage, type ProviderEvent, type ProviderRequest } from './provider.ts';

let fake: FakeOpenAIServer;

beforeAll(async () => {
  fake = await startFakeOpenAIServer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.setDefault({});
  fake.setHandler(undefined);
});

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello to the meter.' },
];

function provider(overrides: Partial<OpenAIProviderOptions> = {}) {
  return createOpenAIProvider({
    apiKey: 'sk-test-key',
    baseUrl: fake.baseUrl,
    timeoutMs: 2_000,
    maxRetries: 2,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 50,
    ...overrides,
  });
}

function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model: 'gpt-4o-mini',
    messages,
    maxTokens: 256,
    signal: new AbortController().signal,
    requestId: 'req-123',
    ...overrides,
  };
}

async function collect(stream: AsyncIterable<ProviderEvent>) {
  const events: ProviderEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events, text: textOf(events), error: undefined as unknown };
  } catch (error) {
    return { events, text: textOf(events), error };
  }
}

function textOf(events: readonly ProviderEvent[]): string {
  return events.map((e) => (e.type === 'delta' ? e.text : '')).join('');
}

function usageOf(events: readonly ProviderEvent[]) {
  return events.filter((e) => e.type === 'usage');
}

describe('OpenAI provider against the fake Chat Completions server', () => {
  it('streams the text, then finish, then the reported usage', async () => {
    fake.enqueue({
      reply: 'Hello, metered world! Every token counts.',
      chunks: 5,
      usage: { prompt_tokens: 21, completion_tokens: 9, cached_tokens: 4 },
    });
    const p = provider();
    const { events, text, error } = await collect(p.stream(request({ user: 'user-42' })));
    expect(error).toBeUndefined();
    expect(text).toBe('Hello, metered world! Every token counts.');
    expect(events.filter((e) => e.type === 'delta')).toHaveLength(5);
    expect(events.slice(-2)).toEqual([
      { type: 'finish', reason: 'stop' },
      { type: 'usage', promptTokens: 21, completionTokens: 9, cachedPromptTokens: 4 },
    ]);
    expect(p.id).toBe('openai');
    expect(p.isDemo).toBe(false);
    expect(p.label).toMatch(/^OpenAI-compatible \(127\.0\.0\.1:\d+\)$/);

    const [sent] = fake.requests;
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe('Bearer sk-test-key');
    expect(sent?.headers['x-client-request-id']).toBe('req-123');
    expect(sent?.body).toMatchObject({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 256,
      user: 'user-42',
    });
    expect(sent?.body.max_completion_tokens).toBeUndefined();
    expect(sent?.completed).toBe(true);
  });

  it('usage computed by the fake matches our own prompt estimate', async () => {
    const { events } = await collect(provider().stream(request()));
    const [usage] = usageOf(events);
    expect(usage?.promptTokens).toBe(estimatePromptTokens('gpt-4o-mini', messages));
  });

  it('keeps an explicit zero usage as zero', async () => {
    fake.enqueue({ usage: { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 } });
    const { events, error } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    expect(usageOf(events)).toEqual([{ type: 'usage', promptTokens: 0, completionTokens: 0, cachedPromptTokens: 0 }]);
  });

  it('emits no usage event when the provider reports none', async () => {
    fake.enqueue({ usage: null });
    const { events, error } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    expect(usageOf(events)).toEqual([]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('leaves cachedPromptTokens out when the provider does not report it', async () => {
    fake.enqueue({ usage: { prompt_tokens: 7, completion_tokens: 3, cached_tokens: null } });
    const { events } = await collect(provider().stream(request()));
    expect(usageOf(events)).toEqual([{ type: 'usage', promptTokens: 7, completionTokens: 3 }]);
  });

  it('sends max_completion_tokens when configured', async () => {
    await collect(provider({ maxTokensParam: 'max_completion_tokens' }).stream(request({ maxTokens: 99 })));
    expect(fake.requests[0]?.body.max_completion_tokens).toBe(99);
    expect(fake.requests[0]?.body.max_tokens).toBeUndefined();
  });

  it('retries 429 (honouring retry-after-ms) and 503 before the first token, then succeeds', async () => {
    fake.enqueue(
      { status: 429, headers: { 'retry-after-ms': '150' } },
      { status: 503 },
      { reply: 'Third time lucky.' },
    );
    const { text, error, events } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    expect(text).toBe('Third time lucky.');
    expect(usageOf(events)).toHaveLength(1);
    expect(fake.requests).toHaveLength(3);
    const [first, second] = fake.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(145);
  });

  it('honours Retry-After in seconds', async () => {
    fake.enqueue({ status: 429, headers: { 'retry-after': '1' } }, {});
    const { error } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    const [first, second] = fake.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(990);
  });

  it('gives up after maxRetries with a typed rate_limited error', async () => {
    fake.setDefault({ status: 429, headers: { 'retry-after-ms': '5' } });
    const { error } = await collect(provider({ maxRetries: 2 }).stream(request()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      kind: 'rate_limited',
      retryable: true,
      startedStreaming: false,
      status: 429,
      retryAfterMs: 5,
      attempts: 3,
    });
    expect(fake.requests).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond the retry budget', async () => {
    fake.enqueue({ status: 429, headers: { 'retry-after': '30' } });
    const began = Date.now();
    const { error } = await collect(provider({ retryBudgetMs: 1_000 }).stream(request()));
    expect(error).toMatchObject({ kind: 'rate_limited', retryAfterMs: 30_000, attempts: 1 });
    expect(Date.now() - began).toBeLessThan(900);
    expect(fake.requests).toHaveLength(1);
  });

  it('does not retry a 429 for exhausted quota, a 400 or a 401', async () => {
    fake.enqueue({ status: 429, error: { code: 'insufficient_quota', type: 'insufficient_quota' } });
    expect((await collect(provider().stream(request()))).error).toMatchObject({
      kind: 'unavailable',
      retryable: false,
      status: 429,
    });
    fake.enqueue({ status: 400, error: { message: 'max_tokens is too large' } });
    const bad = (await collect(provider().stream(request()))).error as ProviderError;
    expect(bad).toMatchObject({ kind: 'bad_request', retryable: false, status: 400 });
    expect(bad.message).toMatch(/max_tokens is too large/);
    fake.enqueue({ status: 401 });
    expect((await collect(provider().stream(request()))).error).toMatchObject({
      kind: 'unavailable',
      retryable: false,
      status: 401,
    });
    expect(fake.requests).toHaveLength(3);
  });

  it('never retries once text was streamed: a mid-stream drop is final', async () => {
    fake.enqueue({ reply: 'one two three four five six', chunks: 6, dropAfterChunks: 2 });
    const { text, error, events } = await collect(provider().stream(request()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: 'unavailable', startedStreaming: true, attempts: 1 });
    expect(text.length).toBeGreaterThan(0);
    expect(usageOf(events)).toEqual([]);
    // give a (wrong) retry the chance to show up
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.droppedByServer).toBe(true);
  });

  it('retries a connection drop that happens before any text', async () => {
    fake.enqueue({ reply: 'lost', dropAfterChunks: 0 }, { reply: 'found' });
    const { text, error } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    expect(text).toBe('found');
    expect(fake.requests).toHaveLength(2);
  });

  it('treats a stream that ends without finish reason or usage as broken', async () => {
    fake.enqueue({ reply: 'cut short', finishReason: null, usage: null });
    const { text, error } = await collect(provider().stream(request()));
    expect(text).toBe('cut short');
    expect(error).toMatchObject({ kind: 'unavailable', startedStreaming: true });
  });

  it('aborting the signal closes the upstream connection at once', async () => {
    fake.enqueue({ reply: 'a b c d e f g h i j k l m n o p', chunks: 16, chunkDelayMs: 100 });
    const controller = new AbortController();
    const events: ProviderEvent[] = [];
    let abortedAt = 0;
    const error = await (async () => {
      try {
        for await (const event of provider().stream(request({ signal: controller.signal }))) {
          events.push(event);
          if (events.length === 2) {
            abortedAt = Date.now();
            controller.abort();
          }
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isAbortError(error, controller.signal)).toBe(true);
    expect(error).not.toBeInstanceOf(ProviderError);
    expect(usageOf(events)).toEqual([]);
    const [upstream] = fake.requests;
    await upstream!.done;
    expect(upstream!.clientClosed).toBe(true);
    expect(upstream!.completed).toBe(false);
    expect(upstream!.closedAt! - abortedAt).toBeLessThan(300);
    expect(upstream!.chunksSent).toBeLessThan(16);
  });

  it('an abort during the backoff wait stops retrying', async () => {
    fake.setDefault({ status: 503 });
    const controller = new AbortController();
    const stream = provider({ retryBaseDelayMs: 5_000, retryMaxDelayMs: 5_000, random: () => 0.99 }).stream(
      request({ signal: controller.signal }),
    );
    const pending = collect(stream);
    await fake.waitForRequests(1);
    controller.abort(new Error('client went away'));
    const { error } = await pending;
    expect(error).toEqual(new Error('client went away'));
    expect(fake.requests).toHaveLength(1);
  });

  it('leaving the loop early also closes the upstream connection', async () => {
    fake.enqueue({ reply: 'a b c d e f g h', chunks: 8, chunkDelayMs: 100 });
    for await (const event of provider().stream(request())) {
      if (event.type === 'delta') break;
    }
    const [upstream] = fake.requests;
    await upstream!.done;
    expect(upstream!.clientClosed).toBe(true);
  });

  it('times out when the response headers take too long, without retrying', async () => {
    fake.enqueue({ firstByteDelayMs: 1_500 });
    const began = Date.now();
    const { error } = await collect(provider({ timeoutMs: 300 }).stream(request()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: 'timeout', startedStreaming: false });
    expect(Date.now() - began).toBeLessThan(1_200);
    expect(fake.requests).toHaveLength(1);
    await fake.requests[0]!.done;
    expect(fake.requests[0]!.clientClosed).toBe(true);
  });

  it('times out when a started stream goes silent', async () => {
    fake.enqueue({ reply: 'one two three', chunks: 3, stallAfterChunks: 1 });
    const { text, error } = await collect(provider({ timeoutMs: 300 }).stream(request()));
    expect(text.length).toBeGreaterThan(0);
    expect(error).toMatchObject({ kind: 'timeout', startedStreaming: true });
    await fake.requests[0]!.done;
    expect(fake.requests[0]!.clientClosed).toBe(true);
  });

  it('reports an unreachable server as unavailable after retrying', async () => {
    const gone = await startFakeOpenAIServer();
    const baseUrl = gone.baseUrl;
    await gone.close();
    const { error } = await collect(provider({ baseUrl, maxRetries: 1 }).stream(request()));
    expect(error).toMatchObject({ kind: 'unavailable', retryable: true, startedStreaming: false, attempts: 2 });
  });
});

describe('parseRetryAfter', () => {
  const headers = (init: Record<string, string>) => new Headers(init);
  it('prefers retry-after-ms, then seconds, then an HTTP date', () => {
    expect(parseRetryAfter(headers({ 'retry-after-ms': '250.5', 'retry-after': '9' }))).toBe(251);
    expect(parseRetryAfter(headers({ 'retry-after': '2' }))).toBe(2_000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now)).toBe(3_000);
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(parseRetryAfter(headers({}))).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
