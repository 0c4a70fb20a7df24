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
  quota_exhausted: 'PAYMENT_REQUIRED',
  credits_exhausted: 'PAYMENT_REQUIRED',
  global_cap: 'SERVICE_UNAVAILABLE',
  kill_switch: 'SERVICE_UNAVAILABLE',
  billing_not_configured: 'SERVICE_UNAVAILABLE',
  provider_unavailable: 'SERVICE_UNAVAILABLE',
  internal: 'INTERNAL_SERVER_ERROR',
} as const;

export type ErrorReason = keyof typeof ERROR_REASONS;
export type ErrorCode = (typeof ERROR_REASONS)[ErrorReason];

/** What the server puts in a tRPC error's `data` next to code and httpStatus. */
export interface ErrorData {
  reason: ErrorReason;
  retryAfterSeconds?: number;
  /** Set where a plan or a credit pack would help. */
  upgrade?: boolean;
  /** ISO time at which a quota resets, where one does. */
  resetAt?: string;
  fieldErrors?: Record<string, string[]>;
}
