// User search: by any part of the e-mail address, or a user id; newest first,
// page by page. Opening a row shows the user's detail.
import { useEffect, useState } from 'react';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount, formatDateTime } from '../../lib/format.ts';
import { useAdminUsers, type AdminUserRow } from './use-admin.ts';
import { TableScroll } from '../../components/table-scroll.tsx';

export function UsersSection({ onOpenUser }: { onOpenUser(userId: string): void }) {
  const [text, setText] = useState('');
  const [query, setQuery] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setQuery(text.trim()), 250);
    return () => clearTimeout(timer);
  }, [text]);
  const users = useAdminUsers(query);
  const items = users.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section className="panel" aria-labelledby="users-title">
      <div className="panel__head">
        <h2 id="users-title" className="panel__title">
          Users
        </h2>
        {users.isFetching && users.data ? <Spinner /> : null}
      </div>
      <form
        role="search"
        className="admin-search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(text.trim());
        }}
      >
        <label className="field__label" htmlFor="user-search">
          Search users
        </label>
        <div className="field__control">
          <input
            id="user-search"
            type="search"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="E-mail (or part of it), or a user id"
            autoComplete="off"
            spellCheck={false}
          />
        </div>
      </form>
      {users.error ? <ApiErrorAlert error={readApiError(users.error)} /> : null}
      {users.isPending ? <Spinner label="Searching…" /> : null}
      {users.data && items.length === 0 ? <p className="muted">No user matches “{query}”.</p> : null}
      {items.length > 0 ? (
        <TableScroll label="Users table">
          <table className="admin-table" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Plan</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Credits
                </th>
                <th scope="col">Since</th>
              </tr>
            </thead>
            <tbody>
              {items.map((u) => (
                <UserRow key={u.id} user={u} onOpen={() => onOpenUser(u.id)} />
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {users.hasNextPage ? (
        <button type="button" className="btn btn--secondary" onClick={() => void users.fetchNextPage()} disabled={users.isFetchingNextPage}>
          {users.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}

export function userLabel(user: { email: string | null; isGuest: boolean; deleted: boolean; id: string }): string {
  if (user.deleted) return 'Deleted account';
  if (user.email) return user.email;
  return user.isGuest ? `Guest ${user.id.slice(0, 8)}` : user.id.slice(0, 8);
}

export function StatusBadges({ user }: { user: Pick<AdminUserRow, 'role' | 'blocked' | 'deleted' | 'isGuest'> }) {
  return (
    <>
      {user.role !== 'user' ? <span className="badge badge--accent">{user.role}</span> : null}
      {user.isGuest ? <span className="badge badge--quiet">guest</span> : null}
      {user.blocked && !user.deleted ? <span className="badge badge--danger">blocked</span> : null}
      {user.deleted ? <span className="badge badge--quiet">deleted</span> : null}
      {!user.blocked && !user.deleted && user.role === 'user' && !user.isGuest ? <span className="muted">active</span> : null}
    </>
  );
}

function UserRow({ user, onOpen }: { user: AdminUserRow; onOpen(): void }) {
  return (
    <tr>
      <td>
        <button type="button" className="link-button" onClick={onOpen}>
          {userLabel(user)}
        </button>
      </td>
      <td>{user.plan}</td>
      <td>
        <StatusBadges user={user} />
      </td>
      <td className="num">{formatCount(user.creditTokens)}</td>
      <td>{formatDateTime(user.createdAt)}</td>
    </tr>
  );
}
