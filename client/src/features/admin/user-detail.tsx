// One user: plan, usage against the limits, recent usage, the credit ledger
// and live sessions; adjust credits (support on user accounts, admins on anyone
// else; never one's own; reason required); set the plan and the role, block,
// export and delete (admin only). The server enforces every rule too.
import { ZAdjustCreditsInput, ADJUSTMENT_REASON_MIN, type TAssignableRole } from '@chatmeter/shared/admin';
import { useId, useState, type FormEvent } from 'react';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { describeUserAgent, formatCount, formatDateTime } from '../../lib/format.ts';
import { usePlans } from '../billing/use-plans.ts';
import { formatCompact, formatCost } from './admin-format.ts';
import { StatusBadges, userLabel } from './users-section.tsx';
import {
  downloadJson,
  useAdjustCredits,
  useAdminSettings,
  useAdminUser,
  useDeleteUser,
  useExportUser,
  useSetBlocked,
  useSetPlan,
  useSetRole,
  type AdminUserDetail,
} from './use-admin.ts';
import { TableScroll } from '../../components/table-scroll.tsx';
import '../auth/sessions.css';

export function UserDetail({
  userId,
  isAdmin,
  meId,
  onBack,
  onAudit,
}: {
  userId: string;
  isAdmin: boolean;
  meId: string;
  onBack(): void;
  onAudit(userId: string): void;
}) {
  const detail = useAdminUser(userId);
  const data = detail.data;
  return (
    <div className="admin-stack">
      <div>
        <button type="button" className="btn btn--ghost btn--small" onClick={onBack}>
          ← All users
        </button>
      </div>
      {detail.error ? <ApiErrorAlert error={readApiError(detail.error)} /> : null}
      {detail.isPending ? <Spinner label="Loading the user…" /> : null}
      {data ? (
        <>
          <section className="panel" aria-labelledby="user-title">
            <div className="panel__head">
              <h2 id="user-title" className="panel__title">
                {userLabel(data.user)}
              </h2>
              <div className="admin-badges">
                <span className="badge">{data.plan.name} plan</span>
                <StatusBadges user={data.user} />
              </div>
            </div>
            <p className="muted admin-note">
              User id <code>{data.user.id}</code> · since {formatDateTime(data.user.createdAt)}{' '}
              <button type="button" className="link-button" onClick={() => onAudit(data.user.id)}>
                Audit log for this user
              </button>
            </p>
            <UsageFigures detail={data} />
          </section>
          {!data.user.deleted ? (
            <div className="grid grid--2">
              <AdjustCreditsPanel detail={data} isAdmin={isAdmin} isSelf={data.user.id === meId} />
              {isAdmin ? <AdminActionsPanel detail={data} isSelf={data.user.id === meId} /> : null}
            </div>
          ) : null}
          <LedgerPanel detail={data} />
          <RecentUsagePanel detail={data} />
          <SessionsPanel detail={data} />
        </>
      ) : null}
    </div>
  );
}

