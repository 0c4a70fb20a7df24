/**
 * Money is an integer number of micro-USD (1 USD = 1_000_000 micro-USD).
 *
 * Every amount that is stored, compared or charged stays an integer; floats appear only
 * in `microsToUsd`, which is for display. Amounts are plain `number`s restricted to safe
 * integers (|n| < 2^53, i.e. up to about 9 billion USD), which lets them cross JSON and
 * superjson untouched; the database keeps them in BigInt columns (`BigInt(n)` is exact).
 * Cents exist only at the Stripe boundary (`centsToMicros` / `microsToCents`).
 */

export const MICROS_PER_USD = 1_000_000;
export const MICROS_PER_CENT = 10_000;
/** Prices are quoted per million tokens, as OpenAI does. */
export const TOKENS_PER_PRICE_UNIT = 1_000_000;

function assertSafeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be a safe integer, got ${String(value)}`);
  }
}

function assertTokenCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}

const DECIMAL_USD = /^([+-])?(\d+)(?:\.(\d+))?$/;

/**
 * Converts a dollar amount to micro-USD exactly. Accepts a number or a decimal string
 * ("0.15", "12", "-3.000001"); anything finer than one micro-USD is an error rather than a
 * silent rounding, because this is used for configured prices and balances.
 */
export function usdToMicros(usd: number | string): number {
  let text: string;
  if (typeof usd === 'number') {
    if (!Number.isFinite(usd)) throw new RangeError(`USD amount must be finite, got ${String(usd)}`);
    // The shortest round-trip form is what the caller meant; toFixed(7) undoes exponent
    // notation (1e-7) and still shows a digit finer than a micro, which is then rejected.
    text = String(usd);
    if (/e/i.test(text)) text = usd.toFixed(7);
  } else {
    text = usd.trim();
  }
  const match = DECIMAL_USD.exec(text);
  if (!match) throw new RangeError(`Not a decimal USD amount: ${JSON.stringify(usd)}`);
  const [, sign, whole = '0', fraction = ''] = match;
  const significantFraction = fraction.replace(/0+$/, '');
  if (significantFraction.length > 6) {
    throw new RangeError(`USD amount ${JSON.stringify(usd)} is finer than one micro-USD`);
  }
  const micros = BigInt(whole) * 1_000_000n + BigInt(significantFraction.padEnd(6, '0') || '0');
  const signed = sign === '-' ? -micros : micros;
  if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`USD amount ${JSON.stringify(usd)} is out of range`);
  }
  return Number(signed);
}

const DECIMAL_OR_EXPONENT = /^([+-])?(\d+)?(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** An exact decimal: `units / 10^scale` dollars. */
interface ExactUsd {
  units: bigint;
  scale: number;
}

function exactUsd(usd: number | string): ExactUsd {
  if (typeof usd === 'number' && !Number.isFinite(usd)) throw new RangeError(`USD amount must be finite, got ${String(usd)}`);
  // A number is read in its shortest round-trip form: the decimal the JSON carried.
  const text = typeof usd === 'number' ? String(usd) : usd.trim();
  const match = DECIMAL_OR_EXPONENT.exec(text);
  if (!match || (match[2] === undefined && !match[3])) throw new RangeError(`Not a decimal USD amount: ${JSON.stringify(usd)}`);
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  const exp = Number(exponent);
  // Doubles stay within 1e-324..1e308; anything further is not an amount.
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 400) throw new RangeError(`USD amount ${JSON.stringify(usd)} is out of range`);
  let units = BigInt(`${whole}${fraction}` || '0');
  let scale = fraction.length - exp;
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: sign === '-' ? -units : units, scale };
}

/** Rounds an exact amount to micro-USD, half away from zero. */
function roundToMicros({ units, scale }: ExactUsd, what: string): number {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  let micros: bigint;
  if (scale <= 6) {
    micros = abs * 10n ** BigInt(6 - scale);
  } else {
    const unit = 10n ** BigInt(scale - 6);
    micros = (abs + unit / 2n) / unit;
  }
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`USD amount ${what} is out of range`);
  return negative && micros !== 0n ? -Number(micros) : Number(micros);
}

/**
 * A provider-reported dollar amount (OpenAI's Costs API sends floats such as 0.06 or
 * 0.0123456789) to integer micro-USD, rounded half away from zero. The rounding is done on
 * the decimal digits, never by multiplying a float: a number is read in its shortest
 * round-trip form (what the JSON said), so 0.5000005 gives 500001 where
 * `Math.round(0.5000005 * 1e6)` gives 500000. Exponent forms ("1e-7", "2.5E+3") are accepted.
 */
export function usdToMicrosRounded(usd: number | string): number {
  return roundToMicros(exactUsd(usd), JSON.stringify(usd));
}

/** The exact sum of several provider-reported amounts, rounded once (as `usdToMicrosRounded`). */
export function sumUsdToMicrosRounded(amounts: readonly (number | string)[]): number {
  const parts = amounts.map(exactUsd);
  const scale = Math.max(0, ...parts.map((p) => p.scale));
  const units = parts.reduce((sum, p) => sum + p.units * 10n ** BigInt(scale - p.scale), 0n);
  return roundToMicros({ units, scale }, `sum of ${amounts.length} amounts`);
}

/** For display and charts only: the result is a float and must not be fed back into sums. */
export function microsToUsd(micros: number): number {
  assertSafeInteger(micros, 'micro-USD amount');
  return micros / MICROS_PER_USD;
}

export function centsToMicros(cents: number): number {
  assertSafeInteger(cents, 'cent amount');
  const micros = cents * MICROS_PER_CENT;
  assertSafeInteger(micros, 'micro-USD amount');
  return micros;
}

/**
 * Converts to whole cents for Stripe, rounding toward +infinity so a usage charge is never
 * rounded down to less than what was consumed (a credit of -1.5 cents becomes -1 cent).
 */
export function microsToCents(micros: number): number {
  assertSafeInteger(micros, 'micro-USD amount');
  const remainder = micros % MICROS_PER_CENT; // same sign as micros, exact for integers
  const truncated = (micros - remainder) / MICROS_PER_CENT;
  return remainder > 0 ? truncated + 1 : truncated;
}

export interface FormatMicroUsdOptions {
  /**
   * Maximum digits after the decimal point, 2..6 (default 6, which is exact). Fewer digits
   * round half away from zero: display only.
   */
  maxFractionDigits?: number;
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * "$0.000123", "$0.15", "$1,234.50", "-$0.02": at least two decimals, trailing zeros beyond
 * the cents trimmed, exact by default (no float arithmetic involved).
 */
export function formatMicroUsd(micros: number, options: FormatMicroUsdOptions = {}): string {
  assertSafeInteger(micros, 'micro-USD amount');
  const maxDigits = options.maxFractionDigits ?? 6;
  if (!Number.isInteger(maxDigits) || maxDigits < 2 || maxDigits > 6) {
    throw new RangeError(`maxFractionDigits must be an integer from 2 to 6, got ${String(maxDigits)}`);
  }
  const negative = micros < 0;
  let abs = BigInt(Math.abs(micros));
  const step = 10n ** BigInt(6 - maxDigits);
  if (step > 1n) abs = ((abs + step / 2n) / step) * step;
  const whole = abs / 1_000_000n;
  let fraction = (abs % 1_000_000n).toString().padStart(6, '0').slice(0, maxDigits);
  fraction = fraction.replace(/0+$/, '').padEnd(2, '0');
  const sign = negative && abs !== 0n ? '-' : '';
  return `${sign}$${groupThousands(whole.toString())}.${fraction}`;
}

export interface TokenUsageForCost {
  promptTokens: number;
  completionTokens: number;
  /**
   * The part of `promptTokens` served from the provider's prompt cache (OpenAI reports it
   * in `prompt_tokens_details.cached_tokens`, included in `prompt_tokens`). Must not exceed
   * `promptTokens`.
   */
  cachedPromptTokens?: number;
}

export interface TokenPrice {
  inputMicrosPerMillion: number;
  outputMicrosPerMillion: number;
  /** Price of cached prompt tokens; when absent they are charged at the full input price. */
  cachedInputMicrosPerMillion?: number;
}

/**
 * The exact cost as a rational number of micro-USD: `numerator / 1_000_000`.
 * Exposed so tests and reports can compare the rounded charge with the exact one.
 */
export function exactCostNumerator(usage: TokenUsageForCost, price: TokenPrice): bigint {
  const { promptTokens, completionTokens } = usage;
  const cached = usage.cachedPromptTokens ?? 0;
  assertTokenCount(promptTokens, 'promptTokens');
  assertTokenCount(completionTokens, 'completionTokens');
  assertTokenCount(cached, 'cachedPromptTokens');
  if (cached > promptTokens) {
    throw new RangeError(`cachedPromptTokens (${cached}) exceeds promptTokens (${promptTokens})`);
  }
  assertTokenCount(price.inputMicrosPerMillion, 'inputMicrosPerMillion');
  assertTokenCount(price.outputMicrosPerMillion, 'outputMicrosPerMillion');
  const cachedRate = price.cachedInputMicrosPerMillion ?? price.inputMicrosPerMillion;
  assertTokenCount(cachedRate, 'cachedInputMicrosPerMillion');
  return (
    BigInt(promptTokens - cached) * BigInt(price.inputMicrosPerMillion) +
    BigInt(cached) * BigInt(cachedRate) +
    BigInt(completionTokens) * BigInt(price.outputMicrosPerMillion)
  );
}

/**
 * Cost of one request in integer micro-USD.
 *
 * Rounding rule: the three parts (uncached prompt, cached prompt, completion) are summed
 * exactly in BigInt as micro-USD x 1e6, and the TOTAL is rounded up once:
 *
 *   cost = ceil(( (prompt - cached) * input + cached * cachedInput + completion * output ) / 1e6)
 *
 * so the charge is never below the exact price and at most 1 micro-USD above it per request
 * (rounding each part separately could add up to 3).
 */
export function costMicroUsd(usage: TokenUsageForCost, price: TokenPrice): number {
  const numerator = exactCostNumerator(usage, price);
  const unit = BigInt(TOKENS_PER_PRICE_UNIT);
  const cost = (numerator + unit - 1n) / unit;
  if (cost > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError('cost exceeds the safe integer range');
  }
  return Number(cost);
}

/** TTS prices are quoted per million characters, as OpenAI does for tts-1. */
export const CHARS_PER_PRICE_UNIT = 1_000_000;

/**
 * Cost of one spoken clip in integer micro-USD: `ceil(chars * microsPerMillionChars / 1e6)`,
 * computed exactly in BigInt and rounded up once, as `costMicroUsd` does for tokens, so the
 * charge is never below the exact price and at most 1 micro-USD above it.
 */
export function ttsCostMicroUsd(chars: number, microsPerMillionChars: number): number {
  assertTokenCount(chars, 'chars');
  assertTokenCount(microsPerMillionChars, 'microsPerMillionChars');
  const unit = BigInt(CHARS_PER_PRICE_UNIT);
  const cost = (BigInt(chars) * BigInt(microsPerMillionChars) + unit - 1n) / unit;
  if (cost > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('cost exceeds the safe integer range');
  return Number(cost);
}
