import { useEffect, useState } from 'react';
import './conversation-tools.css';

/** The Clipboard API where the page may use it; else the old select-and-copy way. */
export async function copyText(text: string): Promise<void> {
  if (typeof navigator !== 'undefined' && navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy refused');
}

/** Copies a whole message as it was written (its Markdown source, not the rendered page). */
export function CopyMessageButton({ text, who }: { text: string; who: 'user' | 'assistant' }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    // Only how long the confirmation stays on screen.
    const timer = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  const label = state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy';
  return (
    <button
      type="button"
      className="msg-copy"
      data-state={state}
      aria-label={state === 'idle' ? (who === 'user' ? 'Copy your message' : 'Copy reply') : label}
      onClick={() => {
        copyText(text).then(
          () => setState('copied'),
          () => setState('failed'),
        );
      }}
    >
      <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
        {state === 'copied' ? (
          <path d="m4.5 10.5 3.5 3.5 7.5-8" fill="none" stroke="currentColor" strokeWidth="1.9" strokeLinecap="round" strokeLinejoin="round" />
        ) : (
          <path
            fill="currentColor"
            d="M7 2.5h7.5A2.5 2.5 0 0 1 17 5v7.5a2.5 2.5 0 0 1-2.5 2.5H14v.5a2.5 2.5 0 0 1-2.5 2.5h-6A2.5 2.5 0 0 1 3 15.5v-6A2.5 2.5 0 0 1 5.5 7H6v-.5A4 4 0 0 1 7 2.5Zm0 1.6c-.5.3-.9.8-.9 1.4V12c0 .8.6 1.4 1.4 1.4h7c.8 0 1.4-.6 1.4-1.4V5c0-.8-.6-1.4-1.4-1.4H7.5ZM6 8.6h-.5c-.5 0-.9.4-.9.9v6c0 .5.4.9.9.9h6c.5 0 .9-.4.9-.9V15H7.5A3 3 0 0 1 6 14.6Z"
          />
        )}
      </svg>
      <span aria-hidden="true">{label}</span>
    </button>
  );
}
