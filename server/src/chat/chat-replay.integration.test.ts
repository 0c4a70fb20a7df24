// Real provider streams (server/test/fixtures/outside/openai) replayed by a local server
// speaking the Chat Completions protocol, through the server's real `openai` SDK path
// (OPENAI_BASE_URL pointed at it). For every capture: what the user sees, what is
// metered (provider usage and the pricing table's cost, or an estimate when the
// provider sent none) and the `done` event.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { DEFAULT_PRICING_TABLE, requireModelPrice, type TModelPrice } from '@chatmeter/shared/pricing';
import { nodeFetch, type FetchFunction } from './providers/node-fetch.ts';
import { countTextTokens, estimatePromptTokens } from './tokens.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { captureChunks, captureNames, loadCapture } from '../../test/fakes/provider-captures.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

/**
 * Models the captures came from that the built-in table does not sell. The figures are
 * this test's deployment's choice (a PRICING_FILE), not the providers' list prices: what
 * is checked is that the charge follows the table.
 */
const COMPATIBLE_MODELS: TModelPrice[] = [
  {
    model: 'meta-llama/Meta-Llama-3.1-70B-Instruct',
    inputMicrosPerMillion: 500_000,
    outputMicrosPerMillion: 700_000,
    contextWindow: 131_072,
    maxOutputTokens: 8_192,
  },
  { model: 'llama-3.3-70b-versatile', inputMicrosPerMillion: 590_000, outputMicrosPerMillion: 790_000, contextWindow: 131_072, maxOutputTokens: 32_768 },
  {
    model: 'deepseek-chat',
    inputMicrosPerMillion: 270_000,
    cachedInputMicrosPerMillion: 70_000,
    outputMicrosPerMillion: 1_100_000,
    contextWindow: 128_000,
    maxOutputTokens: 8_192,
  },
  {
    model: 'grok-3-mini',
    inputMicrosPerMillion: 300_000,
    cachedInputMicrosPerMillion: 75_000,
    outputMicrosPerMillion: 500_000,
    contextWindow: 131_072,
    maxOutputTokens: 32_768,
  },
  { model: 'sonar', inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 1_000_000, contextWindow: 127_072, maxOutputTokens: 8_192 },
  { model: 'qwen3-max', inputMicrosPerMillion: 1_200_000, outputMicrosPerMillion: 6_000_000, contextWindow: 262_144, maxOutputTokens: 65_536 },
  {
    model: 'zai-glm-4.7',
    inputMicrosPerMillion: 2_250_000,
    cachedInputMicrosPerMillion: 1_000_000,
    outputMicrosPerMillion: 2_750_000,
    contextWindow: 131_072,
    maxOutputTokens: 40_000,
  },
  { model: 'qwen2.5-coder:7b-instruct-q8_0', inputMicrosPerMillion: 0, outputMicrosPerMillion: 0, contextWindow: 32_768, maxOutputTokens: 8_192 },
];

type Metered =
  /** The provider's usage, as it bills it. */
  | { prompt: number; completion: number; cached?: number }
  /** No usage from the provider: our own count of the prompt sent and the text relayed. */
  | 'estimated';

interface ReplayCase {
  file: string;
  model: string;
  /** Exactly what the user sees (the streamed text, stored as the message). */
  text: string;
  metered: Metered;
  /** `done.finishReason`; undefined when the stream fails (no `done`). */
  finishReason?: string | null;
  /** The stream breaks: the error the user gets after the text that arrived. */
  error?: string;
}

/** The visible text of a capture decoded the plain way: every `delta.content` of choice 0. */
function contentOf(file: string): string {
  let text = '';
  for (const chunk of captureChunks(file)) {
    for (const choice of chunk.choices ?? []) if (choice.index === 0 && typeof choice.delta?.content === 'string') text += choice.delta.content;
  }
  return text;
}

const toolNote = (names: string) => `The model tried to call a tool (${names}), which ChatMeter does not offer.`;

