// Puts the contract's machine-readable fields into every tRPC error's `data`:
// `reason` always, `retryAfterSeconds`, `upgrade`, `resetAt`, `limit` and zod field errors
// where they apply. Internal errors get a generic message; nothing leaks.
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { DefaultErrorShape } from '@trpc/server/unstable-core-do-not-import';
import { z } from 'zod';
import { ERROR_REASONS, type ErrorData, type ErrorReason } from '@chatmeter/shared/errors';
import { AppError } from '../lib/app-error.ts';

const REASON_BY_CODE: Partial<Record<TRPCError['code'], ErrorReason>> = {
  BAD_REQUEST: 'invalid_input',
  PARSE_ERROR: 'invalid_input',
  METHOD_NOT_SUPPORTED: 'invalid_input',
  UNSUPPORTED_MEDIA_TYPE: 'invalid_input',
  PAYLOAD_TOO_LARGE: 'invalid_input',
  UNPROCESSABLE_CONTENT: 'invalid_input',
  NOT_FOUND: 'not_found',
  UNAUTHORIZED: 'unauthenticated',
  FORBIDDEN: 'forbidden_role',
  CONFLICT: 'conflict',
  TOO_MANY_REQUESTS: 'rate_limited',
  CLIENT_CLOSED_REQUEST: 'invalid_input',
};

/**
 * A request whose input cannot be read at all is bad input like any other: the
 * contract's invalid_input, BAD_REQUEST (400), with a message that says why.
 */
const UNREADABLE: Partial<Record<TRPCError['code'], string>> = {
  PARSE_ERROR: 'The input is not valid JSON.',
  UNSUPPORTED_MEDIA_TYPE: 'Send the input as JSON (Content-Type: application/json).',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
};

export function errorFormatter({ shape, error }: { shape: DefaultErrorShape; error: TRPCError }) {
  const cause = error.cause;
  const data: DefaultErrorShape['data'] & ErrorData = { ...shape.data, reason: REASON_BY_CODE[error.code] ?? 'internal' };
  delete data.stack;
  let message = shape.message;
  let code = shape.code;
  const unreadable = UNREADABLE[error.code] ?? (error.code === 'BAD_REQUEST' && cause instanceof SyntaxError ? 'The input is not valid JSON.' : undefined);
  if (unreadable) {
    data.code = 'BAD_REQUEST';
    data.httpStatus = 400;
    code = TRPC_ERROR_CODES_BY_KEY.BAD_REQUEST;
    message = unreadable;
  } else if (cause instanceof AppError) {
    data.reason = cause.reason;
    // Errors thrown while a stream is running arrive unconverted: map them here too.
    const key = ERROR_REASONS[cause.reason];
    if (data.code !== key) {
      data.code = key;
      data.httpStatus = getHTTPStatusCodeFromError(new TRPCError({ code: key }));
      code = TRPC_ERROR_CODES_BY_KEY[key];
    }
    message = cause.message;
    if (cause.details.retryAfterSeconds !== undefined) data.retryAfterSeconds = cause.details.retryAfterSeconds;
    if (cause.details.upgrade !== undefined) data.upgrade = cause.details.upgrade;
    if (cause.details.resetAt) data.resetAt = cause.details.resetAt.toISOString();
    if (cause.details.fieldErrors) data.fieldErrors = cause.details.fieldErrors as Record<string, string[]>;
    if (typeof cause.details.limit === 'string') data.limit = cause.details.limit;
  } else if (cause instanceof z.ZodError) {
    data.reason = 'invalid_input';
    const flat = z.flattenError(cause);
    data.fieldErrors = flat.fieldErrors as Record<string, string[]>;
    const first = cause.issues[0];
    message = first ? `${first.path.length ? `${first.path.join('.')}: ` : ''}${first.message}` : 'Invalid input.';
  } else if (error.code === 'INTERNAL_SERVER_ERROR') {
    message = 'Something went wrong on our side. Please try again.';
  }
  return { ...shape, code, message, data };
}
