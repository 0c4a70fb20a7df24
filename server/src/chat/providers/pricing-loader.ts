/**
 * PRICING_FILE: a JSON array of model prices (chat models in the `ZModelPrice` shape, TTS
 * models as `{ model, label?, kind: "tts", microsPerMillionChars }`) that REPLACES the
 * built-in tables (like PLANS_FILE for plans): a deployment lists exactly the models it
 * sells, and a model missing from the file is not priced, hence not served.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_PRICING_TABLE,
  DEFAULT_TTS_PRICING_TABLE,
  PricingTableError,
  findModelPrice,
  findTtsModelPrice,
  parsePricing,
  type TPricing,
  type TPricingTable,
} from '@chatmeter/shared/pricing';

export class PricingFileError extends Error {
  override readonly name = 'PricingFileError';
  readonly file: string;

  constructor(file: string, problem: string, cause?: unknown) {
    super(`PRICING_FILE ${file}: ${problem}`, cause === undefined ? undefined : { cause });
    this.file = file;
  }
}

export interface LoadPricingOptions {
  /** The PRICING_FILE value; when absent the built-in tables are returned. */
  pricingFile?: string | undefined;
  /** Directory a relative `pricingFile` is resolved against (default: process.cwd()). */
  baseDir?: string;
  /**
   * Models that must be priced, e.g. the plans' models or "demo" when no API key is set:
   * a start-up error is better than refusing every request later.
   */
  requiredModels?: readonly string[];
  /** TTS models that must be priced (TTS_MODEL with TTS_ENGINE=openai-compatible). */
  requiredTtsModels?: readonly string[];
}

/** Returns the chat and TTS prices, or throws a `PricingFileError` naming the file and the problem. */
export function loadPricing(options: LoadPricingOptions = {}): TPricing {
  const { pricingFile, requiredModels = [], requiredTtsModels = [] } = options;
  let pricing: TPricing = { chat: DEFAULT_PRICING_TABLE, tts: DEFAULT_TTS_PRICING_TABLE };
  let source = '';
  if (pricingFile) {
    source = path.resolve(options.baseDir ?? process.cwd(), pricingFile);
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      throw new PricingFileError(source, `cannot be read: ${(error as Error).message}`, error);
    }
    try {
      pricing = parsePricing(text);
    } catch (error) {
      if (error instanceof PricingTableError) {
        throw new PricingFileError(source, `is not a valid pricing table:\n  ${error.issues.join('\n  ')}`, error);
      }
      throw error;
    }
  }
  const missing = [
    ...requiredModels.filter((model) => !findModelPrice(pricing.chat, model)).map((m) => `"${m}"`),
    ...requiredTtsModels
      .filter((model) => !findTtsModelPrice(pricing.tts, model))
      .map((m) => `the TTS model "${m}" (an entry with "kind": "tts"; write "microsPerMillionChars": 0 for a free self-hosted engine)`),
  ];
  if (missing.length > 0) {
    const list = missing.join(', ');
    if (!pricingFile) {
      throw new PricingFileError('(not set)', `the built-in pricing table has no price for ${list}; add them in a PRICING_FILE`);
    }
    throw new PricingFileError(source, `has no price for ${list}`);
  }
  return pricing;
}

/** The chat models' prices (see `loadPricing`). */
export function loadPricingTable(options: LoadPricingOptions = {}): TPricingTable {
  return loadPricing(options).chat;
}
