// The global controls: the kill switch (with a confirmation) and the daily
// token cap. Support sees them read-only; only an admin can change them (the
// server enforces it too).
import { useState, type FormEvent } from 'react';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount, formatDateTime } from '../../lib/format.ts';
import { useAdminSettings, useUpdateSettings, type AdminSettings } from './use-admin.ts';

export function ControlsSection({ isAdmin }: { isAdmin: boolean }) {
  const settings = useAdminSettings();
  return (
    <div className="admin-stack">
      {settings.error ? <ApiErrorAlert error={readApiError(settings.error)} /> : null}
      {settings.isPending ? <Spinner label="Loading settings…" /> : null}
      {settings.data ? (
        <>
          <KillSwitchPanel settings={settings.data} isAdmin={isAdmin} />
          <DailyCapPanel settings={settings.data} isAdmin={isAdmin} />
          <RetentionPanel settings={settings.data} />
        </>
      ) : null}
    </div>
  );
}

function KillSwitchPanel({ settings, isAdmin }: { settings: AdminSettings; isAdmin: boolean }) {
  const update = useUpdateSettings();
  const [confirming, setConfirming] = useState(false);
  const on = settings.killSwitch;
  const flip = () => update.mutate({ killSwitch: !on }, { onSuccess: () => setConfirming(false) });
  return (
    <section className="panel" aria-labelledby="kill-title">
      <div className="panel__head">
        <h2 id="kill-title" className="panel__title">
          Kill switch
        </h2>
        <span className={`badge ${on ? 'badge--danger' : 'badge--ok'}`} role="status">
          {on ? 'Chat is paused' : 'Chat is running'}
        </span>
      </div>
      <p className="muted">
        {on
          ? 'Every new chat message is refused with kill_switch until it is turned off. Messages already streaming finish.'
          : 'Turning it on refuses every new chat message at once, for everyone, until it is turned off again.'}
      </p>
      {update.error ? <ApiErrorAlert key={update.submittedAt} error={readApiError(update.error)} /> : null}
      {!isAdmin ? (
        <p className="muted">Only an admin can change this.</p>
      ) : confirming ? (
        <div className="confirm" role="group" aria-labelledby="kill-confirm-text">
          <p id="kill-confirm-text">{on ? 'Resume chat for everyone?' : 'Pause chat for everyone now?'}</p>
          <div className="confirm__actions">
            <button type="button" className={`btn ${on ? 'btn--primary' : 'btn--danger'}`} onClick={flip} disabled={update.isPending} autoFocus>
              {update.isPending ? 'Saving…' : on ? 'Yes, resume chat' : 'Yes, pause chat'}
            </button>
            <button type="button" className="btn btn--ghost" onClick={() => setConfirming(false)} disabled={update.isPending}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <button type="button" className={`btn ${on ? 'btn--secondary' : 'btn--danger-outline'}`} onClick={() => setConfirming(true)}>
          {on ? 'Resume chat…' : 'Pause chat…'}
        </button>
      )}
      {settings.updatedAt ? <p className="muted admin-note">Last changed {formatDateTime(settings.updatedAt)}.</p> : null}
    </section>
  );
}

function DailyCapPanel({ settings, isAdmin }: { settings: AdminSettings; isAdmin: boolean }) {
  const update = useUpdateSettings();
  const [value, setValue] = useState(settings.maxTokensPerDay === null ? '' : String(settings.maxTokensPerDay));
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const used = settings.tokensUsedToday;
  const cap = settings.effectiveMaxTokensPerDay;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSaved(false);
    const text = value.replace(/[,_\s]/g, '');
    if (text !== '' && !/^\d{1,15}$/.test(text)) {
      setError('Enter a whole number of tokens, or leave it empty for the default');
      return;
    }
    setError(undefined);
    update.mutate({ maxTokensPerDay: text === '' ? null : Number(text) }, { onSuccess: () => setSaved(true) });
  };
  return (
    <section className="panel" aria-labelledby="cap-title">
      <h2 id="cap-title" className="panel__title">
        Daily token cap
      </h2>
      <p>
        <strong>{formatCount(used)}</strong> of {formatCount(cap)} tokens used today (UTC)
        {settings.maxTokensPerDay === null ? ` · the default from MAX_TOKENS_PER_DAY` : ''}.
      </p>
      <div className="admin-meter" role="progressbar" aria-label="Tokens used of today's cap" aria-valuemin={0} aria-valuemax={cap} aria-valuenow={Math.min(used, cap)}>
        <span style={{ width: `${cap > 0 ? Math.min(100, (used / cap) * 100) : 100}%` }} />
      </div>
      {isAdmin ? (
        <form className="admin-inline-form" onSubmit={submit} noValidate>
          <div className={`field${error ? ' field--invalid' : ''}`}>
            <label className="field__label" htmlFor="daily-cap">
              Cap (tokens per day)
            </label>
            <div className="field__control">
              <input
                id="daily-cap"
                inputMode="numeric"
                value={value}
                placeholder={`Default: ${formatCount(settings.defaultMaxTokensPerDay)}`}
                onChange={(e) => setValue(e.target.value)}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? 'daily-cap-error' : undefined}
              />
            </div>
            {error ? (
              <p className="field__error" id="daily-cap-error">
                {error}
              </p>
            ) : null}
          </div>
          <button type="submit" className="btn btn--primary" disabled={update.isPending}>
            {update.isPending ? 'Saving…' : 'Save cap'}
          </button>
        </form>
      ) : (
        <p className="muted">Only an admin can change this.</p>
      )}
      {update.error ? <ApiErrorAlert key={update.submittedAt} error={readApiError(update.error)} /> : null}
      {saved && !update.isPending ? <StatusNotice>Daily cap saved.</StatusNotice> : null}
    </section>
  );
}

function RetentionPanel({ settings }: { settings: AdminSettings }) {
  const r = settings.retention;
  const last = r.lastRun;
  const result = last?.result as { usageEventsDeleted?: number; messagesDeleted?: number } | null | undefined;
  return (
    <section className="panel" aria-labelledby="retention-title">
      <h2 id="retention-title" className="panel__title">
        Retention
      </h2>
      <dl className="stat-list">
        <div className="stat-list__row">
          <dt>Raw usage events</dt>
          <dd>{formatCount(r.retentionDays)} days (daily totals are kept)</dd>
        </div>
        <div className="stat-list__row">
          <dt>Chat messages</dt>
          <dd>{r.messageRetentionDays ? `${formatCount(r.messageRetentionDays)} days` : 'kept'}</dd>
        </div>
        <div className="stat-list__row">
          <dt>Last run</dt>
          <dd>
            {last
              ? `${formatDateTime(last.startedAt)}${result ? ` · ${formatCount(result.usageEventsDeleted ?? 0)} events, ${formatCount(result.messagesDeleted ?? 0)} messages removed` : ''}`
              : 'not yet'}
          </dd>
        </div>
      </dl>
    </section>
  );
}
