import { Link, NavLink, Outlet, useLocation, useMatch } from 'react-router';
import { nextQuery } from '../../lib/navigation.ts';
import type { TMe } from '@chatmeter/shared/auth';
import { ErrorAlert } from '../../components/alerts.tsx';
import { Brand } from '../../components/brand.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { planName, usePlans } from '../billing/use-plans.ts';
import { canSeeAdmin, displayName } from '../auth/roles.ts';
import { useMe } from '../auth/use-me.ts';
import { VerifyEmailBanner } from '../auth/verify-email-banner.tsx';
import { NotificationBell } from '../notifications/notification-bell.tsx';
import { useAccountPrefsSync } from '../preferences/use-account-prefs-sync.ts';
import { SessionGate } from './require-session.tsx';
import { useSignOut } from './use-sign-out.ts';
import './shell.css';

const TABS = [
  { to: '/', label: 'Chat', end: true, visitors: true },
  { to: '/usage', label: 'Usage', end: false, visitors: false },
  { to: '/billing', label: 'Billing', end: false, visitors: false },
  { to: '/planner', label: 'Cost planner', end: false, visitors: true },
] as const;

/**
 * The signed-in frame, also shown to a visitor with no session on the Chat tab
 * (their first message makes them a guest); the other tabs guard themselves
 * with RequireSession.
 */
export function AppShell() {
  return (
    <SessionGate>
      <ShellFrame />
    </SessionGate>
  );
}

function ShellFrame() {
  const { data: me } = useMe();
  useAccountPrefsSync(me);
  // The chat fills the window (its lists scroll inside); the other pages scroll as a whole.
  const fill = useMatch({ path: '/', end: true }) !== null;
  return (
    <div className={fill ? 'shell shell--fill' : 'shell'}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <Link to="/" className="topbar__brand" aria-label="ChatMeter home">
            <Brand />
          </Link>
          <nav className="tabs" aria-label="Main">
            {TABS.filter((tab) => me || tab.visitors).map((tab) => (
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
          {me ? <UserMenu me={me} /> : <VisitorMenu />}
        </div>
      </header>
      {me?.limitedUntilVerified ? <VerifyEmailBanner me={me} /> : null}
      <main className="shell__main" id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

/** Signing in or up from a page comes back to it (a guest to the conversation it was in). */
function useBackHere(): string {
  const location = useLocation();
  return nextQuery(location.pathname, location.search);
}

function VisitorMenu() {
  const backHere = useBackHere();
  return (
    <div className="usermenu">
      <Link to={`/sign-in${backHere}`} className="btn btn--ghost btn--small">
        Sign in
      </Link>
      <Link to={`/sign-up${backHere}`} className="btn btn--primary btn--small">
        Sign up
      </Link>
    </div>
  );
}

function UserMenu({ me }: { me: TMe }) {
  const signOut = useSignOut();
  const plans = usePlans();
  const backHere = useBackHere();
  return (
    <div className="usermenu">
      <div className="usermenu__who">
        <span className="usermenu__name" title={me.email ?? undefined}>
          {displayName(me)}
        </span>
        <span className="badge">{planName(plans.data, me.plan)} plan</span>
      </div>
      <NotificationBell />
      {me.isGuest ? (
        <Link to={`/sign-up${backHere}`} className="btn btn--primary btn--small">
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
