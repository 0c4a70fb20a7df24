import { useEffect, useId, useRef, useState } from 'react';
import { Link } from 'react-router';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatDateTime, formatRelativeTime } from '../../lib/format.ts';
import { useMarkRead, useNotificationList, useUnreadCount, type NotificationItem } from './use-notifications.ts';
import './notifications.css';

/** The bell in the header: unread count, and a list of the latest notifications when opened. */
export function NotificationBell() {
  const [open, setOpen] = useState(false);
  const unread = useUnreadCount(true);
  const count = unread.data?.count ?? 0;
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && setOpen(false);
    const onClick = (event: MouseEvent) => {
      if (root.current && !root.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onClick);
    };
  }, [open]);

  const label = count > 0 ? `Notifications, ${count} unread` : 'Notifications';
  return (
    <div className="bell" ref={root}>
      <button
        type="button"
        className="icon-btn bell__button"
        aria-label={label}
        title={label}
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((v) => !v)}
      >
        <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
          />
        </svg>
        {count > 0 ? <span className="bell__count">{count > 99 ? '99+' : count}</span> : null}
      </button>
      {open ? <NotificationPanel id={panelId} onNavigate={() => setOpen(false)} /> : null}
    </div>
  );
}

function NotificationPanel({ id, onNavigate }: { id: string; onNavigate(): void }) {
  const list = useNotificationList(true);
  const markRead = useMarkRead();
  const items = list.data?.items ?? [];
  const now = new Date();
  const anyUnread = items.some((item) => item.readAt === null);
  return (
    <div className="bell__panel" id={id} role="region" aria-label="Notifications">
      <div className="bell__head">
        <strong>Notifications</strong>
        <button type="button" className="link-button" onClick={() => markRead.mutate({ all: true })} disabled={!anyUnread || markRead.isPending}>
          Mark all read
        </button>
      </div>
      {list.isPending ? <Spinner label="Loading…" /> : null}
      {list.error ? <p className="bell__empty">{readApiError(list.error).message}</p> : null}
      {list.data && items.length === 0 ? <p className="bell__empty">Nothing yet. You are told here when you reach 80%, 90% and 100% of a limit.</p> : null}
      {items.length > 0 ? (
        <ul className="bell__list">
          {items.map((item) => (
            <NotificationRow key={item.id} item={item} now={now} onRead={() => item.readAt === null && markRead.mutate({ ids: [item.id] })} />
          ))}
        </ul>
      ) : null}
      <div className="bell__foot">
        <Link to="/usage" onClick={onNavigate}>
          Usage and alert e-mails
        </Link>
      </div>
    </div>
  );
}

function NotificationRow({ item, now, onRead }: { item: NotificationItem; now: Date; onRead(): void }) {
  const unread = item.readAt === null;
  return (
    <li className={unread ? 'bell__item bell__item--unread' : 'bell__item'}>
      {/* The name is the visible text (title, body, time) plus the unread state: a screen reader hears what a sighted user reads. */}
      <button type="button" className="bell__item-button" onClick={onRead}>
        <span className={`bell__level bell__level--${item.threshold >= 100 ? 'full' : 'warn'}`} aria-hidden="true" />
        <span className="bell__text">
          <span className="bell__title">
            {item.title}
            {unread ? <span className="visually-hidden"> (unread; mark read)</span> : null}
          </span>
          <span className="bell__body">{item.body}</span>
          <time className="bell__time" dateTime={item.createdAt.toISOString()} title={formatDateTime(item.createdAt)}>
            {formatRelativeTime(item.createdAt, now)}
          </time>
        </span>
      </button>
    </li>
  );
}
