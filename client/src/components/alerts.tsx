import { useState, type ReactNode } from 'react';
import { describeApiError, type ApiError } from '../lib/api-error.ts';
import { useCountdown } from '../lib/use-countdown.ts';

/** A form-level error, announced as soon as it appears. */
export function ErrorAlert({ title, children }: { title?: string; children: ReactNode }) {
  return (
    <div className="alert alert--error" role="alert">
      <svg className="alert__icon" aria-hidden="true" viewBox="0 0 20 20" width="18" height="18">
        <path fill="currentColor" d="M10 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm-.9 4h1.8v5.2H9.1Zm0 6.8h1.8v1.8H9.1Z" />
      </svg>
      <div className="alert__body">
        {title ? <p className="alert__title">{title}</p> : null}
        <div>{children}</div>
      </div>
    </div>
  );
}

/** Good news or progress, read out politely. */
export function StatusNotice({ children, tone = 'success' }: { children: ReactNode; tone?: 'success' | 'info' }) {
  return (
    <div className={`alert alert--${tone}`} role="status">
      <svg className="alert__icon" aria-hidden="true" viewBox="0 0 20 20" width="18" height="18">
        {tone === 'success' ? (
          <path fill="currentColor" d="M10 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm3.7 5.3 1.3 1.3-5.9 5.9-3.4-3.4 1.3-1.3 2.1 2.1Z" />
        ) : (
          <path fill="currentColor" d="M10 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm.9 12H9.1V8.8h1.8Zm0-7.2H9.1V5h1.8Z" />
        )}
      </svg>
      <div className="alert__body">{children}</div>
    </div>
  );
}

/**
 * A server refusal: its message, with a live "try again in…" when the server sent
 * retryAfterSeconds. Give it `key` per attempt so the countdown restarts.
 */
export function ApiErrorAlert({ error, children }: { error: ApiError; children?: ReactNode }) {
  // Fixed at first render: the wait is measured from when the refusal arrived.
  const [deadline] = useState(() => (error.retryAfterSeconds === undefined ? undefined : Date.now() + error.retryAfterSeconds * 1000));
  const remaining = useCountdown(deadline);
  return (
    <ErrorAlert>
      <p>{describeApiError(error, remaining)}</p>
      {children}
    </ErrorAlert>
  );
}