const CASES: ReplayCase[] = [
  {
    file: 'openai-node-gpt4o-json.sse',
    model: 'gpt-4o',
    text: '{"city":"San Francisco","units":"c"}',
    metered: { prompt: 17, completion: 10 },
    finishReason: 'stop',
  },
  // Text only in delta.refusal: shown as the reply, marked as a refusal, metered as billed.
  {
    file: 'openai-node-gpt4o-refusal.sse',
    model: 'gpt-4o',
    text: "I'm very sorry, but I can't assist with that request.",
    metered: { prompt: 17, completion: 13 },
    finishReason: 'refusal',
  },
  {
    file: 'aibridge-gpt41-simple.sse',
    model: 'gpt-4.1',
    text: contentOf('aibridge-gpt41-simple.sse'),
    metered: { prompt: 19, completion: 238, cached: 0 },
    finishReason: 'stop',
  },
  // Cut after 3 deltas by an error event: the text that arrived stays, settled on our estimate.
  { file: 'aibridge-gpt41-stream-error.sse', model: 'gpt-4.1', text: 'The question "', metered: 'estimated', error: 'provider_unavailable' },
  // Reasoning inside completion_tokens (192 of 203): all of it is output.
  { file: 'discourse-o3-mini-reasoning.sse', model: 'o3-mini', text: 'hello', metered: { prompt: 22, completion: 203, cached: 0 }, finishReason: 'stop' },
  // Cumulative usage on every chunk: the last one counts, not the sum.
  {
    file: 'discourse-vllm-continuous-usage.sse',
    model: 'meta-llama/Meta-Llama-3.1-70B-Instruct',
    text: contentOf('discourse-vllm-continuous-usage.sse'),
    metered: { prompt: 46, completion: 26 },
    finishReason: 'stop',
  },
  {
    file: 'ollama-qwen-no-usage.sse',
    model: 'qwen2.5-coder:7b-instruct-q8_0',
    text: 'My name is Ben Dover. How can I help you today?',
    metered: 'estimated',
    finishReason: 'stop',
  },
  {
    file: 'vercel-openai-text.chunks.txt',
    model: 'gpt-4.1-nano',
    text: contentOf('vercel-openai-text.chunks.txt'),
    metered: { prompt: 16, completion: 300, cached: 0 },
    finishReason: 'stop',
  },
  {
    file: 'vercel-azure-model-router.chunks.txt',
    model: 'gpt-5-nano',
    text: 'Capital of Denmark.',
    metered: { prompt: 15, completion: 78, cached: 0 },
    finishReason: 'stop',
  },
  {
    file: 'vercel-groq-text.chunks.txt',
    model: 'llama-3.3-70b-versatile',
    text: contentOf('vercel-groq-text.chunks.txt'),
    metered: { prompt: 45, completion: 662 },
    finishReason: 'stop',
  },
  // Only tool calls: the reply says what happened instead of being empty.
  {
    file: 'vercel-groq-tool-call.chunks.txt',
    model: 'llama-3.3-70b-versatile',
    text: toolNote('weather'),
    metered: { prompt: 210, completion: 15 },
    finishReason: 'tool_calls',
  },
  {
    file: 'vercel-deepseek-text-length.chunks.txt',
    model: 'deepseek-chat',
    text: contentOf('vercel-deepseek-text-length.chunks.txt'),
    metered: { prompt: 13, completion: 400, cached: 0 },
    finishReason: 'length',
  },
  // total_tokens 354 = 12 prompt + 2 completion + 340 reasoning billed outside completion_tokens.
  { file: 'vercel-xai-text.chunks.txt', model: 'grok-3-mini', text: 'Grok', metered: { prompt: 12, completion: 342, cached: 11 }, finishReason: 'stop' },
  { file: 'vercel-perplexity-text.chunks.txt', model: 'sonar', text: '**EcoVista Day**[1][5]', metered: { prompt: 11, completion: 434 }, finishReason: 'stop' },
  {
    file: 'vercel-alibaba-text.chunks.txt',
    model: 'qwen3-max',
    text: contentOf('vercel-alibaba-text.chunks.txt'),
    metered: { prompt: 18, completion: 779, cached: 0 },
    finishReason: 'stop',
  },
  // Two completions back to back as vercel/ai stored them; the last usage is the stream's last word.
  {
    file: 'vercel-cerebras-tools.chunks.txt',
    model: 'zai-glm-4.7',
    text: `{"result": "2026"}\n\n${toolNote('nonUsefulTool')}`,
    metered: { prompt: 433, completion: 122, cached: 256 },
    finishReason: 'tool_calls',
  },
];

