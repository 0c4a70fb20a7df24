/**
 * The offline demo model: what answers when no OPENAI_API_KEY is configured. It streams a
 * canned but prompt-dependent answer through the same interface as the real provider and
 * reports usage counted with the real tokenizer, so metering, quotas and costs behave
 * exactly as they would with a model. Deterministic: the same messages give the same text.
 */
import { countTextTokens, estimatePromptTokens, truncateToTokens } from '../tokens.ts';
import type { ChatMessage, ChatProvider, ProviderEvent, ProviderRequest } from './provider.ts';

export interface DemoProviderOptions {
  /** Pause between streamed chunks (default 15 ms; 0 in tests). */
  delayMs?: number;
}

export const DEMO_PROVIDER_LABEL = 'demo model';
const DEFAULT_DELAY_MS = 15;

export function createDemoProvider(options: DemoProviderOptions = {}): ChatProvider {
  const delayMs = options.delayMs ?? DEFAULT_DELAY_MS;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error('createDemoProvider: delayMs must be >= 0');
  return {
    id: 'demo',
    isDemo: true,
    label: DEMO_PROVIDER_LABEL,
    stream: (request) => streamDemo(request, delayMs),
  };
}

async function* streamDemo(request: ProviderRequest, delayMs: number): AsyncGenerator<ProviderEvent, void, undefined> {
  const { signal, model } = request;
  signal.throwIfAborted();
  const promptTokens = estimatePromptTokens(model, request.messages);
  const full = demoReply(request.messages);
  const reply = truncateToTokens(model, full, request.maxTokens);

  let streamed = '';
  for (const [index, chunk] of splitIntoChunks(reply).entries()) {
    if (index > 0 && delayMs > 0) await sleep(delayMs, signal);
    signal.throwIfAborted();
    streamed += chunk;
    yield { type: 'delta', text: chunk };
  }
  signal.throwIfAborted();
  yield { type: 'finish', reason: reply.length < full.length ? 'length' : 'stop' };
  yield { type: 'usage', promptTokens, completionTokens: countTextTokens(model, streamed) };
}

