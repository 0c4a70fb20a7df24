import { describe, expect, it } from 'vitest';
import { computeChatCompletionTokenCount } from 'gpt-tokenizer/functionCalling';
import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as countCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import {
  CountMemo,
  countMessageTokens,
  countTextTokens,
  encodingNameForModel,
  estimatePromptTokens,
  REPLY_PRIMING_TOKENS,
  TOKEN_MEMO_LIMITS,
  tokenMemoSize,
  truncateToTokens,
} from './tokens.ts';

// OpenAI cookbook "How to count tokens with tiktoken": the API reported 124 prompt tokens
// for these messages on gpt-4o / gpt-4o-mini and 129 on gpt-4 / gpt-3.5-turbo.
const cookbookMessages = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

describe('encodingNameForModel', () => {
  it('picks the encoding of each model family, o200k when unknown', () => {
    expect(encodingNameForModel('gpt-4o-mini')).toBe('o200k_base');
    expect(encodingNameForModel('gpt-4.1-nano')).toBe('o200k_base');
    expect(encodingNameForModel('gpt-4o-2024-08-06')).toBe('o200k_base');
    expect(encodingNameForModel('o3-mini')).toBe('o200k_base');
    expect(encodingNameForModel('gpt-4')).toBe('cl100k_base');
    expect(encodingNameForModel('gpt-3.5-turbo')).toBe('cl100k_base');
    expect(encodingNameForModel('ft:gpt-3.5-turbo-0125:acme::abc123')).toBe('cl100k_base');
    expect(encodingNameForModel('openai/gpt-4')).toBe('cl100k_base');
    expect(encodingNameForModel('llama3.1:8b')).toBe('o200k_base');
    expect(encodingNameForModel('demo')).toBe('o200k_base');
  });
});

describe('countTextTokens', () => {
  it('counts with the real tokenizer of the model', () => {
    const text = 'ChatMeter counts every token, exactly like the API does. 🚀';
    expect(countTextTokens('gpt-4o', text)).toBe(countO200k(text));
    expect(countTextTokens('gpt-4', text)).toBe(countCl100k(text));
    expect(countTextTokens('gpt-4o', 'hello world')).toBe(2);
    expect(countTextTokens('gpt-4o', '')).toBe(0);
  });

  it('counts special-token look-alikes in user text as text instead of throwing', () => {
    expect(countTextTokens('gpt-4o', 'a <|endoftext|> b')).toBeGreaterThan(3);
  });
});

describe('estimatePromptTokens', () => {
  it('matches the prompt_tokens the OpenAI API reported for the cookbook example', () => {
    expect(estimatePromptTokens('gpt-4o', cookbookMessages)).toBe(124);
    expect(estimatePromptTokens('gpt-4o-mini', cookbookMessages)).toBe(124);
    expect(estimatePromptTokens('gpt-4', cookbookMessages)).toBe(129);
    expect(estimatePromptTokens('gpt-3.5-turbo', cookbookMessages)).toBe(129);
  });

  it("agrees with gpt-tokenizer's chat completion count and is additive per message", () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is a token?' },
      { role: 'assistant', content: 'A piece of text the model reads.' },
    ];
    expect(estimatePromptTokens('gpt-4o', messages)).toBe(computeChatCompletionTokenCount({ messages }, (t) => (t ? countO200k(t) : 0)));
    const sum = messages.reduce((n, m) => n + countMessageTokens('gpt-4o', m), 0);
    expect(estimatePromptTokens('gpt-4o', messages)).toBe(sum + REPLY_PRIMING_TOKENS);
    expect(estimatePromptTokens('gpt-4o', [])).toBe(3);
  });
});

describe('truncateToTokens', () => {
  it('keeps whole tokens up to the limit and never cuts a character', () => {
    const text = 'héllo wörld 😀😀 and more words after the emoji';
    expect(truncateToTokens('gpt-4o', text, 1_000)).toBe(text);
    expect(truncateToTokens('gpt-4o', text, 0)).toBe('');
    for (let n = 1; n < countTextTokens('gpt-4o', text); n++) {
      const prefix = truncateToTokens('gpt-4o', text, n);
      expect(text.startsWith(prefix)).toBe(true);
      expect(countTextTokens('gpt-4o', prefix)).toBeLessThanOrEqual(n);
    }
  });
});

describe('CountMemo (counts of message texts kept between chats)', () => {
  const counting = () => {
    const calls: string[] = [];
    const countTokens = (text: string) => {
      calls.push(text);
      return countO200k(text);
    };
    return { calls, enc: { countTokens } };
  };

  it('gives the encoder its count, and counts a text again only once it has left', () => {
    const { calls, enc } = counting();
    const memo = new CountMemo(enc, { maxChars: 1_000, maxEntries: 3, maxTextChars: 100 });
    for (const text of ['system', 'You are brief.', 'system', 'You are brief.']) expect(memo.count(text)).toBe(countO200k(text));
    expect(calls).toEqual(['system', 'You are brief.']);
    // Two more texts: the first in ("system") leaves, the other three stay.
    memo.count('b');
    memo.count('You are brief.');
    memo.count('c');
    expect(memo.size.entries).toBe(3);
    memo.count('You are brief.');
    memo.count('system');
    expect(calls).toEqual(['system', 'You are brief.', 'b', 'c', 'system']);
  });

  it('keeps within its character budget and does not keep a text longer than its limit', () => {
    const { calls, enc } = counting();
    const memo = new CountMemo(enc, { maxChars: 50, maxEntries: 100, maxTextChars: 20 });
    for (let i = 0; i < 10; i++) memo.count(`message number ${i}`.padEnd(20, '.'));
    expect(memo.size.chars).toBeLessThanOrEqual(50);
    expect(memo.size.entries).toBe(2);
    const long = 'x'.repeat(21);
    memo.count(long);
    memo.count(long);
    expect(calls.filter((t) => t === long)).toHaveLength(2);
    expect(memo.size.entries).toBe(2);
  });

  it('backs countMessageTokens: the same counts on the first and later calls, within its limits', () => {
    const message = { role: 'system', content: 'You are ChatMeter, a concise and helpful assistant.' };
    const first = countMessageTokens('gpt-4o', message);
    expect(countMessageTokens('gpt-4o', message)).toBe(first);
    expect(first).toBe(computeChatCompletionTokenCount({ messages: [message] }, (t) => (t ? countO200k(t) : 0)) - REPLY_PRIMING_TOKENS);
    const size = tokenMemoSize('o200k_base');
    expect(size.entries).toBeGreaterThan(0);
    expect(size.chars).toBeLessThanOrEqual(TOKEN_MEMO_LIMITS.maxChars);
  });
});
