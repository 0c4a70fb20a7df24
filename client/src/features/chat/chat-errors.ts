// How the chat presents a refusal: each `reason` of the contract falls into one
// kind of notice. Pure, so the mapping is tested without a browser.
import type { ApiError, ApiErrorReason } from '../../lib/api-error.ts';

/**
 * `limit`: a quota or the credits are used up (banner, reset time, upgrade or sign up);
 * `wait`: too many requests right now (countdown); `service`: the service cannot answer
 * for everyone (notice); `inline`: something about this message or conversation
 * (explained next to the composer); `captcha`: the human check must be redone.
 */
export type NoticeKind = 'limit' | 'wait' | 'service' | 'inline' | 'captcha' | 'error';

const KIND: Partial<Record<ApiErrorReason, NoticeKind>> = {
  quota_exhausted: 'limit',
  credits_exhausted: 'limit',
  rate_limited: 'wait',
  provider_busy: 'wait',
  global_cap: 'service',
  kill_switch: 'service',
  provider_unavailable: 'service',
  input_too_long: 'inline',
  conversation_too_long: 'inline',
  model_not_in_plan: 'inline',
  invalid_input: 'inline',
  captcha_required: 'captcha',
};

export function noticeKind(reason: ApiErrorReason): NoticeKind {
  return KIND[reason] ?? 'error';
}

/** `table[key]` for the table's own keys only (a limit named `constructor` is not Object's). */
function own(table: Record<string, string>, key: string | undefined): string | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The banner's title names the limit that refused (the server's `data.limit`). */
const LIMIT_TITLES: Record<string, string> = {
  messagesPerHour: "This hour's messages are used up",
  messagesPerDay: "Today's messages are used up",
  networkMessagesPerDay: "Today's guest messages from your network are used up",
  tokensPerMonth: "This period's tokens are used up",
  credits: 'Your credits are used up',
  ttsCharsPerDay: "Today's voice characters are used up",
  costPerMonth: "Your plan's monthly cost cap is reached",
  personalSpendLimit: 'Your own monthly spending limit is reached',
};

export function limitTitle(error: Pick<ApiError, 'reason' | 'limit'>): string {
  const byLimit = own(LIMIT_TITLES, error.limit);
  if (byLimit) return byLimit;
  return error.reason === 'credits_exhausted' ? 'Your credits are used up' : 'You have reached your limit';
}

/** "5 h 12 min", "29 min", "45 s", "26 d 5 h": how long until `date`, never rounded down to nothing. */
export function formatDuration(date: Date, now: Date): string {
  const seconds = Math.max(1, Math.ceil((date.getTime() - now.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

const utcTime = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });
const utcDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

/**
 * When the limit that refused resets, in UTC (the quotas' clock) and as a wait:
 * "Resets at 00:00 UTC (in 5 h 12 min)", or with the date when it is more than a day away.
 */
export function describeLimitReset(resetAt: Date, now: Date = new Date()): string {
  const at = utcTime.format(resetAt);
  const when = resetAt.getTime() - now.getTime() <= 24 * 3600 * 1000 ? `at ${at} UTC` : `on ${utcDate.format(resetAt)} at ${at} UTC`;
  return `Resets ${when} (in ${formatDuration(resetAt, now)})`;
}

/**
 * What the limit banner offers: `limit` (the user's own spending limit: raise or remove it on the
 * Usage tab), `topUp` (credits would help), `upgrade` (a bigger plan would).
 */
export function limitRemedy(error: Pick<ApiError, 'reason' | 'limit'>): 'limit' | 'topUp' | 'upgrade' {
  if (error.limit === 'personalSpendLimit') return 'limit';
  return error.reason === 'credits_exhausted' || error.limit === 'costPerMonth' ? 'topUp' : 'upgrade';
}

/** A cap on the whole service (`global_cap`), by the limit that refused. */
const GLOBAL_TITLES: Record<string, string> = {
  globalTokensPerDay: 'Daily capacity reached',
  globalCostPerDay: "The service's daily spending cap is reached",
  globalCostPerMonth: "The service's monthly spending cap is reached",
};

export function serviceTitle(error: Pick<ApiError, 'reason' | 'limit'>): string {
  switch (error.reason) {
    case 'kill_switch':
      return 'Chat is paused';
    case 'global_cap':
      return own(GLOBAL_TITLES, error.limit) ?? 'Daily capacity reached';
    default:
      return 'The AI provider is not answering';
  }
}

/** What the visitor can do about an inline refusal, in words. */
export function inlineHint(error: Pick<ApiError, 'reason'>, isGuest: boolean): string | null {
  switch (error.reason) {
    case 'input_too_long':
      return isGuest ? 'Shorten the message, or sign up for longer messages.' : 'Shorten the message, or upgrade for longer messages.';
    case 'conversation_too_long':
      return 'Start a new conversation to keep chatting.';
    case 'model_not_in_plan':
      return 'Pick another model from the list.';
    default:
      return null;
  }
}
