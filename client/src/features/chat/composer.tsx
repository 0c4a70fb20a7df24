import { useEffect, useId, useRef, type FormEvent, type KeyboardEvent, type ReactNode, type Ref } from 'react';
import { formatCount } from '../../lib/format.ts';

export interface ComposerProps {
  value: string;
  onChange(value: string): void;
  onSend(): void;
  onStop(): void;
  /** A reply is streaming: the button stops it. */
  streaming: boolean;
  /** A reply read aloud as it streamed is still playing: Stop shows (and silences it), sending stays possible. */
  speaking?: boolean;
  /** Why sending is not possible right now (shown next to the button), or null. */
  blockedReason: string | null;
  maxChars: number | null;
  placeholder: string;
  inputRef?: Ref<HTMLTextAreaElement>;
  /** Shown above the input (e.g. the human check). */
  before?: ReactNode;
}

const MAX_HEIGHT_PX = 220;

/** Enter sends, Shift+Enter adds a line; the counter follows the plan's longest message. */
export function Composer({
  value,
  onChange,
  onSend,
  onStop,
  streaming,
  speaking = false,
  blockedReason,
  maxChars,
  placeholder,
  inputRef,
  before,
}: ComposerProps) {
  const id = useId();
  const textarea = useRef<HTMLTextAreaElement | null>(null);
  const length = value.trim().length;
  const over = maxChars !== null && length > maxChars;
  const near = maxChars !== null && !over && length >= maxChars * 0.9;
  const canSend = !streaming && length > 0 && !over && blockedReason === null;

  // Grows with its text up to a limit, then scrolls.
  // biome-ignore lint/correctness/useExhaustiveDependencies: measured again whenever the text changes (read from the element, not from value).
  useEffect(() => {
    const el = textarea.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [value]);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    // Send is disabled while the reply streams: focus would fall to the page, so it goes back to the
    // input, where Escape stops the reply and the next message can be typed.
    const fromButton = typeof document !== 'undefined' && document.activeElement instanceof HTMLButtonElement;
    onSend();
    if (fromButton) textarea.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
    if (event.key === 'Escape' && (streaming || speaking)) {
      event.preventDefault();
      onStop();
    }
  };

  const setRefs = (el: HTMLTextAreaElement | null) => {
    textarea.current = el;
    if (typeof inputRef === 'function') inputRef(el);
    else if (inputRef) (inputRef as { current: HTMLTextAreaElement | null }).current = el;
  };

  return (
    <form className={`composer${over ? ' composer--over' : ''}`} onSubmit={submit} aria-label="Send a message">
      {before}
      <div className="composer__row">
        <label htmlFor={`${id}-input`} className="visually-hidden">
          Message
        </label>
        <textarea
          ref={setRefs}
          id={`${id}-input`}
          className="composer__input"
          rows={1}
          value={value}
          placeholder={placeholder}
          onChange={(event) => onChange(event.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby={`${id}-help ${id}-count`}
          aria-invalid={over || undefined}
          enterKeyHint="send"
        />
        {/* Stop appears beside Send, never in its place: the second click of a double click on Send, or a
            nervous click on it while the reply streams, lands on the disabled Send and does nothing. */}
        {streaming || speaking ? (
          <button type="button" className="btn btn--secondary composer__button composer__stop" onClick={onStop}>
            <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
              <rect x="4" y="4" width="12" height="12" rx="2" fill="currentColor" />
            </svg>
            Stop
          </button>
        ) : null}
        <button
          type="submit"
          className="btn btn--primary composer__button composer__send"
          disabled={!canSend}
          aria-describedby={blockedReason ? `${id}-blocked` : undefined}
        >
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path d="M10 16V4M5 9l5-5 5 5" stroke="currentColor" strokeWidth="2" fill="none" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          Send
        </button>
      </div>
      <div className="composer__foot">
        <span id={`${id}-help`} className="composer__help">
          {blockedReason ? (
            <span id={`${id}-blocked`} className="composer__blocked">
              {blockedReason}
            </span>
          ) : over ? (
            <span className="composer__blocked">Longer than your plan allows in one message: shorten it to send.</span>
          ) : (
            <>
              <kbd>Enter</kbd> to send, <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
            </>
          )}
        </span>
        {maxChars !== null ? (
          <span id={`${id}-count`} className={`composer__count${over ? ' is-over' : near ? ' is-near' : ''}`}>
            <span className="visually-hidden">Characters used: </span>
            {formatCount(length)} / {formatCount(maxChars)}
            {over ? <span className="composer__over"> · {formatCount(length - maxChars)} too many</span> : null}
          </span>
        ) : (
          <span id={`${id}-count`} />
        )}
      </div>
    </form>
  );
}
