// Display helpers of the Admin tab: pure functions, unit-tested.
import { formatMicroUsd, usdToMicros } from '@chatmeter/shared/money';
import type { TAuditAction } from '@chatmeter/shared/admin';

const dayLabel = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** '2026-06-20' -> '20 Jun' (the roll-ups' days are UTC days). */
export function formatDay(day: string): string {
  return dayLabel.format(new Date(`${day}T00:00:00Z`));
}

/** Dollars for headline figures: cents, or finer below a cent so small costs do not read as $0.00. */
export function formatCost(micros: number): string {
  if (micros !== 0 && Math.abs(micros) < 10_000) return formatMicroUsd(micros, { maxFractionDigits: 4 });
  return formatMicroUsd(micros, { maxFractionDigits: 2 });
}

/** 1234567 -> '1.2M', 12345 -> '12.3k', 999 -> '999'. */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${trim(value / 1e9)}B`;
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  return new Intl.NumberFormat('en-US').format(value);
}

function trim(value: number): string {
  return value.toFixed(1).replace(/\.0$/, '');
}

/** 0.8534 -> '85 %'. */
export function formatShare(fraction: number): string {
  return `${Math.round(fraction * 100)} %`;
}

export const AUDIT_ACTION_LABEL: Record<TAuditAction, string> = {
  'credits.adjust': 'Adjusted credits',
  'user.set_plan': 'Changed plan',
  'user.set_blocked': 'Blocked / unblocked',
  'user.set_role': 'Changed role',
  'user.export': 'Exported data',
  'user.delete': 'Deleted account',
  'account.delete': 'Deleted own account',
  'settings.update': 'Changed settings',
};

export function auditActionLabel(action: string): string {
  return (AUDIT_ACTION_LABEL as Record<string, string>)[action] ?? action;
}

/** The settings a null value sends back to the environment's default. */
const DEFAULTABLE = new Set(['maxTokensPerDay', 'maxCostPerDayMicroUsd', 'maxCostPerMonthMicroUsd']);
const MICRO_USD_KEYS = new Set(['maxCostPerDayMicroUsd', 'maxCostPerMonthMicroUsd']);

function describeValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return DEFAULTABLE.has(key) ? 'default' : '–';
  if (typeof value === 'number' && MICRO_USD_KEYS.has(key)) return formatCost(value);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return new Intl.NumberFormat('en-US').format(value);
  return String(value);
}

const KEY_LABEL: Record<string, string> = {
  balanceTokens: 'credits',
  plan: 'plan',
  role: 'role',
  blocked: 'blocked',
  killSwitch: 'kill switch',
  maxTokensPerDay: 'daily cap',
  maxCostPerDayMicroUsd: 'daily dollar cap',
  maxCostPerMonthMicroUsd: 'monthly dollar cap',
};

/**
 * What changed, for one audit row: the keys present on both sides whose value
 * differs ('plan: free → pro'), else the after side's own facts.
 */
export function describeChange(before: unknown, after: unknown): string[] {
  const b = isRecord(before) ? before : {};
  const a = isRecord(after) ? after : {};
  const lines: string[] = [];
  for (const key of Object.keys(KEY_LABEL)) {
    if (!(key in a) && !(key in b)) continue;
    if (key in a && key in b && JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    lines.push(`${KEY_LABEL[key]}: ${describeValue(key, b[key])} → ${describeValue(key, a[key])}`);
  }
  if (typeof a.appliedTokens === 'number' && typeof a.requestedTokens === 'number' && a.appliedTokens !== a.requestedTokens) {
    lines.push(`asked ${describeValue('', a.requestedTokens)}, applied ${describeValue('', a.appliedTokens)}`);
  }
  if (lines.length === 0) {
    for (const [key, value] of Object.entries(a)) {
      if (key === 'deletedAt' || key === 'ledgerEntryId') continue;
      lines.push(`${key}: ${describeValue(key, value)}`);
    }
  }
  return lines;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Margin as a signed amount with a word, for the projection panel. */
export function describeMargin(marginMicros: number): { text: string; tone: 'good' | 'bad' } {
  return marginMicros >= 0 ? { text: `${formatCost(marginMicros)} margin`, tone: 'good' } : { text: `${formatCost(-marginMicros)} short`, tone: 'bad' };
}

/** The largest dollar cap the form takes (the server's bound is 1e15 micro-USD). */
const MAX_CAP_USD_DIGITS = 9;
const CAP_USD = new RegExp(`^\\d{1,${MAX_CAP_USD_DIGITS}}(?:\\.\\d{1,6})?$`);

/**
 * A dollar cap typed by an admin ("$1,250.50", "0.25") as micro-USD; empty is null (the
 * environment's default). Whole micro-USD only, never negative.
 */
export function parseCapUsd(text: string): { ok: true; micros: number | null } | { ok: false; error: string } {
  const clean = text.replace(/[$,_\s]/g, '');
  if (clean === '') return { ok: true, micros: null };
  if (!CAP_USD.test(clean)) return { ok: false, error: 'Enter an amount in dollars (e.g. 25 or 0.50), or leave it empty for the default' };
  return { ok: true, micros: usdToMicros(clean) };
}

/** A cap in micro-USD as the form shows it: plain dollars, no symbol or separators ("1250.5"). */
export function capUsdText(micros: number | null): string {
  if (micros === null) return '';
  const whole = Math.floor(micros / 1_000_000);
  const fraction = String(micros % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : String(whole);
}
