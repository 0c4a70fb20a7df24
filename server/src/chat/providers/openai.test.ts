import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../../test/fakes/openai-server.ts';
import { estimatePromptTokens } from '../tokens.ts';
import { nodeFetch, type FetchFunction } from './node-fetch.ts';
import { buildChatRequestBody, createOpenAIProvider, parseRetryAfter, readUsage, resolveBaseUrl, type OpenAIProviderOptions } from './openai.ts';
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
    fake.enqueue({ status: 429, headers: { 'retry-after-ms': '150' } }, { status: 503 }, { reply: 'Third time lucky.' });
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

  it('with retryRateLimited false a 429 is thrown at once for the admission gate, and every response reports its headers', async () => {
    fake.enqueue(
      { status: 429, headers: { 'retry-after-ms': '700', 'x-ratelimit-remaining-requests': '0' } },
      { headers: { 'x-ratelimit-remaining-tokens': '42' } },
    );
    const seen: [number, string | null, string | null][] = [];
    const onResponse = (status: number, headers: Headers) =>
      seen.push([status, headers.get('x-ratelimit-remaining-requests'), headers.get('x-ratelimit-remaining-tokens')]);
    const { error } = await collect(provider({ maxRetries: 2 }).stream(request({ retryRateLimited: false, onResponse })));
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 700, attempts: 1, startedStreaming: false });
    expect(fake.requests).toHaveLength(1);
    const { text } = await collect(provider().stream(request({ retryRateLimited: false, onResponse })));
    expect(text.length).toBeGreaterThan(0);
    expect(seen).toEqual([
      [429, '0', null],
      [200, null, '42'],
    ]);
  });

  it('takes its id and request shape from the providers file entry', async () => {
    const groq = provider({ id: 'groq', kind: 'compatible' });
    expect(groq.id).toBe('groq');
    await collect(groq.stream(request({ user: 'u1' })));
    expect(fake.requests[0]!.body).toMatchObject({ max_tokens: 256, user: 'u1' });
    const azure = provider({ id: 'azure', kind: 'openai' });
    await collect(azure.stream(request({ user: 'u1' })));
    expect(fake.requests[1]!.body).toMatchObject({ max_completion_tokens: 256, safety_identifier: 'u1' });
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
    const stream = provider({ retryBaseDelayMs: 5_000, retryMaxDelayMs: 5_000, random: () => 0.99 }).stream(request({ signal: controller.signal }));
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

describe('recognising OpenAI by its host', () => {
  it.each([
    [undefined, true, 'https://api.openai.com/v1'],
    ['', true, 'https://api.openai.com/v1'],
    ['https://api.openai.com/v1', true, 'https://api.openai.com/v1'],
    ['https://api.openai.com/v1/', true, 'https://api.openai.com/v1'],
    ['https://api.openai.com', true, 'https://api.openai.com/v1'],
    ['https://api.openai.com/', true, 'https://api.openai.com/v1'],
    ['https://API.OpenAI.com/v1', true, 'https://API.OpenAI.com/v1'],
    ['https://eu.api.openai.com/v1', true, 'https://eu.api.openai.com/v1'],
    ['http://127.0.0.1:11434/v1', false, 'http://127.0.0.1:11434/v1'],
    ['http://127.0.0.1:11434/v1/', false, 'http://127.0.0.1:11434/v1'],
    ['https://my-resource.openai.azure.com/openai/v1', false, 'https://my-resource.openai.azure.com/openai/v1'],
    ['https://api.openai.com.example.net/v1', false, 'https://api.openai.com.example.net/v1'],
    ['https://notapi.openai.com/v1', false, 'https://notapi.openai.com/v1'],
  ])('%s -> OpenAI: %s', (baseUrl, official, resolved) => {
    expect(resolveBaseUrl(baseUrl)).toEqual({ official, baseUrl: resolved });
  });

  it("builds OpenAI's request shape for an explicit https://api.openai.com/v1, and the compatible one elsewhere", () => {
    const req = { model: 'o3-mini', messages, maxTokens: 500, user: 'u-hash' };
    for (const baseUrl of ['https://api.openai.com/v1', 'https://api.openai.com/v1/', 'https://api.openai.com', undefined]) {
      const body = buildChatRequestBody({ baseUrl }, req);
      expect(body).toMatchObject({ max_completion_tokens: 500, safety_identifier: 'u-hash' });
      expect(body).not.toHaveProperty('max_tokens');
      expect(body).not.toHaveProperty('user');
    }
    const compatible = buildChatRequestBody({ baseUrl: 'http://127.0.0.1:8000/v1' }, { ...req, model: 'llama' });
    expect(compatible).toMatchObject({ max_tokens: 500, user: 'u-hash' });
    expect(compatible).not.toHaveProperty('max_completion_tokens');
    expect(compatible).not.toHaveProperty('safety_identifier');
  });

  it('sends a reasoning model its cap as max_completion_tokens on any server', () => {
    const body = buildChatRequestBody(
      { baseUrl: 'https://my-resource.openai.azure.com/openai/v1' },
      { model: 'o4-mini', messages, maxTokens: 800, reasoning: true, user: 'u' },
    );
    expect(body).toMatchObject({ max_completion_tokens: 800, user: 'u' });
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('talks to OpenAI as OpenAI when the base URL names api.openai.com (requests routed to the fake through the fetch seam)', async () => {
    const seen: string[] = [];
    // The provider decides from the configured URL; only the socket goes to the fake server.
    const toFake: FetchFunction = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      seen.push(url);
      return nodeFetch(url.replace(/^https:\/\/api\.openai\.com\/v1/, fake.baseUrl), init);
    };
    for (const baseUrl of ['https://api.openai.com/v1', 'https://api.openai.com']) {
      fake.reset();
      const p = provider({ baseUrl, fetch: toFake });
      expect(p.label).toBe('OpenAI');
      const { text, error } = await collect(p.stream(request({ model: 'gpt-5-mini', maxTokens: 321, user: 'user-7', reasoning: true })));
      expect(error).toBeUndefined();
      expect(text).toBe('Hello from the fake OpenAI server.');
      expect(seen.at(-1)).toBe('https://api.openai.com/v1/chat/completions');
      expect(fake.requests[0]!.body).toMatchObject({ model: 'gpt-5-mini', max_completion_tokens: 321, safety_identifier: 'user-7' });
      expect(fake.requests[0]!.body).not.toHaveProperty('max_tokens');
      expect(fake.requests[0]!.body).not.toHaveProperty('user');
    }
  });
});

describe('what a stream says beyond its text', () => {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  const usageChunk = (usage: Record<string, unknown>) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage })}\n\n`;

  it('relays a refusal as text and finishes with refusal', async () => {
    fake.enqueue({
      replay: [
        chunk({ role: 'assistant', content: null, refusal: '' }),
        chunk({ refusal: 'I cannot' }),
        chunk({ refusal: ' help.' }),
        chunk({}, 'stop'),
        usageChunk({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 }),
        'data: [DONE]\n\n',
      ],
    });
    const { events, text, error } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    expect(text).toBe('I cannot help.');
    expect(events.slice(-2)).toEqual([
      { type: 'finish', reason: 'refusal' },
      { type: 'usage', promptTokens: 5, completionTokens: 4 },
    ]);
  });

  it('reports tool calls by name (once per call) and keeps reasoning text out of the reply', async () => {
    fake.enqueue({
      replay: [
        chunk({ role: 'assistant', reasoning_content: 'Let me think' }),
        chunk({ tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk({ prompt_tokens: 50, completion_tokens: 12, total_tokens: 62 }),
        'data: [DONE]\n\n',
      ],
    });
    const { events, text, error } = await collect(provider().stream(request()));
    expect(error).toBeUndefined();
    expect(text).toBe('');
    expect(events).toEqual([
      { type: 'tool_call', name: 'get_weather' },
      { type: 'finish', reason: 'tool_calls' },
      { type: 'usage', promptTokens: 50, completionTokens: 12 },
    ]);
  });

  it('ignores a finish reason that is not a short identifier', async () => {
    fake.enqueue({
      replay: [chunk({ content: 'ok' }), chunk({}, '<script>alert(1)</script>'), usageChunk({ prompt_tokens: 1, completion_tokens: 1 }), 'data: [DONE]\n\n'],
    });
    const { events } = await collect(provider().stream(request()));
    expect(events.some((e) => e.type === 'finish')).toBe(false);
  });
});

describe('readUsage: what the provider bills', () => {
  it('counts tokens billed in total_tokens beyond prompt + completion as output (xAI reasoning)', () => {
    expect(readUsage({ usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 354, prompt_tokens_details: { cached_tokens: 11 } } })).toEqual({
      promptTokens: 12,
      completionTokens: 342,
      cachedPromptTokens: 11,
    });
  });

  it('keeps completion_tokens when the total adds nothing, or is missing or smaller', () => {
    expect(readUsage({ usage: { prompt_tokens: 22, completion_tokens: 203, total_tokens: 225 } })).toEqual({ promptTokens: 22, completionTokens: 203 });
    expect(readUsage({ usage: { prompt_tokens: 22, completion_tokens: 203 } as never })).toEqual({ promptTokens: 22, completionTokens: 203 });
    expect(readUsage({ usage: { prompt_tokens: 22, completion_tokens: 203, total_tokens: 100 } })).toEqual({ promptTokens: 22, completionTokens: 203 });
    expect(readUsage({ usage: { prompt_tokens: 22, completion_tokens: 203, total_tokens: 300.5 } })).toEqual({ promptTokens: 22, completionTokens: 203 });
  });

  it("reads DeepSeek's prompt_cache_hit_tokens when the OpenAI-style details are missing", () => {
    expect(readUsage({ usage: { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_cache_hit_tokens: 64 } as never })).toEqual({
      promptTokens: 100,
      completionTokens: 5,
      cachedPromptTokens: 64,
    });
  });
});
