import { z } from 'zod';

/**
 * Model prices and limits. Prices are integer micro-USD per million tokens (so $0.15 / 1M
 * tokens is 150_000); `costMicroUsd` in money.ts turns them into a charge.
 *
 * A price that is missing or negative is a configuration error, never a free or negative
 * charge: a free model (e.g. a local Ollama one) must say `0` explicitly.
 */

const missingOrWrongNumber = (what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `${what} is required (a missing price is not free: write 0 explicitly for a free model)` : `${what} must be a number`;

const microsPerMillion = (what: string) =>
  z
    .number({ error: missingOrWrongNumber(what) })
    .int(`${what} must be an integer number of micro-USD per million tokens`)
    .nonnegative(`${what} must not be negative`);

const tokenLimit = (what: string) =>
  z
    .number({ error: missingOrWrongNumber(what) })
    .int(`${what} must be an integer number of tokens`)
    .positive(`${what} must be positive`);

const ZModelId = z
  .string({ error: 'model is required' })
  .min(1, 'model must not be empty')
  .max(200, 'model id is too long')
  .regex(/^\S+$/, 'model must not contain whitespace');

export const ZModelPrice = z
  .object({
    /** The id sent to the provider (`model` in the Chat Completions request). */
    model: ZModelId,
    label: z.string().min(1).max(100).optional(),
    /** Entries without `kind` are chat models; anything but "chat" or "tts" is a typo, not a chat model. */
    kind: z.literal('chat', { error: 'kind must be "chat" or "tts"' }).optional(),
    inputMicrosPerMillion: microsPerMillion('inputMicrosPerMillion'),
    outputMicrosPerMillion: microsPerMillion('outputMicrosPerMillion'),
    /** Cached prompt tokens; when absent they are charged at `inputMicrosPerMillion`. */
    cachedInputMicrosPerMillion: microsPerMillion('cachedInputMicrosPerMillion').optional(),
    /** Prompt + completion tokens the model accepts in one request. */
    contextWindow: tokenLimit('contextWindow'),
    /** Largest completion the model may produce (for a reasoning model: reasoning included). */
    maxOutputTokens: tokenLimit('maxOutputTokens'),
    /**
     * The model reasons before answering, and the provider bills the reasoning as output.
     * Its completion cap is sent as `max_completion_tokens`, which bounds reasoning and
     * answer together, so the reservation (prompt + cap) covers both.
     */
    reasoning: z.boolean({ error: 'reasoning must be true or false' }).optional(),
  })
  .refine((p) => p.maxOutputTokens <= p.contextWindow, {
    message: 'maxOutputTokens must not exceed contextWindow',
    path: ['maxOutputTokens'],
  });

export type TModelPrice = Omit<z.infer<typeof ZModelPrice>, 'kind'>;

/**
 * A text-to-speech model (`TTS_MODEL` with `TTS_ENGINE=openai-compatible`), priced per
 * character of input as OpenAI bills `tts-1`: integer micro-USD per million characters
 * ($15 / 1M is 15_000_000). A self-hosted engine (Kokoro, Piper...) says `0` explicitly.
 */
export const ZTtsModelPrice = z.object({
  /** The id sent as `model` in `POST /v1/audio/speech`. */
  model: ZModelId,
  label: z.string().min(1).max(100).optional(),
  kind: z.literal('tts'),
  microsPerMillionChars: z
    .number({ error: missingOrWrongNumber('microsPerMillionChars') })
    .int('microsPerMillionChars must be an integer number of micro-USD per million characters')
    .nonnegative('microsPerMillionChars must not be negative'),
});

export type TTtsModelPrice = z.infer<typeof ZTtsModelPrice>;
export type TTtsPricingTable = readonly TTtsModelPrice[];

export const ZPricingTable = z
  .array(ZModelPrice)
  .min(1, 'the pricing table must list at least one model')
  .superRefine((table, ctx) => {
    const seen = new Map<string, number>();
    table.forEach((entry, index) => {
      const first = seen.get(entry.model);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `duplicate model id "${entry.model}" (first at index ${first})`,
          path: [index, 'model'],
        });
      } else {
        seen.set(entry.model, index);
      }
    });
  });

export type TPricingTable = z.infer<typeof ZPricingTable>;