let fake: FakeOpenAIServer;
let server: TestServer;
const MAX_TOKENS = 1_000;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chatmeter-replay-'));
  const pricing = [...DEFAULT_PRICING_TABLE, ...COMPATIBLE_MODELS];
  const models = [...new Set([...CASES.map((c) => c.model), 'demo'])];
  // Every plan offers every replayed model; the built-in fallback (gpt-4o-mini) is not one of them.
  const plans = DEFAULT_PLANS.map((plan) => ({ ...plan, limits: { ...plan.limits, models, fallbackModel: undefined } }));
  writeFileSync(path.join(dir, 'pricing.json'), JSON.stringify(pricing));
  writeFileSync(path.join(dir, 'plans.json'), JSON.stringify(plans));
  fake = await startFakeOpenAIServer();
  server = await startTestServer(
    {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_MAX_RETRIES: '0',
      OPENAI_TIMEOUT_MS: '5000',
      CHAT_MAX_TOKENS: String(MAX_TOKENS),
      PRICING_FILE: path.join(dir, 'pricing.json'),
      PLANS_FILE: path.join(dir, 'plans.json'),
    },
    {
      limits: {
        chat: { points: 10_000, duration: 60 },
        chatIp: { points: 10_000, duration: 60 },
        guestIp: { points: 10_000, duration: 60 },
        signUpIp: { points: 10_000, duration: 60 },
      },
    },
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.reset();
});

let n = 0;
async function newUser(): Promise<{ b: TestBrowser; id: string }> {
  const b = server.browser({ ip: `10.40.${Math.floor(++n / 250)}.${n % 250}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `replay${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  return { b, id: user.id };
}

/** Integer micro-USD, rounded up once: the documented rule (docs/providers.md), computed by hand. */
function expectedCost(price: TModelPrice, prompt: number, completion: number, cached: number): number {
  const exact =
    (prompt - cached) * price.inputMicrosPerMillion +
    cached * (price.cachedInputMicrosPerMillion ?? price.inputMicrosPerMillion) +
    completion * price.outputMicrosPerMillion;
  return Math.ceil(exact / 1_000_000);
}

describe('replaying real provider streams', () => {
  it('has a case for every capture in the fixtures folder', () => {
    expect(CASES.map((c) => c.file).sort()).toEqual(captureNames());
  });

  it.each(CASES.map((c) => [c.file, c] as const))('%s: text, metering and done', async (_file, c) => {
    const { b, id } = await newUser();
    fake.enqueue({ replay: loadCapture(c.file) });
    const content = `Replay ${c.file}`;
    const price = requireModelPrice(server.deps.pricing, c.model);

    let result: Awaited<ReturnType<typeof send>> | undefined;
    if (c.error) {
      // What arrived before the break reached the user; then the error.
      const events: string[] = [];
      const err = await trpcError(
        (async () => {
          const stream = await b.trpc.chat.send.mutate({ content, model: c.model });
          for await (const event of stream) if (event.type === 'delta') events.push(event.text);
        })(),
      );
      expect(err.reason).toBe(c.error);
      expect(events.join('')).toBe(c.text);
    } else {
      result = await send(b, { content, model: c.model });
      expect(result.text).toBe(c.text);
    }
    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!.body;
    expect(request).toMatchObject({ model: c.model, stream: true, stream_options: { include_usage: true } });

    // What is metered.
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } });
    let prompt: number;
    let completion: number;
    let cached: number;
    if (c.metered === 'estimated') {
      prompt = estimatePromptTokens(c.model, request.messages);
      // Our own notes are not the provider's output: only the relayed provider text is counted.
      completion = countTextTokens(c.model, c.text);
      cached = 0;
      expect(event.estimated).toBe(true);
    } else {
      ({ prompt, completion } = c.metered);
      cached = c.metered.cached ?? 0;
      expect(event.estimated).toBe(false);
    }
    const cost = expectedCost(price, prompt, completion, cached);
    expect({
      prompt: event.promptTokens,
      completion: event.completionTokens,
      cached: event.cachedTokens,
      cost: Number(event.costMicroUsd),
      status: event.status,
      model: event.model,
    }).toEqual({
      prompt,
      completion,
      cached,
      cost,
      status: c.error ? 'error' : 'ok',
      model: c.model,
    });
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.tokensThisMonth).toBe(prompt + completion);

    // The done event, and the message as a reload shows it.
    const conversation = await server.deps.prisma.conversation.findFirstOrThrow({ where: { userId: id }, select: { id: true } });
    const page = await b.trpc.chat.messages.query({ conversationId: conversation.id });
    const reply = page.items.find((m) => m.role === 'assistant');
    if (c.error) {
      expect(reply).toMatchObject({ content: c.text, status: 'error', finishReason: null });
      return;
    }
    expect(result!.done).toEqual({
      type: 'done',
      usage: { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion, costMicroUsd: cost, estimated: c.metered === 'estimated' },
      status: 'ok',
      cached: false,
      finishReason: c.finishReason,
      limitedBy: null,
      degradedFrom: null,
    });
    expect(reply).toMatchObject({ id: result!.start!.messageId, content: c.text, status: 'ok', finishReason: c.finishReason });
  });

  it('a reasoning model is reserved for its whole completion cap, reasoning included, and the cap is sent as max_completion_tokens', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ replay: loadCapture('discourse-o3-mini-reasoning.sse') });
    const result = await send(b, { content: 'Say hello', model: 'o3-mini' });
    const cap = result.start!.maxTokens;
    expect(cap).toBe(MAX_TOKENS);
    // max_completion_tokens bounds reasoning + visible output; max_tokens (the visible part on
    // servers that know both) would leave the reasoning unbounded, and OpenAI rejects it here.
    expect(fake.requests[0]!.body.max_completion_tokens).toBe(cap);
    expect(fake.requests[0]!.body).not.toHaveProperty('max_tokens');
    const reservation = await server.deps.prisma.reservation.findFirstOrThrow({ where: { userId: id } });
    expect(Number(reservation.globalTokens)).toBe(Number(reservation.promptTokens) + cap);
    // 192 of the 203 completion tokens were reasoning: all of them are charged as output.
    const price = requireModelPrice(server.deps.pricing, 'o3-mini');
    expect(result.done!.usage).toMatchObject({ completionTokens: 203, costMicroUsd: expectedCost(price, 22, 203, 0) });
  });
});

