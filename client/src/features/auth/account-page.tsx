import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { VoicePicker } from '../tts/voice-picker.tsx';
import { useState } from 'react';
import { Link } from 'react-router';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { leaveAfterSignOut } from '../../lib/navigation.ts';
import { describeUserAgent, formatDateTime, formatRelativeTime } from '../../lib/format.ts';
import { trpc } from '../../trpc.ts';
import { planName, usePlans } from '../billing/use-plans.ts';
import { PageHeader } from '../shell/page-header.tsx';
import { AccountDataPanel } from './account-data-panel.tsx';
import { ChangePasswordPanel } from './change-password-panel.tsx';
import { useMe } from './use-me.ts';
import './sessions.css';

export const sessionsQueryKey = ['auth', 'sessions'] as const;

export function AccountPage() {
  const { data: me } = useMe();
  const plans = usePlans();
  const queryClient = useQueryClient();
  if (!me) return null;
  if (me.isGuest) {
    return (
      <div className="page page--narrow">
        <PageHeader title="Account" />
        <div className="panel">
          <p>You are using ChatMeter as a guest, on this browser only.</p>
          <p>
            <Link to="/sign-up" className="btn btn--primary">
              Create an account
            </Link>
          </p>
        </div>
      </div>
    );
  }
  return (
    <div className="page page--narrow">
      <PageHeader title="Account" description="Your password, where you are signed in, and how to end it." />
      <section className="panel" aria-labelledby="profile-title">
        <h2 id="profile-title" className="panel__title">
          Profile
        </h2>
        <dl className="stat-list">
          <div className="stat-list__row">
            <dt>E-mail</dt>
            <dd>
              {me.email} <span className="muted">· {me.emailVerified ? 'verified' : 'not verified yet'}</span>
            </dd>
          </div>
          <div className="stat-list__row">
            <dt>Plan</dt>
            <dd>{planName(plans.data, me.plan)}</dd>
          </div>
          {me.role !== 'user' ? (
            <div className="stat-list__row">
              <dt>Role</dt>
              <dd>{me.role === 'admin' ? 'Admin' : 'Support'}</dd>
            </div>
          ) : null}
        </dl>
      </section>
      <section className="panel" aria-labelledby="voice-title">
        <h2 id="voice-title" className="panel__title">
          Voice
        </h2>
        <VoicePicker />
      </section>
      <ChangePasswordPanel onChanged={() => void queryClient.invalidateQueries({ queryKey: sessionsQueryKey })} />
      <SessionsPanel />
      <AccountDataPanel />
    </div>
  );
}

function SessionsPanel() {
  const sessions = useQuery({ queryKey: sessionsQueryKey, queryFn: () => trpc.auth.sessions.query() });
  const [confirming, setConfirming] = useState(false);
  const everywhere = useMutation({
    mutationFn: () => trpc.auth.signOutEverywhere.mutate(),
    onSuccess: () => leaveAfterSignOut('everywhere'),
  });
  const now = new Date();
  const count = sessions.data?.length ?? 0;

  return (
    <section className="panel" aria-labelledby="sessions-title">
      <div className="panel__head">
        <h2 id="sessions-title" className="panel__title">
          Sessions
        </h2>
        {sessions.data ? <span className="muted">{count === 1 ? '1 active session' : `${count} active sessions`}</span> : null}
      </div>
      {sessions.isPending ? <p className="muted">Loading sessions…</p> : null}
      {sessions.error ? <ApiErrorAlert error={readApiError(sessions.error)} /> : null}
      {sessions.data ? (
        <ul className="session-list">
          {sessions.data.map((session) => (
            <li key={session.id} className="session">
              <div className="session__main">
                <span className="session__device">{describeUserAgent(session.userAgent)}</span>
                {session.current ? <span className="badge badge--accent">This browser</span> : null}
              </div>
              <div className="session__meta">
                <span title={formatDateTime(session.lastSeenAt)}>Active {formatRelativeTime(session.lastSeenAt, now)}</span>
                <span>Signed in {formatDateTime(session.createdAt)}</span>
                {session.ip ? <span title="Only the network is kept, not the full address">Network {session.ip}</span> : null}
              </div>
            </li>
          ))}
        </ul>
      ) : null}

      <div className="danger-zone">
        {everywhere.error ? <ApiErrorAlert key={everywhere.submittedAt} error={readApiError(everywhere.error)} /> : null}
        {confirming ? (
          <div className="confirm" role="group" aria-labelledby="confirm-text">
            <p id="confirm-text">
              {count > 1
                ? `This ends all ${count} sessions, including this one. Every device will need to sign in again.`
                : 'This ends your session here and any other you may have. You will need to sign in again.'}
            </p>
            <div className="confirm__actions">
              <button type="button" className="btn btn--danger" onClick={() => everywhere.mutate()} disabled={everywhere.isPending} autoFocus>
                {everywhere.isPending ? 'Signing out…' : 'Yes, sign out everywhere'}
              </button>
              <button type="button" className="btn btn--ghost" onClick={() => setConfirming(false)} disabled={everywhere.isPending}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="btn btn--danger-outline" onClick={() => setConfirming(true)}>
            Sign out everywhere
          </button>
        )}
      </div>
    </section>
  );
}