export class PricingTableError extends Error {
  override readonly name = 'PricingTableError';
  /** One line per problem, each starting with the JSON path, e.g. `[2].inputMicrosPerMillion: ...`. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid pricing table: ${issues.join('; ')}`);
    this.issues = issues;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
}

export interface TPricing {
  chat: TPricingTable;
  tts: TTtsPricingTable;
}

/**
 * Validates a pricing file given as parsed JSON or as JSON text: one array holding chat
 * models (`kind` absent or "chat") and TTS models (`kind: "tts"`), model ids unique across
 * both, at least one chat model. Throws a `PricingTableError` listing every problem;
 * returns both tables (unknown fields dropped, `kind` dropped from chat entries).
 */
export function parsePricing(input: unknown): TPricing {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input) as unknown;
    } catch (error) {
      throw new PricingTableError([`not valid JSON: ${(error as Error).message}`]);
    }
  }
  const top = z
    .array(z.unknown(), { error: 'the pricing table must be a JSON array' })
    .min(1, 'the pricing table must list at least one model')
    .safeParse(value);
  if (!top.success) throw new PricingTableError(top.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`));
  const issues: string[] = [];
  const chat: TModelPrice[] = [];
  const tts: TTtsModelPrice[] = [];
  const seen = new Map<string, number>();
  top.data.forEach((entry, index) => {
    const isTts = typeof entry === 'object' && entry !== null && (entry as { kind?: unknown }).kind === 'tts';
    const result = isTts ? ZTtsModelPrice.safeParse(entry) : ZModelPrice.safeParse(entry);
    if (!result.success) {
      issues.push(...result.error.issues.map((issue) => `${formatPath([index, ...issue.path])}: ${issue.message}`));
      return;
    }
    const first = seen.get(result.data.model);
    if (first !== undefined) {
      issues.push(`${formatPath([index, 'model'])}: duplicate model id "${result.data.model}" (first at index ${first})`);
      return;
    }
    seen.set(result.data.model, index);
    if (isTts) tts.push(result.data as TTtsModelPrice);
    else {
      const { kind: _kind, ...price } = result.data as z.infer<typeof ZModelPrice>;
      chat.push(price);
    }
  });
  if (issues.length === 0 && chat.length === 0) issues.push('(root): the pricing table must list at least one chat model');
  if (issues.length > 0) throw new PricingTableError(issues);
  return { chat, tts };
}

/** The chat models of a pricing file (see `parsePricing`; TTS entries are accepted and left out). */
export function parsePricingTable(input: unknown): TPricingTable {
  return parsePricing(input).chat;
}

// Shared by every caller: a stray mutation must fail loudly, not reprice everyone.
function deepFreeze(table: TPricingTable): TPricingTable {
  for (const entry of table) Object.freeze(entry);
  return Object.freeze(table) as TPricingTable;
}

/** The offline demo model: priced like gpt-4o-mini so the demo shows realistic costs. */
export const DEMO_MODEL_ID = 'demo';

/**
 * Built-in table. `contextWindow` and `maxOutputTokens` are copied from gpt-tokenizer 4.0.0's
 * model specs (`import models from 'gpt-tokenizer/models'`: `context_window`,
 * `max_output_tokens`). Its `price_data` is not used as is: for these models it is either
 * absent (gpt-4o-mini, gpt-4.1-mini, gpt-4.1-nano) or the legacy GPT-4 Turbo figure of
 * $10 / $30 (gpt-4o, gpt-4.1), so prices are OpenAI's published list prices per 1M tokens.
 * server/src/chat/providers/pricing-source.test.ts pins every figure to gpt-tokenizer's data
 * and fails when either side changes; docs/providers.md has the details.
 *
 * The reasoning models (o-series, gpt-5 family) carry OpenAI's published standard-tier prices
 * as listed on its pricing page (platform.openai.com/docs/pricing), checked 2026-12-04 against
 * several copies of that page: o3 after its June 2025 price cut, o1-mini after its January 2025
 * cut. Reasoning tokens are billed as output at `outputMicrosPerMillion`.
 */
export const DEFAULT_PRICING_TABLE: TPricingTable = deepFreeze(
  parsePricingTable([
    {
      model: 'gpt-4o-mini',
      label: 'GPT-4o mini',
      inputMicrosPerMillion: 150_000, // $0.15
      cachedInputMicrosPerMillion: 75_000, // $0.075
      outputMicrosPerMillion: 600_000, // $0.60
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
    },
    {
      model: 'gpt-4o',
      label: 'GPT-4o',
      inputMicrosPerMillion: 2_500_000, // $2.50
      cachedInputMicrosPerMillion: 1_250_000, // $1.25
      outputMicrosPerMillion: 10_000_000, // $10.00
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
    },
    {
      model: 'gpt-4.1-nano',
      label: 'GPT-4.1 nano',
      inputMicrosPerMillion: 100_000, // $0.10
      cachedInputMicrosPerMillion: 25_000, // $0.025
      outputMicrosPerMillion: 400_000, // $0.40
      contextWindow: 1_047_576,
      maxOutputTokens: 32_768,
    },
    {
      model: 'gpt-4.1-mini',
      label: 'GPT-4.1 mini',
      inputMicrosPerMillion: 400_000, // $0.40
      cachedInputMicrosPerMillion: 100_000, // $0.10
      outputMicrosPerMillion: 1_600_000, // $1.60
      contextWindow: 1_047_576,
      maxOutputTokens: 32_768,
    },
    {
      model: 'gpt-4.1',
      label: 'GPT-4.1',
      inputMicrosPerMillion: 2_000_000, // $2.00
      cachedInputMicrosPerMillion: 500_000, // $0.50
      outputMicrosPerMillion: 8_000_000, // $8.00
      contextWindow: 1_047_576,
      maxOutputTokens: 32_768,
    },
    {
      model: 'o1',
      label: 'o1',
      inputMicrosPerMillion: 15_000_000, // $15.00
      cachedInputMicrosPerMillion: 7_500_000, // $7.50
      outputMicrosPerMillion: 60_000_000, // $60.00
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
      reasoning: true,
    },
    {
      model: 'o1-mini',
      label: 'o1-mini',
      inputMicrosPerMillion: 1_100_000, // $1.10
      cachedInputMicrosPerMillion: 550_000, // $0.55
      outputMicrosPerMillion: 4_400_000, // $4.40
      contextWindow: 128_000,
      maxOutputTokens: 65_536,
      reasoning: true,
    },
    {
      model: 'o3',
      label: 'o3',
      inputMicrosPerMillion: 2_000_000, // $2.00
      cachedInputMicrosPerMillion: 500_000, // $0.50
      outputMicrosPerMillion: 8_000_000, // $8.00
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
      reasoning: true,
    },
    {
      model: 'o3-mini',
      label: 'o3-mini',
      inputMicrosPerMillion: 1_100_000, // $1.10
      cachedInputMicrosPerMillion: 550_000, // $0.55
      outputMicrosPerMillion: 4_400_000, // $4.40
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
      reasoning: true,
    },
    {
      model: 'o4-mini',
      label: 'o4-mini',
      inputMicrosPerMillion: 1_100_000, // $1.10
      cachedInputMicrosPerMillion: 275_000, // $0.275
      outputMicrosPerMillion: 4_400_000, // $4.40
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
      reasoning: true,
    },
    {
      model: 'gpt-5',
      label: 'GPT-5',
      inputMicrosPerMillion: 1_250_000, // $1.25
      cachedInputMicrosPerMillion: 125_000, // $0.125
      outputMicrosPerMillion: 10_000_000, // $10.00
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
      reasoning: true,
    },
    {
      model: 'gpt-5-mini',
      label: 'GPT-5 mini',
      inputMicrosPerMillion: 250_000, // $0.25
      cachedInputMicrosPerMillion: 25_000, // $0.025
      outputMicrosPerMillion: 2_000_000, // $2.00
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
      reasoning: true,
    },
    {
      model: 'gpt-5-nano',
      label: 'GPT-5 nano',
      inputMicrosPerMillion: 50_000, // $0.05
      cachedInputMicrosPerMillion: 5_000, // $0.005
      outputMicrosPerMillion: 400_000, // $0.40
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
      reasoning: true,
    },
    {
      model: DEMO_MODEL_ID,
      label: 'demo model',
      inputMicrosPerMillion: 150_000,
      cachedInputMicrosPerMillion: 75_000,
      outputMicrosPerMillion: 600_000,
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
    },
  ]),
);

/**
 * Built-in TTS prices: OpenAI's published list prices (platform.openai.com/docs/pricing,
 * "Transcription and speech generation"). tts-1 and tts-1-hd are billed per character.
 * gpt-4o-mini-tts is billed per token ($0.60 / 1M text input tokens, $12 / 1M audio output
 * tokens) with an estimated cost of $0.015 per minute of audio, the same estimate OpenAI
 * gives for tts-1; it is priced here like tts-1 per character, an estimate (a PRICING_FILE
 * can set another figure).
 */
export const DEFAULT_TTS_PRICING_TABLE: TTtsPricingTable = Object.freeze(
  [
    { model: 'tts-1', label: 'OpenAI TTS', kind: 'tts', microsPerMillionChars: 15_000_000 }, // $15.00 / 1M characters
    { model: 'tts-1-hd', label: 'OpenAI TTS HD', kind: 'tts', microsPerMillionChars: 30_000_000 }, // $30.00 / 1M characters
    { model: 'gpt-4o-mini-tts', label: 'GPT-4o mini TTS', kind: 'tts', microsPerMillionChars: 15_000_000 }, // ~$0.015 / minute, estimate
  ].map((entry) => Object.freeze(ZTtsModelPrice.parse(entry))),
);

export function findTtsModelPrice(table: TTtsPricingTable, model: string): TTtsModelPrice | undefined {
  return table.find((entry) => entry.model === model);
}

export function findModelPrice(table: readonly TModelPrice[], model: string): TModelPrice | undefined {
  return table.find((entry) => entry.model === model);
}

/** Like `findModelPrice`, but an unpriced model is an error: it must never be served for free. */
export function requireModelPrice(table: readonly TModelPrice[], model: string): TModelPrice {
  const price = findModelPrice(table, model);
  if (!price) throw new PricingTableError([`no price configured for model "${model}"`]);
  return price;
}
