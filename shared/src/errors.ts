// The error reasons of the API contract and the tRPC code each one maps to.
// Clients switch on `reason`; the code is what HTTP and tRPC clients see.
export const ERROR_REASONS = {
  invalid_input: 'BAD_REQUEST',
  input_too_long: 'BAD_REQUEST',
  conversation_too_long: 'BAD_REQUEST',
  unauthenticated: 'UNAUTHORIZED',
  forbidden_role: 'FORBIDDEN',
  blocked: 'FORBIDDEN',
  model_not_in_plan: 'FORBIDDEN',
  csrf: 'FORBIDDEN',
  captcha_required: 'FORBIDDEN',
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  rate_limited: 'TOO_MANY_REQUESTS',
  tts_busy: 'TOO_MANY_REQUESTS',
  /** The provider's admission gate is full (docs/providers.md): comes with retryAfterSeconds. */
  provider_busy: 'TOO_MANY_REQUESTS',
  quota_exhausted: 'PAYMENT_REQUIRED',
  credits_exhausted: 'PAYMENT_REQUIRED',
  global_cap: 'SERVICE_UNAVAILABLE',
  kill_switch: 'SERVICE_UNAVAILABLE',
  billing_not_configured: 'SERVICE_UNAVAILABLE',
  provider_unavailable: 'SERVICE_UNAVAILABLE',
  internal: 'INTERNAL_SERVER_ERROR',
} as const;

export type ErrorReason = keyof typeof ERROR_REASONS;

/**
 * The limit a `quota_exhausted`, `credits_exhausted`, `global_cap` or `rate_limited` refusal
 * names in `data.limit`. The `network…` ones apply to guests per client network. Named rate
 * limiters (sign-in, sign-up, magic links...) use their own names (`signInIp`, ...).
 */
export const LIMIT_NAMES = [
  'requestsPerMinute',
  'networkRequestsPerMinute',
  'messagesPerHour',
  'messagesPerDay',
  'networkMessagesPerDay',
  'tokensPerMonth',
  'credits',
  'ttsCharsPerDay',
  'globalTokensPerDay',
  'costPerMonth',
  'personalSpendLimit',
  'globalCostPerDay',
  'globalCostPerMonth',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** What the server puts in a tRPC error's `data` next to code and httpStatus. */
export interface ErrorData {
  reason: ErrorReason;
  retryAfterSeconds?: number;
  /** Set where a plan or a credit pack would help. */
  upgrade?: boolean;
  /** ISO time at which the limit that refused resets: the real wait (the latest, when several are exhausted). */
  resetAt?: string;
  /** Which limit refused (LIMIT_NAMES, or a named rate limiter). */
  limit?: string;
  fieldErrors?: Record<string, string[]>;
}
