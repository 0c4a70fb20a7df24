// Reads the machine-readable part of a failed tRPC call. The server's error
// formatter puts `reason` (and, where they apply, `retryAfterSeconds`, `upgrade`,
// `resetAt`, zod `fieldErrors`) into `error.data`; screens switch on `reason`
// and show the server's message, which is written for people.
import { TRPCClientError } from '@trpc/client';
import { ERROR_REASONS, type ErrorReason } from '@chatmeter/shared/errors';

/** `network`: no answer from the server, or an answer that was not tRPC's (a proxy's 502 page). */
export type ApiErrorReason = ErrorReason | 'network';

export interface ApiError {
  reason: ApiErrorReason;
  message: string;
  /** The tRPC code, e.g. TOO_MANY_REQUESTS; absent for network failures. */
  code?: string;
  httpStatus?: number;
  retryAfterSeconds?: number;
  upgrade?: boolean;
  resetAt?: Date;
  /** Which limit refused (`messagesPerDay`, `requestsPerMinute`, ...: shared/src/errors.ts LIMIT_NAMES). */
  limit?: string;
  fieldErrors: Record<string, string[]>;
}

export const NETWORK_MESSAGE = 'ChatMeter could not be reached. Check your connection and try again.';
export const UNEXPECTED_MESSAGE = 'Something went wrong. Please try again.';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && Object.hasOwn(ERROR_REASONS, value);
}

function readFieldErrors(value: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!isRecord(value)) return out;
  for (const [field, messages] of Object.entries(value)) {
    if (!Array.isArray(messages)) continue;
    const strings = messages.filter((m): m is string => typeof m === 'string' && m.length > 0);
    if (strings.length > 0) out[field] = strings;
  }
  return out;
}

/** True for errors thrown by the tRPC client, also across duplicated module copies. */
export function isTRPCClientError(error: unknown): error is TRPCClientError<never> {
  return error instanceof TRPCClientError || (error instanceof Error && error.name === 'TRPCClientError');
}

export function readApiError(error: unknown): ApiError {
  if (!isTRPCClientError(error)) {
    return { reason: 'internal', message: UNEXPECTED_MESSAGE, fieldErrors: {} };
  }
  const data: unknown = (error as { data?: unknown }).data;
  if (!isRecord(data) || !isReason(data.reason)) {
    return { reason: 'network', message: NETWORK_MESSAGE, fieldErrors: {} };
  }
  const result: ApiError = {
    reason: data.reason,
    message: error.message.trim() || UNEXPECTED_MESSAGE,
    fieldErrors: readFieldErrors(data.fieldErrors),
  };
  if (typeof data.code === 'string') result.code = data.code;
  if (typeof data.httpStatus === 'number') result.httpStatus = data.httpStatus;
  if (typeof data.retryAfterSeconds === 'number' && Number.isFinite(data.retryAfterSeconds) && data.retryAfterSeconds > 0) {
    result.retryAfterSeconds = Math.ceil(data.retryAfterSeconds);
  }
  if (typeof data.upgrade === 'boolean') result.upgrade = data.upgrade;
  if (typeof data.limit === 'string' && data.limit.length > 0) result.limit = data.limit;
  if (typeof data.resetAt === 'string') {
    const resetAt = new Date(data.resetAt);
    if (!Number.isNaN(resetAt.getTime())) result.resetAt = resetAt;
  }
  return result;
}

export function errorReason(error: unknown): ApiErrorReason | undefined {
  return error == null ? undefined : readApiError(error).reason;
}

/** "45 seconds", "1 minute", "15 minutes", "2 hours": always rounded up, never "0". */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return s === 1 ? '1 second' : `${s} seconds`;
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  const hours = Math.ceil(minutes / 60);
  return hours === 1 ? '1 hour' : `${hours} hours`;
}

/** The server's message, plus when to try again if the server said so. */
export function describeApiError(error: ApiError, remainingSeconds = error.retryAfterSeconds): string {
  if (remainingSeconds === undefined) return error.message;
  if (remainingSeconds <= 0) return `${error.message} You can try again now.`;
  return `${error.message} Try again in ${formatWait(remainingSeconds)}.`;
}

/** The first message per field, for inline errors. */
export function firstFieldErrors(fieldErrors: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, messages] of Object.entries(fieldErrors)) {
    const first = messages[0];
    if (first) out[field] = first;
  }
  return out;
}
