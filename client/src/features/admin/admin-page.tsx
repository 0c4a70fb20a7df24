// The Admin tab. Sections are addressed by the URL (?view=overview|users|audit|controls,
// &user=<id>, &days=1|7|30, audit filters) so a link or a reload keeps the place.
// Support sees the read-only parts and credit adjustments; the admin-only
// controls are not shown to them (and the server refuses them anyway).
import { AUDIT_ACTIONS, type TAuditAction } from '@chatmeter/shared/admin';
import { Link, useSearchParams } from 'react-router';
import { canSeeAdmin } from '../auth/roles.ts';
import { useMe } from '../auth/use-me.ts';
import { PageHeader } from '../shell/page-header.tsx';
import { AuditSection } from './audit-section.tsx';
import { ControlsSection } from './controls-section.tsx';
import { OverviewSection } from './overview-section.tsx';
import { UserDetail } from './user-detail.tsx';
import { UsersSection } from './users-section.tsx';
import type { AuditFilters, OverviewDays } from './use-admin.ts';
import './admin.css';

const VIEWS = [
  { id: 'overview', label: 'Overview' },
  { id: 'users', label: 'Users' },
  { id: 'audit', label: 'Audit log' },
  { id: 'controls', label: 'Controls' },
] as const;
type View = (typeof VIEWS)[number]['id'];

export function AdminPage() {
  const { data: me } = useMe();
  const [params, setParams] = useSearchParams();
  if (!me || !canSeeAdmin(me)) {
    return (
      <div className="page">
        <PageHeader title="Admin" />
        <div className="panel">
          <p>This area is for admin and support accounts.</p>
          <p>
            <Link to="/">Back to chat</Link>
          </p>
        </div>
      </div>
    );
  }
  const isAdmin = me.role === 'admin';
  const view: View = VIEWS.some((v) => v.id === params.get('view')) ? (params.get('view') as View) : 'overview';
  const daysParam = Number(params.get('days'));
  const days: OverviewDays = daysParam === 1 || daysParam === 7 ? daysParam : 30;
  const userId = params.get('user');
  const action = params.get('action');
  const filters: AuditFilters = {
    action: AUDIT_ACTIONS.includes(action as TAuditAction) ? (action as TAuditAction) : undefined,
    actorId: params.get('actor') ?? undefined,
    targetUserId: params.get('target') ?? undefined,
  };

  const go = (next: Record<string, string | undefined>) => {
    const out = new URLSearchParams();
    for (const [key, value] of Object.entries(next)) if (value) out.set(key, value);
    setParams(out);
  };
  const openUser = (id: string) => go({ view: 'users', user: id });
  const setFilters = (f: AuditFilters) => go({ view: 'audit', action: f.action, actor: f.actorId, target: f.targetUserId });

  return (
    <div className="page admin">
      <PageHeader
        title="Admin"
        description={isAdmin ? 'Usage, cost and the controls of this ChatMeter installation.' : 'Support tools: usage, user look-up and credit adjustments.'}
      />
      <nav className="admin-nav" aria-label="Admin sections">
        {VIEWS.map((v) => (
          <button key={v.id} type="button" className="admin-nav__item" aria-current={v.id === view ? 'page' : undefined} onClick={() => go({ view: v.id })}>
            {v.label}
          </button>
        ))}
      </nav>
      {view === 'overview' ? <OverviewSection days={days} onDays={(d) => go({ view: 'overview', days: String(d) })} onOpenUser={openUser} /> : null}
      {view === 'users' && userId ? (
        <UserDetail
          key={userId}
          userId={userId}
          isAdmin={isAdmin}
          meId={me.id}
          onBack={() => go({ view: 'users' })}
          onAudit={(id) => setFilters({ targetUserId: id })}
        />
      ) : null}
      {view === 'users' && !userId ? <UsersSection onOpenUser={openUser} /> : null}
      {view === 'audit' ? <AuditSection filters={filters} onFilters={setFilters} onOpenUser={openUser} /> : null}
      {view === 'controls' ? <ControlsSection isAdmin={isAdmin} /> : null}
    </div>
  );
}
