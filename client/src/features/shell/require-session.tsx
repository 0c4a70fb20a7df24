import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { ErrorAlert } from '../../components/alerts.tsx';
import { PageLoading } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { nextQuery } from '../../lib/navigation.ts';
import { useMe } from '../auth/use-me.ts';

/** Waits until we know who is here (an account, a guest, or a visitor with no session). */
export function SessionGate({ children }: { children: ReactNode }) {
  const me = useMe();
  if (me.isPending) return <PageLoading label="Loading ChatMeter…" />;
  if (me.isError) {
    return (
      <main className="page-center" id="main">
        <div className="panel panel--narrow">
          <h1>ChatMeter is not answering</h1>
          <ErrorAlert>{readApiError(me.error).message}</ErrorAlert>
          <button type="button" className="btn btn--primary" onClick={() => void me.refetch()} disabled={me.isFetching}>
            {me.isFetching ? 'Trying again…' : 'Try again'}
          </button>
        </div>
      </main>
    );
  }
  return <>{children}</>;
}

/** Renders its children for anyone with a session (account or guest); others go to sign-in. */
export function RequireSession({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();
  return <SessionGate>{me.data ? children : <Navigate to={`/sign-in${nextQuery(location.pathname, location.search)}`} replace />}</SessionGate>;
}
