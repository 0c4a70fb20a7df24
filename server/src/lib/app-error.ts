// Services throw AppError and never import tRPC; one middleware maps it to the
// tRPC code of the contract's error table (shared/src/errors.ts).
import type { ErrorReason } from '@chatmeter/shared/errors';

export interface AppErrorDetails {
  retryAfterSeconds?: number;
  upgrade?: boolean;
  resetAt?: Date;
  /** The limit that refused (shared/src/errors.ts LIMIT_NAMES, or a rate limiter's name). */
  limit?: string;
  [key: string]: unknown;
}

export class AppError extends Error {
  readonly reason: ErrorReason;
  readonly details: AppErrorDetails;

  constructor(reason: ErrorReason, message: string, details: AppErrorDetails = {}) {
    super(message);
    this.name = 'AppError';
    this.reason = reason;
    this.details = details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
