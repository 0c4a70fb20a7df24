// The personal monthly spending limit as the Usage tab edits it: a dollar amount typed by
// the user to integer micro-USD (shared/src/money.ts, exact, never through a float), and
// back for the input. Pure, so the rules are tested without a browser.
import { formatMicroUsd, usdToMicros } from '@chatmeter/shared/money';

export type SpendLimitParse = { ok: true; micros: number | null } | { ok: false; error: string };

/** A dollar amount with an optional "$" in front; no sign, no thousands separators, no exponent. */
const AMOUNT = /^\$?\s*(\d*\.?\d*)$/;

/**
 * "12.50" -> 12_500_000; "" -> null (no limit). A limit must be above $0 and use at most
 * 6 decimals (one micro-dollar is the smallest step the meter counts).
 */
export function parseSpendLimit(text: string): SpendLimitParse {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, micros: null };
  if (/^-/.test(trimmed)) return { ok: false, error: 'Enter an amount above $0, or remove the limit.' };
  if (trimmed.includes(',')) return { ok: false, error: 'Write the amount without commas, such as 1000.50.' };
  const match = AMOUNT.exec(trimmed);
  const digits = match?.[1] ?? '';
  if (!match || !/\d/.test(digits)) return { ok: false, error: 'Enter an amount in dollars, such as 10 or 2.50.' };
  let micros: number;
  try {
    // "5." and ".5" are amounts people type; the shared parser wants digits on both sides.
    micros = usdToMicros(`${digits.startsWith('.') ? '0' : ''}${digits.endsWith('.') ? digits.slice(0, -1) : digits}`);
  } catch (error) {
    if (error instanceof RangeError && /finer than one micro-USD/.test(error.message)) {
      return { ok: false, error: 'Use at most 6 decimals: the smallest step is $0.000001.' };
    }
    return { ok: false, error: 'That amount is too large.' };
  }
  if (micros <= 0) return { ok: false, error: 'Enter an amount above $0, or remove the limit.' };
  return { ok: true, micros };
}

/** The input's text for a saved limit: 12_500_000 -> "12.50", 123 -> "0.000123", null -> "". */
export function spendLimitInputValue(micros: number | null): string {
  if (micros === null) return '';
  return formatMicroUsd(micros).replace('$', '').replaceAll(',', '');
}

/** "$4.87 left to spend this period", or null when no dollar limit applies. */
export function describeRemainingBudget(remainingMicroUsd: number | null): string | null {
  if (remainingMicroUsd === null) return null;
  return remainingMicroUsd <= 0 ? 'Nothing left to spend this period.' : `${formatMicroUsd(remainingMicroUsd)} left to spend this period.`;
}
