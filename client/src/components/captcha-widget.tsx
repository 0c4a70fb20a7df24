// The proof-of-work check (ALTCHA web component, self-hosted, no third party).
// The widget's code is loaded on first use (a separate chunk), and it solves
// challenges in Web Workers made from blob: URLs and injects its <style> into
// <head>: both allowed by our CSP (worker-src 'self' blob:; style-src 'self'
// 'unsafe-inline'); it has no eval and no inline scripts.
//
// The challenge comes from our API (auth.captchaChallenge), never from a URL
// the widget fetches itself: pass `getChallenge` (a fresh challenge on every
// attempt, the better choice) or a `challenge` you already have. When solved,
// `onSolved(payload)` gets the string to send as `captcha` with auth.guest,
// auth.signUp or chat.send. A payload is accepted once: after the server has
// used it, remount the widget (change its `key`) for the next check.
import { useEffect, useRef, useState, type DetailedHTMLProps, type HTMLAttributes } from 'react';
import type { AltchaWidgetElement } from 'altcha';
import type { Challenge as AltchaChallenge } from 'altcha/types';

type WidgetState = 'unverified' | 'verifying' | 'verified' | 'expired' | 'error' | 'code';

export interface CaptchaWidgetProps {
  /** Fetches a fresh challenge, e.g. `() => trpc.auth.captchaChallenge.query()`. Called each time solving starts. */
  getChallenge?: () => Promise<unknown>;
  /**
   * A challenge already fetched. When it changes the widget starts over with it; after it expires
   * (`onReset`, 10 minutes) pass a new one. Ignored if `getChallenge` is given.
   */
  challenge?: unknown;
  /** The payload to send as `captcha`. */
  onSolved: (payload: string) => void;
  /** The last payload is no longer good (the challenge expired or the check was reset): forget it. */
  onReset?: () => void;
  /** Getting or solving the challenge failed; the widget shows the error and the visitor can retry. */
  onError?: (error: Error) => void;
  /** Start solving as soon as the widget is shown instead of when the visitor ticks the box. */
  autoStart?: boolean;
  className?: string;
}

// The widget's tag for TypeScript (React 19 passes unknown props on custom elements as attributes/properties).
declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'altcha-widget': DetailedHTMLProps<HTMLAttributes<AltchaWidgetElement>, AltchaWidgetElement> & {
        auto?: 'off' | 'onfocus' | 'onload' | 'onsubmit';
        challenge?: string;
        configuration?: string;
        display?: 'standard' | 'bar' | 'floating' | 'overlay' | 'invisible';
        language?: string;
        name?: string;
        theme?: string;
        type?: 'native' | 'checkbox' | 'switch';
        workers?: number;
      };
    }
  }
}

/** Never fetched: the widget's fetch is replaced by `getChallenge` (a URL the widget can parse, so not JSON). */
const CHALLENGE_SOURCE = 'chatmeter:captcha-challenge';

let widgetLoaded: Promise<unknown> | undefined;
function loadWidget(): Promise<unknown> {
  // Registers <altcha-widget> and the built-in SHA/PBKDF2 workers.
  widgetLoaded ??= import('altcha');
  return widgetLoaded;
}

export function CaptchaWidget({ getChallenge, challenge, onSolved, onReset, onError, autoStart = false, className }: CaptchaWidgetProps) {
  const ref = useRef<AltchaWidgetElement>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  // Latest callbacks without re-running the effect (which would reset the widget).
  const callbacks = useRef({ getChallenge, onSolved, onReset, onError });
  useEffect(() => {
    callbacks.current = { getChallenge, onSolved, onReset, onError };
  });
  const dynamic = getChallenge !== undefined;

  // biome-ignore lint/correctness/useExhaustiveDependencies: a fixed challenge restarts the widget when it changes; a fetched one (getChallenge) must not, and callbacks are read through a ref.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let cancelled = false;
    // One onError per failed attempt: our own fetch reports its error, anything else (a worker that
    // could not start, no solution in time) shows up as the widget's `error` state.
    let reported = false;
    const reportError = (error: unknown) => {
      if (reported) return;
      reported = true;
      callbacks.current.onError?.(error instanceof Error ? error : new Error(String(error)));
    };

    const onVerified = (event: Event) => {
      const payload = (event as CustomEvent<{ payload?: unknown }>).detail?.payload;
      if (typeof payload === 'string' && payload) callbacks.current.onSolved(payload);
    };
    const onStateChange = (event: Event) => {
      const state = (event as CustomEvent<{ state?: WidgetState }>).detail?.state;
      if (state === 'verifying') reported = false;
      if (state === 'error') reportError(new Error('The human check could not be completed. Please try again.'));
      // Any state but `verified` means the previous payload (if any) is gone.
      if (state && state !== 'verified' && state !== 'code') callbacks.current.onReset?.();
    };
    el.addEventListener('verified', onVerified);
    el.addEventListener('statechange', onStateChange);

    // Our challenge source, answering like the HTTP endpoint the widget would otherwise call.
    const challengeFetch: typeof fetch = async () => {
      try {
        const fresh = await callbacks.current.getChallenge!();
        if (!fresh || typeof fresh !== 'object') throw new Error('No captcha challenge (is the captcha turned off on the server?)');
        return new Response(JSON.stringify(fresh), { status: 200, headers: { 'content-type': 'application/json' } });
      } catch (error) {
        reportError(error);
        throw error;
      }
    };

    const configure = async () => {
      if (cancelled) return;
      await el.configure({
        challenge: dynamic ? CHALLENGE_SOURCE : ((challenge ?? null) as AltchaChallenge | null),
        ...(dynamic ? { fetch: challengeFetch } : {}),
        // No server-side support for the optional interaction signature: do not collect it.
        humanInteractionSignature: false,
      });
      if (cancelled) return;
      el.reset();
      if (autoStart) void el.verify();
    };

    const onLoad = () => void configure().catch(reportError);
    loadWidget().then(
      () => {
        if (cancelled) return;
        // Methods exist once the element has mounted (a microtask after upgrade); else it sends `load`.
        if (typeof el.configure === 'function') onLoad();
        else el.addEventListener('load', onLoad, { once: true });
      },
      (error: unknown) => {
        if (cancelled) return;
        setLoadError('The human check could not be loaded. Reload the page to try again.');
        reportError(error);
      },
    );

    return () => {
      cancelled = true;
      el.removeEventListener('verified', onVerified);
      el.removeEventListener('statechange', onStateChange);
      el.removeEventListener('load', onLoad);
      // Stop any workers still solving.
      if (typeof el.reset === 'function') el.reset();
    };
    // A new static challenge (or switching modes) starts over; callbacks are read through the ref.
  }, [dynamic, dynamic ? null : challenge, autoStart]);

  return (
    <div className={className ? `captcha-widget ${className}` : 'captcha-widget'}>
      <altcha-widget ref={ref} name="captcha" />
      {loadError ? (
        <p className="captcha-widget__error" role="alert">
          {loadError}
        </p>
      ) : null}
    </div>
  );
}
