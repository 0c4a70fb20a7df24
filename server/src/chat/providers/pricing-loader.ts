/**
 * PRICING_FILE: a JSON array of model prices in the `ZPricingTable` shape that REPLACES the
 * built-in table (like PLANS_FILE for plans): a deployment lists exactly the models it
 * sells, and a model missing from the file is not priced, hence not served.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_PRICING_TABLE,
  PricingTableError,
  findModelPrice,
  parsePricingTable,
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
  /** The PRICING_FILE value; when absent the built-in table is returned. */
  pricingFile?: string;
  /** Directory a relative `pricingFile` is resolved against (default: process.cwd()). */
  baseDir?: string;
  /**
   * Models that must be priced, e.g. the plans' models or "demo" when no API key is set:
   * a start-up error is better than refusing every request later.
   */
  requiredModels?: readonly string[];
}

/** Returns the pricing table, or throws a `PricingFileError` naming the file and the problem. */
export function loadPricingTable(options: LoadPricingOptions = {}): TPricingTable {
  const { pricingFile, requiredModels = [] } = options;
  let table: TPricingTable = DEFAULT_PRICING_TABLE;
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
      table = parsePricingTable(text);
    } catch (error) {
      if (error instanceof PricingTableError) {
        throw new PricingFileError(source, `is not a valid pricing table:\n  ${error.issues.join('\n  ')}`, error);
      }
      throw error;
    }
  }
  const missing = requiredModels.filter((model) => !findModelPrice(table, model));
  if (missing.length > 0) {
    const list = missing.map((m) => `"${m}"`).join(', ');
    if (!pricingFile) {
      throw new PricingFileError('(not set)', `the built-in pricing table has no price for ${list}; add them in a PRICING_FILE`);
    }
    throw new PricingFileError(source, `has no price for ${list}`);
  }
  return table;
}
