// The audit log: every admin and support action, newest first, filterable by
// action, by who did it and by whom it was done to.
import { AUDIT_ACTIONS, type TAuditAction } from '@chatmeter/shared/admin';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatDateTime } from '../../lib/format.ts';
import { auditActionLabel, AUDIT_ACTION_LABEL, describeChange } from './admin-format.ts';
import { useAuditLog, type AuditFilters } from './use-admin.ts';
import { TableScroll } from '../../components/table-scroll.tsx';

export function AuditSection({
  filters,
  onFilters,
  onOpenUser,
}: {
  filters: AuditFilters;
  onFilters(filters: AuditFilters): void;
  onOpenUser(userId: string): void;
}) {
  const log = useAuditLog(filters);
  const items = log.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section className="panel" aria-labelledby="audit-title">
      <div className="panel__head">
        <h2 id="audit-title" className="panel__title">
          Audit log
        </h2>
        {log.isFetching && log.data ? <Spinner /> : null}
      </div>
      <div className="admin-filters">
        <div className="field">
          <label className="field__label" htmlFor="audit-action">
            Action
          </label>
          <div className="field__control">
            <select
              id="audit-action"
              value={filters.action ?? ''}
              onChange={(e) => onFilters({ ...filters, action: (e.target.value || undefined) as TAuditAction | undefined })}
            >
              <option value="">All actions</option>
              {AUDIT_ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {AUDIT_ACTION_LABEL[a]}
                </option>
              ))}
            </select>
          </div>
        </div>
        {filters.actorId ? (
          <button type="button" className="btn btn--ghost btn--small" onClick={() => onFilters({ ...filters, actorId: undefined })}>
            By {filters.actorId.slice(0, 8)} ✕
          </button>
        ) : null}
        {filters.targetUserId ? (
          <button type="button" className="btn btn--ghost btn--small" onClick={() => onFilters({ ...filters, targetUserId: undefined })}>
            On {filters.targetUserId.slice(0, 8)} ✕
          </button>
        ) : null}
      </div>
      {log.error ? <ApiErrorAlert error={readApiError(log.error)} /> : null}
      {log.isPending ? <Spinner label="Loading the audit log…" /> : null}
      {log.data && items.length === 0 ? (
        <p className="muted">Nothing recorded{filters.action || filters.actorId || filters.targetUserId ? ' for these filters' : ' yet'}.</p>
      ) : null}
      {items.length > 0 ? (
        <TableScroll label="Audit log table">
          <table className="admin-table" aria-label="Audit log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">On</th>
                <th scope="col">Change</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>{formatDateTime(e.createdAt)}</td>
                  <td>
                    {e.actorId ? (
                      <button
                        type="button"
                        className="link-button"
                        title="Only this person's actions"
                        onClick={() => onFilters({ ...filters, actorId: e.actorId ?? undefined })}
                      >
                        {e.actorEmail ?? e.actorId.slice(0, 8)}
                      </button>
                    ) : (
                      'system'
                    )}{' '}
                    <span className="badge badge--quiet">{e.actorRole}</span>
                  </td>
                  <td>{auditActionLabel(e.action)}</td>
                  <td>
                    {e.targetUserId ? (
                      <button type="button" className="link-button" onClick={() => onOpenUser(e.targetUserId!)}>
                        {e.targetEmail ?? e.targetUserId.slice(0, 8)}
                      </button>
                    ) : (
                      <span className="muted">everyone</span>
                    )}
                  </td>
                  <td>
                    {describeChange(e.before, e.after).map((line) => (
                      <div key={line}>{line}</div>
                    ))}
                  </td>
                  <td>{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {log.hasNextPage ? (
        <button type="button" className="btn btn--secondary" onClick={() => void log.fetchNextPage()} disabled={log.isFetchingNextPage}>
          {log.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}
