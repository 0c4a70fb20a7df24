import { Link } from 'react-router';
import { formatCount } from '../../lib/format.ts';
import { describeReset, formatCompact, formatIn, levelOf, type Allowance } from './usage-math.ts';
import './usage.css';

/**
 * What is left, at a glance: messages today, tokens this month and credits. Each
 * bar shows what remains (a full bar is a fresh allowance).
 */
export function QuotaMeter({ allowance, loading = false, linkToUsage = true }: { allowance: Allowance | null; loading?: boolean; linkToUsage?: boolean }) {
  if (!allowance) {
    return (
      <div className="quota quota--loading" role="group" aria-label="Your allowance" aria-busy={loading || undefined}>
        <span className="muted">Loading your allowance…</span>
      </div>
    );
  }
  const now = new Date();
  const hourBites = allowance.messagesLeftThisHour < allowance.messagesLeftToday;
  const messagesLeft = Math.min(allowance.messagesLeftToday, allowance.messagesLeftThisHour);
  return (
    <div className="quota" role="group" aria-label="Your allowance">
      <QuotaItem
        left={allowance.messagesLeftToday}
        total={allowance.messagesPerDay}
        label="messages left today"
        note={
          messagesLeft === 0
            ? `resets ${formatIn(allowance.messagesResetAt, now)}`
            : hourBites
              ? `${formatCount(allowance.messagesLeftThisHour)} this hour`
              : undefined
        }
        title={messagesLeft === 0 ? describeReset(allowance.messagesResetAt, now) : undefined}
      />
      <QuotaItem
        left={allowance.tokensLeftThisMonth}
        total={allowance.tokensPerMonth}
        label="tokens left this month"
        note={allowance.tokensLeftThisMonth === 0 ? `resets ${formatIn(allowance.tokensResetAt, now)}` : undefined}
        title={`${formatCount(allowance.tokensLeftThisMonth)} of ${formatCount(allowance.tokensPerMonth)}. ${describeReset(allowance.tokensResetAt, now)}`}
      />
      {allowance.creditTokens !== null ? (
        <div className="quota__item quota__item--credits">
          <span className="quota__text">
            <strong title={`${formatCount(allowance.creditTokens)} tokens`}>{formatCompact(allowance.creditTokens)}</strong> credit tokens
          </span>
        </div>
      ) : null}
      {linkToUsage ? (
        <Link to="/usage" className="quota__more">
          Usage details
        </Link>
      ) : null}
    </div>
  );
}

function QuotaItem({ left, total, label, note, title }: { left: number; total: number; label: string; note?: string | undefined; title?: string | undefined }) {
  const level = levelOf(total - left, total);
  const percent = total > 0 ? Math.round((left / total) * 100) : 0;
  return (
    <div className={`quota__item quota__item--${level}`} title={title}>
      <span className="quota__text">
        <strong>{formatCompact(left)}</strong> of {formatCompact(total)} {label}
        {note ? <span className="quota__note"> ({note})</span> : null}
      </span>
      <span className="quota__bar" aria-hidden="true">
        <span style={{ width: `${percent}%` }} />
      </span>
    </div>
  );
}