/** 1 to 3 words per chunk, in a pattern that depends only on the text. */
export function splitIntoChunks(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
  const chunks: string[] = [];
  let i = 0;
  while (i < words.length) {
    const size = 1 + (hash(words[i]!) % 3);
    chunks.push(words.slice(i, i + size).join(''));
    i += size;
  }
  return chunks;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
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

/** FNV-1a: a stable choice among variants for a given prompt. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function pick<T>(options: readonly T[], seed: number): T {
  return options[seed % options.length]!;
}

const FOOTER = '_(Offline demo model: canned answer. Set OPENAI_API_KEY to chat with a real model.)_';

const FILLER =
  /^(?:(?:hi|hello|hey)[,!.\s]+)?(?:please\s+|can you\s+|could you\s+|would you\s+|will you\s+|i want to know\s+|i'd like to know\s+|tell me\s+|explain\s+|describe\s+|what(?:'s| is| are)\s+|how (?:do|does|can|should) (?:i|you|we)\s+|why (?:is|are|does|do)\s+|about\s+|the\s+|a\s+|an\s+)+/i;

/** A short topic phrase from the user's message, for echoing back. */
export function topicOf(message: string): string {
  const firstSentence = message.trim().split(/(?<=[.?!])\s|\n/)[0] ?? '';
  const stripped = firstSentence
    .replace(FILLER, '')
    .replace(/[?.!,;:]+$/, '')
    .trim();
  const words = (stripped || firstSentence).split(/\s+/).filter(Boolean).slice(0, 10);
  const topic = words.join(' ').slice(0, 80).replace(/[`*_]/g, '');
  return topic || 'your question';
}

const GREETING = /^(?:hi|hello|hey|hiya|howdy|greetings|yo|good (?:morning|afternoon|evening)|bonjour|hola|hallo)\b/i;
const THANKS = /\b(?:thanks|thank you|thx|cheers)\b/i;
const ABOUT_MODEL = /\b(?:who are you|what are you|are you (?:a |an )?(?:real|bot|ai|human|gpt|model)|which model|what model|demo model)\b/i;
const CHATMETER =
  /\b(?:chatmeter|pricing|price|prices|cost|costs|billing|bill|invoice|plan|plans|quota|quotas|limit|limits|credit|credits|tokens?|usage|meter(?:ed|ing)?|subscription|upgrade)\b/i;
// Asking for a table or for Markdown shows what replies can hold (tables, task lists, code).
const MARKDOWN = /\b(?:markdown|tables?|checklist|task list)\b/i;
const CODE =
  /\b(?:code|function|script|snippet|implement|regex|class|program|algorithm|python|javascript|typescript|sql|bash|shell|golang|rust|java|fizzbuzz|fibonacci)\b/i;

type Language = 'python' | 'typescript' | 'javascript' | 'sql' | 'bash';

function languageOf(text: string): Language {
  const t = text.toLowerCase();
  if (/\bpython\b|\.py\b/.test(t)) return 'python';
  if (/\bsql\b|\bquery\b|postgres/.test(t)) return 'sql';
  if (/\bbash\b|\bshell\b|\bcommand line\b/.test(t)) return 'bash';
  if (/\bjavascript\b|\bnode(?:\.js)?\b|\bjs\b/.test(t)) return 'javascript';
  return 'typescript';
}

function codeAnswer(message: string, seed: number): string {
  const language = languageOf(message);
  const topic = topicOf(message);
  const fib = /fibonacci/i.test(message);
  const snippets: Record<Language, string> = {
    python: fib
      ? 'def fibonacci(n: int) -> list[int]:\n    """First n Fibonacci numbers."""\n    seq = [0, 1]\n    while len(seq) < n:\n        seq.append(seq[-1] + seq[-2])\n    return seq[:n]\n\nprint(fibonacci(10))'
      : `def solve(data: list[str]) -> list[str]:\n    """${topic}"""\n    result = []\n    for item in data:\n        item = item.strip()\n        if item:\n            result.append(item)\n    return result\n\nprint(solve([" a ", "", "b"]))`,
    typescript: fib
      ? 'export function fibonacci(n: number): number[] {\n  const seq = [0, 1];\n  while (seq.length < n) seq.push(seq[seq.length - 1]! + seq[seq.length - 2]!);\n  return seq.slice(0, n);\n}\n\nconsole.log(fibonacci(10));'
      : `// ${topic}\nexport function solve(items: readonly string[]): string[] {\n  return items.map((item) => item.trim()).filter((item) => item.length > 0);\n}\n\nconsole.log(solve([' a ', '', 'b']));`,
    javascript: fib
      ? 'function fibonacci(n) {\n  const seq = [0, 1];\n  while (seq.length < n) seq.push(seq.at(-1) + seq.at(-2));\n  return seq.slice(0, n);\n}\n\nconsole.log(fibonacci(10));'
      : `// ${topic}\nfunction solve(items) {\n  return items.map((item) => item.trim()).filter(Boolean);\n}\n\nconsole.log(solve([' a ', '', 'b']));`,
    sql: `-- ${topic}\nSELECT user_id,\n       COUNT(*)            AS messages,\n       SUM(total_tokens)   AS tokens\nFROM usage_events\nWHERE created_at >= now() - interval '30 days'\nGROUP BY user_id\nORDER BY tokens DESC\nLIMIT 10;`,
    bash: `#!/usr/bin/env bash\n# ${topic}\nset -euo pipefail\n\nfor file in "$@"; do\n  printf '%s: %s lines\\n' "$file" "$(wc -l < "$file")"\ndone`,
  };
  const intro = pick(
    [
      `Here is a small ${language} sketch for **${topic}**:`,
      `A starting point in ${language} for **${topic}**:`,
      `Sure. A minimal ${language} version of **${topic}** could look like this:`,
    ],
    seed,
  );
  const outro = pick(
    [
      'Adapt the names and add tests for the edge cases (empty input, very large input).',
      'Run it once with sample data, then cover the edge cases with a couple of unit tests.',
    ],
    seed >>> 3,
  );
  return `${intro}\n\n\`\`\`${language}\n${snippets[language]}\n\`\`\`\n\n${outro}\n\n${FOOTER}`;
}

function markdownAnswer(message: string): string {
  const topic = topicOf(message);
  return [
    `A small comparison for **${topic}**:`,
    '',
    '| Model | Speed | Prompt price |',
    '| :--- | :---: | ---: |',
    '| `gpt-4o-mini` | fast | $0.15 / 1M tokens |',
    '| `gpt-4o` | slower | $2.50 / 1M tokens |',
    '',
    'A checklist:',
    '',
    '- [x] ~~Guess~~ measure the token counts',
    '- [ ] Compare the _monthly_ cost',
    '',
    '```ts',
    'const cost = (tokens: number, pricePerMillion: number) => (tokens * pricePerMillion) / 1_000_000;',
    '```',
    '',
    FOOTER,
  ].join('\n');
}

function chatMeterAnswer(message: string, seed: number): string {
  const t = message.toLowerCase();
  const lines: string[] = [
    pick(
      [
        'ChatMeter meters every message in tokens and turns them into a cost in micro-USD.',
        'In ChatMeter every request is measured in tokens and priced per million tokens.',
      ],
      seed,
    ),
    '',
  ];
  if (/\b(?:price|prices|pricing|cost|costs|bill|billing|invoice)\b/.test(t)) {
    lines.push(
      '- **Cost** = prompt tokens x input price + completion tokens x output price, rounded up to the next micro-USD.',
      '- This demo model is priced like gpt-4o-mini ($0.15 per 1M prompt tokens, $0.60 per 1M completion tokens), so the numbers you see are realistic.',
    );
  }
  if (/\b(?:limit|limits|quota|quotas|plan|plans|upgrade|subscription)\b/.test(t)) {
    lines.push(
      '- **Limits** come from your plan: requests per minute, messages per hour and per day, and tokens per month.',
      '- When a limit is reached you get a clear message with the time to wait, or an offer to upgrade or buy a token pack.',
    );
  }
  if (/\b(?:credit|credits|token|tokens|usage|meter|metered|metering)\b/.test(t) || lines.length === 2) {
    lines.push(
      '- **Usage**: tokens are reserved before the answer starts and settled on the actual count when it ends.',
      '- The usage page lists every request with its tokens and cost.',
    );
  }
  lines.push('', FOOTER);
  return lines.join('\n');
}

function genericAnswer(message: string, seed: number): string {
  const topic = topicOf(message);
  const isQuestion = /\?\s*$/.test(message.trim());
  const opening = isQuestion
    ? pick(
        [
          `Good question about **${topic}**. Here is how I would approach it:`,
          `Let's break **${topic}** down into a few steps:`,
          `A practical way to think about **${topic}**:`,
        ],
        seed,
      )
    : pick([`Here are a few thoughts on **${topic}**:`, `Some pointers on **${topic}**:`, `Let's look at **${topic}** step by step:`], seed);
  const steps = pick(
    [
      [
        '1. **Pin down the goal**: what would a good outcome look like?',
        '2. **Gather the facts** you already have and note what is missing.',
        '3. **Try the simplest option first**, then refine it.',
      ],
      [
        '1. **Start from the essentials**: the two or three ideas everything else builds on.',
        '2. **Look at a concrete example** before the general rule.',
        '3. **Check the result** against your original question.',
      ],
      [
        '1. **Split it into smaller parts** that can be handled one at a time.',
        '2. **Compare two or three alternatives** and their trade-offs.',
        '3. **Decide, then review** once you have more information.',
      ],
    ],
    seed >>> 4,
  );
  return [opening, '', ...steps, '', FOOTER].join('\n');
}

/** The demo's answer to a conversation: depends only on the last user message. */
export function demoReply(messages: readonly ChatMessage[]): string {
  const last =
    [...messages]
      .reverse()
      .find((m) => m.role === 'user')
      ?.content.trim() ?? '';
  const seed = hash(last);
  if (!last) return `Ask me anything to try ChatMeter.\n\n${FOOTER}`;
  if (ABOUT_MODEL.test(last)) {
    return [
      "I'm ChatMeter's **demo model**: an offline stand-in that answers from templates, so you can try the app without an API key.",
      '',
      'Everything around me is real: messages are counted with the real tokenizer, metered against your plan and priced like gpt-4o-mini.',
      'An operator can connect a real model by setting `OPENAI_API_KEY` (and optionally `OPENAI_BASE_URL` for Ollama, vLLM or LM Studio).',
    ].join('\n');
  }
  if (GREETING.test(last) && last.length <= 60) {
    return [
      pick(['Hello! 👋', 'Hi there!', 'Hey! Nice to meet you.'], seed),
      '',
      "I'm the offline demo model of ChatMeter. Try asking me about pricing and limits, or ask for a code snippet.",
    ].join('\n');
  }
  if (THANKS.test(last) && last.length <= 80) {
    return pick(["You're welcome! Anything else?", 'Glad it helped. What next?', 'Any time!'], seed);
  }
  if (MARKDOWN.test(last)) return markdownAnswer(last);
  if (CODE.test(last)) return codeAnswer(last, seed);
  if (CHATMETER.test(last)) return chatMeterAnswer(last, seed);
  return genericAnswer(last, seed);
}
