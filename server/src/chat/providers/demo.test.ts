import { describe, expect, it } from 'vitest';
import { countTextTokens, estimatePromptTokens } from '../tokens.ts';
import { createDemoProvider, demoReply, splitIntoChunks, topicOf } from './demo.ts';
import { isAbortError, type ChatMessage, type ProviderEvent, type ProviderRequest } from './provider.ts';

const provider = createDemoProvider({ delayMs: 0 });

function request(content: string, overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model: 'demo',
    messages: [
      { role: 'system', content: 'You are ChatMeter.' },
      { role: 'user', content },
    ],
    maxTokens: 1_000,
    signal: new AbortController().signal,
    requestId: 'r1',
    ...overrides,
  };
}

async function run(req: ProviderRequest) {
  const events: ProviderEvent[] = [];
  for await (const event of provider.stream(req)) events.push(event);
  const text = events.map((e) => (e.type === 'delta' ? e.text : '')).join('');
  return { events, text };
}

describe('demo provider', () => {
  it('is labelled as the demo model', () => {
    expect(provider).toMatchObject({ id: 'demo', isDemo: true, label: 'demo model' });
  });

  it('is deterministic for a given prompt and varies with the prompt', async () => {
    const a = await run(request('How do I make a good sourdough bread?'));
    const b = await run(request('How do I make a good sourdough bread?'));
    const c = await run(request('Why is the sky blue?'));
    expect(a.events).toEqual(b.events);
    expect(a.text).toContain('make a good sourdough bread');
    expect(c.text).toContain('sky blue');
    expect(a.text).not.toBe(c.text);
    expect(a.events.filter((e) => e.type === 'delta').length).toBeGreaterThan(5);
  });

  it('recognises greetings, questions about ChatMeter, code requests and questions about itself', () => {
    const say = (content: string) => demoReply([{ role: 'user', content }]);
    expect(say('Hello!')).toMatch(/demo model/);
    expect(say('How much does it cost and what are the limits of my plan?')).toMatch(/\$0\.15 per 1M prompt tokens/);
    expect(say('How much does it cost and what are the limits of my plan?')).toMatch(/\*\*Limits\*\*/);
    expect(say('Write a python function for fibonacci')).toMatch(/```python\ndef fibonacci/);
    expect(say('Can you write a SQL query for top users?')).toMatch(/```sql\n/);
    expect(say('write code to dedupe a list')).toMatch(/```typescript\n/);
    expect(say('Show me a Markdown table of models')).toMatch(/\| Model \| Speed \| Prompt price \|\n\| :--- \| :---: \| ---: \|/);
    expect(say('Show me a Markdown table of models')).toMatch(/- \[x\] ~~Guess~~[\s\S]*```ts\n/);
    expect(say('Are you a real AI?')).toMatch(/offline stand-in/);
    expect(say('thanks!')).not.toMatch(/demo model/);
    expect(demoReply([])).toMatch(/Ask me anything/);
  });

  it('answers the last user message, not earlier ones', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Hello!' },
      { role: 'assistant', content: 'Hi there!' },
      { role: 'user', content: 'Tell me about the history of Rome' },
    ];
    expect(demoReply(messages)).toContain('history of Rome');
  });

  it('reports usage counted with the real tokenizer', async () => {
    const req = request('Explain how tokens are metered');
    const { events, text } = await run(req);
    const usage = events.at(-1);
    expect(events.at(-2)).toEqual({ type: 'finish', reason: 'stop' });
    expect(usage).toEqual({
      type: 'usage',
      promptTokens: estimatePromptTokens('demo', req.messages),
      completionTokens: countTextTokens('demo', text),
    });
  });

  it('honours maxTokens like a model would', async () => {
    const { events, text } = await run(request('Write a typescript function for fibonacci', { maxTokens: 10 }));
    expect(countTextTokens('demo', text)).toBeLessThanOrEqual(10);
    expect(events.at(-2)).toEqual({ type: 'finish', reason: 'length' });
    expect(events.at(-1)).toMatchObject({ type: 'usage', completionTokens: countTextTokens('demo', text) });
  });

  it('stops streaming when the signal aborts', async () => {
    const slow = createDemoProvider({ delayMs: 20 });
    const controller = new AbortController();
    const events: ProviderEvent[] = [];
    let caught: unknown;
    try {
      for await (const event of slow.stream(request('Tell me a long story about metering', { signal: controller.signal }))) {
        events.push(event);
        if (events.length === 2) controller.abort();
      }
    } catch (error) {
      caught = error;
    }
    expect(isAbortError(caught, controller.signal)).toBe(true);
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.type === 'delta')).toBe(true);
  });

  it('waits delayMs between chunks', async () => {
    const slow = createDemoProvider({ delayMs: 10 });
    const started = Date.now();
    let chunks = 0;
    for await (const event of slow.stream(request('Hi'))) if (event.type === 'delta') chunks += 1;
    expect(Date.now() - started).toBeGreaterThanOrEqual((chunks - 1) * 10 - 5);
  });
});

describe('helpers', () => {
  it('splitIntoChunks keeps every character', () => {
    const text = '  Hello,  world!\n\nThis is **the** demo.\n```ts\ncode();\n```';
    expect(splitIntoChunks(text).join('')).toBe(text);
    expect(splitIntoChunks('')).toEqual([]);
  });

  it('topicOf strips filler words', () => {
    expect(topicOf('Can you explain what is the difference between TCP and UDP?')).toBe('difference between TCP and UDP');
    expect(topicOf('???')).toBe('???');
    expect(topicOf('')).toBe('your question');
  });
});
