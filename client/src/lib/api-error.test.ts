import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { describeApiError, errorReason, firstFieldErrors, formatWait, NETWORK_MESSAGE, readApiError, UNEXPECTED_MESSAGE } from './api-error.ts';

/** An error as the tRPC client builds it from the server's JSON error response. */
function serverError(message: string, data: Record<string, unknown>) {
  return TRPCClientError.from({ error: { message, code: -32600, data } });
}

describe('readApiError', () => {
  it('reads reason, code and status from a server refusal and keeps its message', () => {
    const error = serverError('An account with this e-mail already exists. Sign in instead.', {
      code: 'CONFLICT',
      httpStatus: 409,
      path: 'auth.signUp',
      reason: 'conflict',
    });
    expect(readApiError(error)).toEqual({
      reason: 'conflict',
      message: 'An account with this e-mail already exists. Sign in instead.',
      code: 'CONFLICT',
      httpStatus: 409,
      fieldErrors: {},
    });
  });

  it('reads retryAfterSeconds (rounded up) for rate limits', () => {
    const error = serverError('Too many failed sign-in attempts. Please wait and try again.', {
      code: 'TOO_MANY_REQUESTS',
      httpStatus: 429,
      reason: 'rate_limited',
      retryAfterSeconds: 41.2,
    });
    const api = readApiError(error);
    expect(api.reason).toBe('rate_limited');
    expect(api.retryAfterSeconds).toBe(42);
  });

  it('reads zod field errors, dropping anything that is not a list of strings', () => {
    const error = serverError('email: Enter a valid e-mail address', {
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
      fieldErrors: { email: ['Enter a valid e-mail address'], password: [], junk: 'nope', mixed: [1, 'Too short'] },
    });
    expect(readApiError(error).fieldErrors).toEqual({ email: ['Enter a valid e-mail address'], mixed: ['Too short'] });
  });

  it('reads upgrade and resetAt', () => {
    const error = serverError('You have used this month’s tokens.', {
      reason: 'quota_exhausted',
      upgrade: true,
      resetAt: '2031-02-01T00:00:00.000Z',
    });
    const api = readApiError(error);
    expect(api.upgrade).toBe(true);
    expect(api.resetAt?.toISOString()).toBe('2031-02-01T00:00:00.000Z');
  });

  it('ignores a retry time that is not a positive number and a resetAt that is not a date', () => {
    const api = readApiError(serverError('Slow down.', { reason: 'rate_limited', retryAfterSeconds: -3, resetAt: 'soon' }));
    expect(api.retryAfterSeconds).toBeUndefined();
    expect(api.resetAt).toBeUndefined();
  });

  it('treats a failed fetch as a network problem', () => {
    const error = TRPCClientError.from(new TypeError('Failed to fetch'));
    expect(readApiError(error)).toEqual({ reason: 'network', message: NETWORK_MESSAGE, fieldErrors: {} });
  });

  it('treats an answer without a known reason (a proxy error page) as a network problem', () => {
    expect(readApiError(serverError('Bad gateway', { reason: 'something_new' })).reason).toBe('network');
    expect(readApiError(serverError('Bad gateway', {})).reason).toBe('network');
  });

  it('does not show the message of an error that did not come from the API', () => {
    expect(readApiError(new Error('x is undefined'))).toEqual({ reason: 'internal', message: UNEXPECTED_MESSAGE, fieldErrors: {} });
    expect(readApiError('boom').message).toBe(UNEXPECTED_MESSAGE);
  });

  it('falls back to a generic message when the server sent an empty one', () => {
    expect(readApiError(serverError('  ', { reason: 'internal' })).message).toBe(UNEXPECTED_MESSAGE);
  });
});

describe('errorReason', () => {
  it('is undefined without an error', () => {
    expect(errorReason(null)).toBeUndefined();
    expect(errorReason(undefined)).toBeUndefined();
    expect(errorReason(serverError('Please sign in first.', { reason: 'unauthenticated' }))).toBe('unauthenticated');
  });
});

describe('formatWait', () => {
  it.each([
    [0, '1 second'],
    [1, '1 second'],
    [0.2, '1 second'],
    [45, '45 seconds'],
    [60, '1 minute'],
    [61, '2 minutes'],
    [15 * 60, '15 minutes'],
    [3600, '1 hour'],
    [3601, '2 hours'],
  ])('%s s -> %s', (seconds, text) => {
    expect(formatWait(seconds)).toBe(text);
  });
});

describe('describeApiError', () => {
  const limited = readApiError(serverError('Too many sign-ups from your network.', { reason: 'rate_limited', retryAfterSeconds: 900 }));

  it('adds when to try again', () => {
    expect(describeApiError(limited)).toBe('Too many sign-ups from your network. Try again in 15 minutes.');
    expect(describeApiError(limited, 30)).toBe('Too many sign-ups from your network. Try again in 30 seconds.');
    expect(describeApiError(limited, 0)).toBe('Too many sign-ups from your network. You can try again now.');
  });

  it('is the message alone without a retry time', () => {
    expect(describeApiError(readApiError(serverError('Incorrect e-mail or password.', { reason: 'unauthenticated' })))).toBe('Incorrect e-mail or password.');
  });
});

describe('firstFieldErrors', () => {
  it('keeps the first message per field', () => {
    expect(firstFieldErrors({ email: ['a', 'b'], password: ['c'], empty: [] })).toEqual({ email: 'a', password: 'c' });
  });
});
