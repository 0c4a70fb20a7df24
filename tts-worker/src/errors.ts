/**
 * Typed failures of the synthesis pool. The HTTP layer maps each to a status code;
 * nothing here knows about HTTP.
 */
export class PoolError extends Error {}

/** The bounded queue is full (or this job was pushed out by a higher-priority one). */
export class QueueFullError extends PoolError {
  override readonly name = 'QueueFullError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The job waited in the queue longer than the task timeout without reaching a thread. */
export class QueueTimeoutError extends PoolError {
  override readonly name = 'QueueTimeoutError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The job ran longer than the task timeout; its thread was destroyed and replaced. */
export class TaskTimeoutError extends PoolError {
  override readonly name = 'TaskTimeoutError';
}

/** The worker threw, or its thread died, while running the job. */
export class TaskFailedError extends PoolError {
  override readonly name = 'TaskFailedError';
}

/** The caller gave up (its AbortSignal fired) while the job was still queued. */
export class JobCancelledError extends PoolError {
  override readonly name = 'JobCancelledError';
}

/** The pool is shutting down and takes no more work. */
export class PoolClosedError extends PoolError {
  override readonly name = 'PoolClosedError';
}