function UsageFigures({ detail }: { detail: AdminUserDetail }) {
  const { summary, plan, totals } = detail;
  const figures: [string, string][] = [
    ['Messages today', `${formatCount(summary.used.messagesToday)} / ${formatCount(plan.limits.messagesPerDay)}`],
    ['Tokens this period', `${formatCompact(summary.used.tokensThisMonth)} / ${formatCompact(plan.limits.tokensPerMonth)}`],
    ['Credits', `${formatCount(summary.credits.tokens)} tokens`],
    ['Cost, 30 days', formatCost(totals.last30.costMicroUsd)],
    ['Cost, lifetime', formatCost(totals.lifetime.costMicroUsd)],
    ['Requests, 30 days', formatCount(totals.last30.requests)],
  ];
  return (
    <dl className="admin-figures admin-figures--wide" aria-label="Usage">
      {figures.map(([label, value]) => (
        <div key={label} className="admin-figure">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Why this account's credits cannot be adjusted by the viewer, or null when they can. */
function adjustRefusal(target: { role: string }, isAdmin: boolean, isSelf: boolean): string | null {
  if (isSelf) return `You cannot adjust your own credits; ask ${isAdmin ? 'another' : 'an'} admin.`;
  if (!isAdmin && target.role !== 'user') return `This is ${target.role === 'admin' ? 'an admin' : 'a support'} account: only an admin can adjust its credits.`;
  return null;
}

function AdjustCreditsPanel({ detail, isAdmin, isSelf }: { detail: AdminUserDetail; isAdmin: boolean; isSelf: boolean }) {
  const adjust = useAdjustCredits();
  const settings = useAdminSettings();
  const [tokens, setTokens] = useState('');
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<{ tokens?: string; reason?: string }>({});
  const [done, setDone] = useState<string>();
  const ids = useId();
  const limit = settings.data?.supportMaxAdjustmentTokens;
  const perDay = settings.data?.supportMaxAdjustmentTokensPerDay;
  const refusal = adjustRefusal(detail.user, isAdmin, isSelf);
  const supportNote =
    isAdmin || limit === undefined
      ? ''
      : ` Support can adjust up to ${formatCount(limit)} tokens at a time${perDay === undefined ? '' : ` and ${formatCount(perDay)} tokens a day in all`}.`;

  if (refusal) {
    return (
      <section className="panel" aria-labelledby={`${ids}-title`}>
        <h2 id={`${ids}-title`} className="panel__title">
          Adjust credits
        </h2>
        <p className="muted admin-note">{refusal}</p>
      </section>
    );
  }

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setDone(undefined);
    const text = tokens.replace(/[,_\s]/g, '');
    const parsed = ZAdjustCreditsInput.safeParse({ userId: detail.user.id, tokens: /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN, reason });
    if (!parsed.success) {
      const next: { tokens?: string; reason?: string } = {};
      for (const issue of parsed.error.issues) {
        const key = issue.path[0];
        if ((key === 'tokens' || key === 'reason') && !next[key])
          next[key] = key === 'tokens' && /expected number/i.test(issue.message) ? 'Enter a whole number of tokens, e.g. 5000 or -2000' : issue.message;
      }
      setErrors(next);
      return;
    }
    if (!isAdmin && limit !== undefined && Math.abs(parsed.data.tokens) > limit) {
      setErrors({ tokens: `Support can adjust at most ${formatCount(limit)} tokens at a time; ask an admin for more` });
      return;
    }
    setErrors({});
    adjust.mutate(parsed.data, {
      onSuccess: (result) => {
        setTokens('');
        setReason('');
        setDone(
          result.appliedTokens === result.requestedTokens
            ? `Credits ${result.appliedTokens > 0 ? 'added' : 'taken back'}: ${formatCount(Math.abs(result.appliedTokens))} tokens. New balance ${formatCount(result.balanceTokens)} tokens.`
            : `Only ${formatCount(Math.abs(result.appliedTokens))} tokens could be taken back (the balance never goes below zero). New balance ${formatCount(result.balanceTokens)} tokens.`,
        );
      },
    });
  };

  return (
    <section className="panel" aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`} className="panel__title">
        Adjust credits
      </h2>
      <p className="muted admin-note">
        Positive adds tokens, negative takes them back (never below zero). Every adjustment is a permanent ledger entry with your name and the reason.
        {supportNote}
      </p>
      <form className="form" onSubmit={submit} noValidate aria-label="Adjust credits">
        <div className={`field${errors.tokens ? ' field--invalid' : ''}`}>
          <label className="field__label" htmlFor={`${ids}-tokens`}>
            Tokens
          </label>
          <div className="field__control">
            <input
              id={`${ids}-tokens`}
              name="tokens"
              inputMode="numeric"
              value={tokens}
              onChange={(e) => setTokens(e.target.value)}
              placeholder="e.g. 5000 or -2000"
              aria-invalid={errors.tokens ? true : undefined}
              aria-describedby={errors.tokens ? `${ids}-tokens-error` : undefined}
              disabled={adjust.isPending}
            />
          </div>
          {errors.tokens ? (
            <p className="field__error" id={`${ids}-tokens-error`}>
              {errors.tokens}
            </p>
          ) : null}
        </div>
        <div className={`field${errors.reason ? ' field--invalid' : ''}`}>
          <label className="field__label" htmlFor={`${ids}-reason`}>
            Reason
          </label>
          <div className="field__control">
            <textarea
              id={`${ids}-reason`}
              name="reason"
              rows={2}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              placeholder={`Why (at least ${ADJUSTMENT_REASON_MIN} characters), e.g. "refund for the outage on 3 May"`}
              aria-invalid={errors.reason ? true : undefined}
              aria-describedby={errors.reason ? `${ids}-reason-error` : undefined}
              disabled={adjust.isPending}
            />
          </div>
          {errors.reason ? (
            <p className="field__error" id={`${ids}-reason-error`}>
              {errors.reason}
            </p>
          ) : null}
        </div>
        <button type="submit" className="btn btn--primary" disabled={adjust.isPending}>
          {adjust.isPending ? 'Saving…' : 'Adjust credits'}
        </button>
      </form>
      {adjust.error ? <ApiErrorAlert key={adjust.submittedAt} error={readApiError(adjust.error)} /> : null}
      {done ? <StatusNotice>{done}</StatusNotice> : null}
    </section>
  );
}

function AdminActionsPanel({ detail, isSelf }: { detail: AdminUserDetail; isSelf: boolean }) {
  const plans = usePlans();
  const setPlan = useSetPlan();
  const setBlocked = useSetBlocked();
  const setRole = useSetRole();
  const exportUser = useExportUser();
  const deleteUser = useDeleteUser();
  const [plan, setPlanValue] = useState(detail.user.plan);
  const [confirm, setConfirm] = useState<'block' | 'delete' | null>(null);
  const [typed, setTyped] = useState('');
  const user = detail.user;
  const error = setPlan.error ?? setRole.error ?? setBlocked.error ?? exportUser.error ?? deleteUser.error;
  const choices = (plans.data ?? []).filter((p) => p.id !== 'guest');

  return (
    <section className="panel" aria-labelledby="admin-actions-title">
      <h2 id="admin-actions-title" className="panel__title">
        Account
      </h2>
      {!user.isGuest ? (
        <form
          className="admin-inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setPlan.mutate({ userId: user.id, plan });
          }}
        >
          <div className="field">
            <label className="field__label" htmlFor="set-plan">
              Plan
            </label>
            <div className="field__control">
              <select id="set-plan" value={plan} onChange={(e) => setPlanValue(e.target.value)}>
                {choices.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <button type="submit" className="btn btn--secondary" disabled={setPlan.isPending || plan === user.plan}>
            {setPlan.isPending ? 'Saving…' : 'Set plan'}
          </button>
        </form>
      ) : null}
      <p className="muted admin-note">A plan set here is replaced when a Stripe subscription of this user changes.</p>
      <RoleForm user={user} isSelf={isSelf} setRole={setRole} />

      <div className="admin-actions">
        {user.blocked ? (
          <button
            type="button"
            className="btn btn--secondary"
            onClick={() => setBlocked.mutate({ userId: user.id, blocked: false })}
            disabled={setBlocked.isPending}
          >
            Unblock
          </button>
        ) : (
          <button type="button" className="btn btn--danger-outline" onClick={() => setConfirm('block')} disabled={isSelf}>
            Block…
          </button>
        )}
        <button
          type="button"
          className="btn btn--secondary"
          disabled={exportUser.isPending}
          onClick={() => exportUser.mutate(user.id, { onSuccess: (data) => downloadJson(`chatmeter-user-${user.id}.json`, data) })}
        >
          {exportUser.isPending ? 'Exporting…' : 'Export data'}
        </button>
        <button type="button" className="btn btn--danger-outline" onClick={() => setConfirm('delete')}>
          Delete account…
        </button>
      </div>

      {confirm === 'block' ? (
        <div className="confirm" role="group" aria-labelledby="block-confirm">
          <p id="block-confirm">Block {userLabel(user)}? Every request of this account is refused until it is unblocked.</p>
          <div className="confirm__actions">
            <button
              type="button"
              className="btn btn--danger"
              autoFocus
              disabled={setBlocked.isPending}
              onClick={() => setBlocked.mutate({ userId: user.id, blocked: true }, { onSuccess: () => setConfirm(null) })}
            >
              Yes, block
            </button>
            <button type="button" className="btn btn--ghost" onClick={() => setConfirm(null)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {confirm === 'delete' ? (
        <div className="confirm" role="group" aria-labelledby="delete-confirm">
          <p id="delete-confirm">
            This deletes the e-mail address, sessions, conversations and messages of {userLabel(user)}. Usage stays, anonymised, for the totals. Type DELETE to
            confirm.
          </p>
          <div className="field">
            <label className="field__label" htmlFor="delete-typed">
              Type DELETE
            </label>
            <div className="field__control">
              <input id="delete-typed" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
            </div>
          </div>
          <div className="confirm__actions">
            <button
              type="button"
              className="btn btn--danger"
              disabled={typed !== 'DELETE' || deleteUser.isPending}
              onClick={() => deleteUser.mutate(user.id, { onSuccess: () => setConfirm(null) })}
            >
              {deleteUser.isPending ? 'Deleting…' : 'Delete account'}
            </button>
            <button type="button" className="btn btn--ghost" onClick={() => setConfirm(null)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {error ? <ApiErrorAlert error={readApiError(error)} /> : null}
      {setPlan.isSuccess ? <StatusNotice>Plan saved.</StatusNotice> : null}
      {setRole.isSuccess ? (
        <StatusNotice>{setRole.data.role === 'support' ? 'This account now has the support role.' : 'This account is now a plain user.'}</StatusNotice>
      ) : null}
    </section>
  );
}

const ROLE_LABEL: Record<TAssignableRole, string> = { user: 'User', support: 'Support' };

/**
 * Gives or takes the support role. Admins are made by the operator
 * (ADMIN_EMAIL), so an admin's role, one's own and a guest's are shown, not edited.
 */
function RoleForm({ user, isSelf, setRole }: { user: AdminUserDetail['user']; isSelf: boolean; setRole: ReturnType<typeof useSetRole> }) {
  const [role, setRoleValue] = useState<TAssignableRole>(user.role === 'support' ? 'support' : 'user');
  if (user.isGuest) return null;
  const fixed =
    user.role === 'admin' ? 'Admin: an admin is made or removed by the operator (ADMIN_EMAIL), not here.' : isSelf ? 'You cannot change your own role.' : null;
  if (fixed) {
    return (
      <p className="muted admin-note">
        <strong>Role.</strong> {fixed}
      </p>
    );
  }
  return (
    <form
      className="admin-inline-form"
      aria-label="Role"
      onSubmit={(e) => {
        e.preventDefault();
        setRole.mutate({ userId: user.id, role });
      }}
    >
      <div className="field">
        <label className="field__label" htmlFor="set-role">
          Role
        </label>
        <div className="field__control">
          <select id="set-role" value={role} onChange={(e) => setRoleValue(e.target.value as TAssignableRole)} aria-describedby="set-role-hint">
            {(Object.keys(ROLE_LABEL) as TAssignableRole[]).map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]}
              </option>
            ))}
          </select>
        </div>
        <p className="field__hint muted" id="set-role-hint">
          Support can see the Admin tab and adjust the credits of user accounts, within its limits.
        </p>
      </div>
      <button type="submit" className="btn btn--secondary" disabled={setRole.isPending || role === user.role}>
        {setRole.isPending ? 'Saving…' : 'Set role'}
      </button>
    </form>
  );
}

function LedgerPanel({ detail }: { detail: AdminUserDetail }) {
  return (
    <section className="panel" aria-labelledby="ledger-title">
      <h2 id="ledger-title" className="panel__title">
        Credit ledger
      </h2>
      {detail.ledger.length === 0 ? (
        <p className="muted">No credit changes yet.</p>
      ) : (
        <TableScroll label="Credit ledger table">
          <table className="admin-table" aria-label="Credit ledger">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Kind</th>
                <th scope="col" className="num">
                  Change
                </th>
                <th scope="col" className="num">
                  Balance
                </th>
                <th scope="col">Reason</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {detail.ledger.map((l) => (
                <tr key={l.id}>
                  <td>{formatDateTime(l.createdAt)}</td>
                  <td>{l.kind}</td>
                  <td className={`num ${l.deltaTokens < 0 ? 'admin-negative' : ''}`}>{`${l.deltaTokens > 0 ? '+' : ''}${formatCount(l.deltaTokens)}`}</td>
                  <td className="num">{formatCount(l.balanceAfter)}</td>
                  <td>{l.reason}</td>
                  <td>{l.actorEmail ?? (l.actorId ? l.actorId.slice(0, 8) : '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}

function RecentUsagePanel({ detail }: { detail: AdminUserDetail }) {
  return (
    <section className="panel" aria-labelledby="recent-title">
      <h2 id="recent-title" className="panel__title">
        Recent usage
      </h2>
      {detail.recentUsage.length === 0 ? (
        <p className="muted">No usage.</p>
      ) : (
        <TableScroll label="Recent usage table">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col" className="num">
                  Tokens in / out
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {detail.recentUsage.map((e) => (
                <tr key={e.id}>
                  <td>{formatDateTime(e.createdAt)}</td>
                  <td>
                    {e.kind === 'tts' ? 'Speech' : 'Chat'}
                    {e.model ? <span className="muted"> · {e.model}</span> : null}
                  </td>
                  <td className="num">
                    {e.kind === 'tts' ? `${formatCount(e.ttsChars)} chars` : `${formatCount(e.promptTokens)} / ${formatCount(e.completionTokens)}`}
                  </td>
                  <td className="num">{formatCost(e.costMicroUsd)}</td>
                  <td>{e.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}

function SessionsPanel({ detail }: { detail: AdminUserDetail }) {
  return (
    <section className="panel" aria-labelledby="user-sessions-title">
      <h2 id="user-sessions-title" className="panel__title">
        Sessions
      </h2>
      {detail.sessions.length === 0 ? (
        <p className="muted">No live sessions.</p>
      ) : (
        <ul className="session-list">
          {detail.sessions.map((s) => (
            <li key={`${s.createdAt.toISOString()}-${s.userAgent ?? ''}`} className="session">
              <div className="session__main">
                <span className="session__device">{describeUserAgent(s.userAgent)}</span>
              </div>
              <div className="session__meta">
                <span>Last active {formatDateTime(s.lastSeenAt)}</span>
                <span>Signed in {formatDateTime(s.createdAt)}</span>
                {s.ip ? <span title="Only the network is kept, not the full address">Network {s.ip}</span> : null}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
