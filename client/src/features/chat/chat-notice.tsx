import { Link, useLocation } from 'react-router';
import { nextQuery } from '../../lib/navigation.ts';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { formatWait } from '../../lib/api-error.ts';
import { useCountdown } from '../../lib/use-countdown.ts';
import { describeReset, formatLocalTime } from '../usage/usage-math.ts';
import { describeLimitReset, inlineHint, limitRemedy, limitTitle, noticeKind, serviceTitle } from './chat-errors.ts';
import type { ChatNotice as Notice } from './chat-store.ts';

interface ChatNoticeProps {
  notice: Notice;
  /** A visitor or a guest: "Sign up" instead of "Upgrade". */
  isGuest: boolean;
  onDismiss(): void;
  onNewConversation(): void;
}

/** A refusal of chat.send, presented by its reason (see chat-errors.ts). */
export function ChatNotice({ notice, isGuest, onDismiss, onNewConversation }: ChatNoticeProps) {
  const { error } = notice;
  const kind = noticeKind(error.reason);
  // Signing up (or in) comes back to this conversation.
  const location = useLocation();
  const next = nextQuery(location.pathname, location.search);
  const remaining = useCountdown(notice.waitUntil);
  // Ticks, so the wait stays true while the notice is on screen.
  const untilReset = useCountdown(kind === 'limit' ? error.resetAt?.getTime() : undefined);

  if (kind === 'limit') {
    return (
      <div className="notice notice--limit" role="alert" data-limit={error.limit}>
        <NoticeIcon kind="limit" />
        <div className="notice__body">
          <p className="notice__title">{limitTitle(error)}</p>
          <p>{error.message}</p>
          {error.resetAt ? (
            <p className="notice__reset">
              <time dateTime={error.resetAt.toISOString()} title={`${describeReset(error.resetAt)}, your time`}>
                {untilReset === 0 ? 'It has reset: you can send again.' : describeLimitReset(error.resetAt)}
              </time>
            </p>
          ) : null}
          <div className="notice__actions">
            {limitRemedy(error) === 'limit' ? (
              <Link to="/usage#spend-limit" className="btn btn--primary btn--small">
                Change my spending limit
              </Link>
            ) : isGuest ? (
              <>
                <Link to={`/sign-up${next}`} className="btn btn--primary btn--small">
                  Sign up to keep chatting
                </Link>
                <Link to={`/sign-in${next}`} className="btn btn--ghost btn--small">
                  Sign in
                </Link>
              </>
            ) : (
              <>
                <Link to="/billing" className="btn btn--primary btn--small">
                  {limitRemedy(error) === 'topUp' ? 'Upgrade or top up' : 'Upgrade'}
                </Link>
                <Link to="/usage" className="btn btn--ghost btn--small">
                  See usage
                </Link>
              </>
            )}
          </div>
        </div>
        <DismissButton onClick={onDismiss} />
      </div>
    );
  }

  if (kind === 'wait') {
    const waiting = remaining !== undefined && remaining > 0;
    return (
      <div className="notice notice--wait" role="status">
        <NoticeIcon kind="wait" />
        <div className="notice__body">
          <p className="notice__title">{waiting ? 'Slow down a little' : 'Ready again'}</p>
          <p>
            {error.message}{' '}
            {waiting ? (
              <strong className="notice__countdown">You can send again in {formatWait(remaining)}.</strong>
            ) : remaining === 0 ? (
              <strong>You can send again now.</strong>
            ) : null}
          </p>
        </div>
        <DismissButton onClick={onDismiss} />
      </div>
    );
  }

  if (kind === 'service') {
    const waiting = remaining !== undefined && remaining > 0;
    return (
      <div className="notice notice--service" role="alert">
        <NoticeIcon kind="service" />
        <div className="notice__body">
          <p className="notice__title">{serviceTitle(error)}</p>
          <p>{error.message}</p>
          {error.reason === 'global_cap' && error.resetAt ? (
            <p className="notice__reset" title={`Chat opens again ${formatLocalTime(error.resetAt)}, your time`}>
              {describeLimitReset(error.resetAt)}
            </p>
          ) : waiting ? (
            <p className="notice__reset">Try again in {formatWait(remaining)}.</p>
          ) : null}
        </div>
        <DismissButton onClick={onDismiss} />
      </div>
    );
  }

  if (kind === 'inline' || kind === 'captcha') {
    const hint = inlineHint(error, isGuest);
    return (
      <div className="notice notice--inline" role="alert">
        <div className="notice__body">
          <p>
            <strong>{error.message}</strong> {hint}
          </p>
          {error.reason === 'conversation_too_long' ? (
            <div className="notice__actions">
              <button type="button" className="btn btn--secondary btn--small" onClick={onNewConversation}>
                New conversation
              </button>
            </div>
          ) : null}
          {error.upgrade && error.reason !== 'conversation_too_long' ? (
            <div className="notice__actions">
              <Link to={isGuest ? `/sign-up${next}` : '/billing'} className="btn btn--ghost btn--small">
                {isGuest ? 'Sign up for more' : 'See plans'}
              </Link>
            </div>
          ) : null}
        </div>
        <DismissButton onClick={onDismiss} />
      </div>
    );
  }

  return (
    <div className="notice notice--plain">
      <ApiErrorAlert key={notice.id} error={error} />
      <DismissButton onClick={onDismiss} />
    </div>
  );
}

function DismissButton({ onClick }: { onClick(): void }) {
  return (
    <button type="button" className="icon-btn notice__dismiss" onClick={onClick} aria-label="Dismiss">
      <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
        <path d="M5 5l10 10M15 5 5 15" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
      </svg>
    </button>
  );
}

function NoticeIcon({ kind }: { kind: 'limit' | 'wait' | 'service' }) {
  return (
    <span className="notice__icon" aria-hidden="true">
      <svg viewBox="0 0 20 20" width="20" height="20">
        {kind === 'limit' ? (
          <path
            fill="currentColor"
            d="M10 2a5 5 0 0 0-5 5v2H4.5A1.5 1.5 0 0 0 3 10.5v6A1.5 1.5 0 0 0 4.5 18h11a1.5 1.5 0 0 0 1.5-1.5v-6A1.5 1.5 0 0 0 15.5 9H15V7a5 5 0 0 0-5-5Zm-3 7V7a3 3 0 1 1 6 0v2Z"
          />
        ) : kind === 'wait' ? (
          <path fill="currentColor" d="M10 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm.9 4v3.6l2.6 2.6-1.3 1.3-3.1-3.1V6Z" />
        ) : (
          <path fill="currentColor" d="M10 2 1.5 17h17Zm-.9 5h1.8v4.6H9.1Zm0 6.2h1.8V15H9.1Z" />
        )}
      </svg>
    </span>
  );
}