describe('OPENAI_BASE_URL=https://api.openai.com/v1 is OpenAI, not a compatible server', () => {
  let openai: TestServer;
  const urls: string[] = [];

  beforeAll(async () => {
    // The server decides from OPENAI_BASE_URL as configured; only its sockets go to the fake.
    const toFake: FetchFunction = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      urls.push(url);
      return nodeFetch(url.replace(/^https:\/\/api\.openai\.com\/v1/, fake.baseUrl), init);
    };
    openai = await startTestServer(
      { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'https://api.openai.com/v1', OPENAI_MAX_RETRIES: '0', OPENAI_TIMEOUT_MS: '5000', CHAT_MAX_TOKENS: '300' },
      { providerFetch: toFake, limits: { chat: { points: 10_000, duration: 60 }, signUpIp: { points: 10_000, duration: 60 } } },
    );
  });
  afterAll(async () => {
    await openai?.close();
  });

  it("sends OpenAI's parameters (max_completion_tokens, safety_identifier) and is labelled OpenAI", async () => {
    const b = openai.browser({ ip: '10.41.0.1' });
    await b.trpc.auth.signUp.mutate({ email: `official-${Date.now()}@example.com`, password: 'correct horse battery' });
    expect((await b.trpc.chat.models.query()).provider).toBe('OpenAI');
    fake.enqueue({ reply: 'Hello from OpenAI.' });
    const result = await send(b, { content: 'Hello?', model: 'gpt-4o-mini' });
    expect(result.text).toBe('Hello from OpenAI.');
    expect(urls.at(-1)).toBe('https://api.openai.com/v1/chat/completions');
    const body = fake.requests[0]!.body;
    expect(body.max_completion_tokens).toBe(result.start!.maxTokens);
    expect(typeof body.safety_identifier).toBe('string');
    expect(body).not.toHaveProperty('max_tokens');
    expect(body).not.toHaveProperty('user');
  });
});
