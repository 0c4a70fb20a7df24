import type { ReactNode } from 'react';

/** Disabled while the request runs, and says so: a second click cannot send it twice. */
export function SubmitButton({
  pending,
  pendingLabel,
  children,
  disabled,
}: {
  pending: boolean;
  pendingLabel: string;
  children: ReactNode;
  disabled?: boolean;
}) {
  return (
    <button type="submit" className="btn btn--primary btn--block" disabled={pending || disabled} aria-busy={pending || undefined}>
      {pending ? (
        <>
          <span className="spinner spinner--on-primary" aria-hidden="true" />
          {pendingLabel}
        </>
      ) : (
        children
      )}
    </button>
  );
}
