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

export function limitTitle(error: Pick<ApiError, 'reason'>): string {
  return error.reason === 'credits_exhausted' ? 'Your credits are used up' : 'You have reached your limit';
}

export function serviceTitle(error: Pick<ApiError, 'reason'>): string {
  switch (error.reason) {
    case 'kill_switch':
      return 'Chat is paused';
    case 'global_cap':
      return 'Daily capacity reached';
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
