import './conversation-tools.css';

/** Shown while the reader is scrolled up from the end of the log; brings them back to the newest message. */
export function JumpToLatest({ onJump }: { onJump(): void }) {
  return (
    <div className="jump-latest">
      <button type="button" className="jump-latest__btn" onClick={onJump}>
        <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
          <path d="M10 4v11m0 0-4.5-4.5M10 15l4.5-4.5" fill="none" stroke="currentColor" strokeWidth="1.9" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
        Jump to latest
      </button>
    </div>
  );
}
