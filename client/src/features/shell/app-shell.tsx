import { Link, NavLink, Outlet } from 'react-router';
import type { TMe } from '@chatmeter/shared/auth';
import { ErrorAlert } from '../../components/alerts.tsx';
import { Brand } from '../../components/brand.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { planName, usePlans } from '../billing/use-plans.ts';
import { canSeeAdmin, displayName } from '../auth/roles.ts';
import { useMe } from '../auth/use-me.ts';
import { RequireSession } from './require-session.tsx';
import { useSignOut } from './use-sign-out.ts';

const TABS = [
  { to: '/', label: 'Chat', end: true },
  { to: '/usage', label: 'Usage', end: false },
  { to: '/billing', label: 'Billing', end: false },
] as const;

export function AppShell() {
  return (
    <RequireSession>
      <ShellFrame />
    </RequireSession>
  );
}

function ShellFrame() {
  const { data: me } = useMe();
  if (!me) return null;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <Link to="/" className="topbar__brand" aria-label="ChatMeter home">
            <Brand />
          </Link>
          <nav className="tabs" aria-label="Main">
            {TABS.map((tab) => (
              <NavLink key={tab.to} to={tab.to} end={tab.end} className="tabs__link">
                {tab.label}
              </NavLink>
            ))}
            {canSeeAdmin(me) ? (
              <NavLink to="/admin" className="tabs__link">
                Admin
              </NavLink>
            ) : null}
          </nav>
          <UserMenu me={me} />
        </div>
      </header>
      <main className="shell__main" id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

function UserMenu({ me }: { me: TMe }) {
  const signOut = useSignOut();
  const plans = usePlans();
  return (
    <div className="usermenu">
      <div className="usermenu__who">
        <span className="usermenu__name" title={me.email ?? undefined}>
          {displayName(me)}
        </span>
        <span className="badge">{planName(plans.data, me.plan)} plan</span>
      </div>
      {me.isGuest ? (
        <Link to="/sign-up" className="btn btn--primary btn--small">
          Create account
        </Link>
      ) : (
        <NavLink to="/account" className="btn btn--ghost btn--small">
          Sessions
        </NavLink>
      )}
      <button type="button" className="btn btn--ghost btn--small" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
        {signOut.isPending ? 'Signing out…' : 'Sign out'}
      </button>
      {signOut.error ? (
        <div className="usermenu__error">
          <ErrorAlert>{readApiError(signOut.error).message}</ErrorAlert>
        </div>
      ) : null}
    </div>
  );
}
