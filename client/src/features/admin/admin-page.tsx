import { Link } from 'react-router';
import { canSeeAdmin } from '../auth/roles.ts';
import { useMe } from '../auth/use-me.ts';
import { ComingSoon, PageHeader } from '../shell/page-header.tsx';

export function AdminPage() {
  const { data: me } = useMe();
  if (!canSeeAdmin(me)) {
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
  const isAdmin = me?.role === 'admin';
  return (
    <div className="page">
      <PageHeader
        title="Admin"
        description={isAdmin ? 'Operate this ChatMeter installation.' : 'Support tools: look up users and adjust credits.'}
      />
      <ComingSoon
        title="Operator tools are on their way"
        items={
          isAdmin
            ? ['Overview of requests, tokens and cost by day', 'User search, plans, blocking and credit adjustments', 'Kill switch and the global daily token cap', 'Audit log of every admin action']
            : ['User search and details', 'Credit adjustments with a reason', 'Usage overview (read-only)']
        }
      >
        <p>You are signed in as {isAdmin ? 'an admin' : 'support'}.</p>
      </ComingSoon>
    </div>
  );
}
