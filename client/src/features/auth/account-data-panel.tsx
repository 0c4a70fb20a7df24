// "Your data" on the Account page: download everything ChatMeter holds about
// the account (account.exportData), or delete the account (account.deleteAccount):
// personal data goes, anonymised usage totals stay.
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { leaveAfterSignOut } from '../../lib/navigation.ts';
import { trpc } from '../../trpc.ts';
import { downloadJson } from '../admin/use-admin.ts';

export function AccountDataPanel() {
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState('');
  const exportData = useMutation({
    mutationFn: () => trpc.account.exportData.query(),
    onSuccess: (data) => downloadJson(`chatmeter-export-${new Date().toISOString().slice(0, 10)}.json`, data),
  });
  const remove = useMutation({
    mutationFn: () => trpc.account.deleteAccount.mutate({ confirm: 'DELETE' }),
    onSuccess: () => leaveAfterSignOut('here'),
  });
  const error = exportData.error ?? remove.error;
  return (
    <section className="panel" aria-labelledby="data-title">
      <h2 id="data-title" className="panel__title">
        Your data
      </h2>
      <p className="muted">Download your profile, conversations, usage and credit history as a JSON file.</p>
      <div>
        <button type="button" className="btn btn--secondary" onClick={() => exportData.mutate()} disabled={exportData.isPending}>
          {exportData.isPending ? 'Preparing…' : 'Download my data'}
        </button>
      </div>
      <div className="danger-zone">
        {confirming ? (
          <div className="confirm" role="group" aria-labelledby="delete-account-text">
            <p id="delete-account-text">
              Deleting your account removes your e-mail address, password, sessions, conversations and messages for good. Usage counts stay, without your name,
              for the service&apos;s totals. Cancel a paid subscription first. Type DELETE to confirm.
            </p>
            <div className="field">
              <label className="field__label" htmlFor="delete-account-typed">
                Type DELETE
              </label>
              <div className="field__control">
                <input id="delete-account-typed" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
              </div>
            </div>
            <div className="confirm__actions">
              <button type="button" className="btn btn--danger" onClick={() => remove.mutate()} disabled={typed !== 'DELETE' || remove.isPending}>
                {remove.isPending ? 'Deleting…' : 'Delete my account'}
              </button>
              <button type="button" className="btn btn--ghost" onClick={() => setConfirming(false)} disabled={remove.isPending}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="btn btn--danger-outline" onClick={() => setConfirming(true)}>
            Delete account…
          </button>
        )}
      </div>
      {error ? <ApiErrorAlert error={readApiError(error)} /> : null}
    </section>
  );
}
