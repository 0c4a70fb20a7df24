/**
 * Where to go after signing in: only a path on this site. Anything else (another
 * origin, a protocol-relative `//host`, a back-slash trick) falls back to `/`, so a
 * crafted `?next=` cannot send someone off-site.
 */
export function safeNextPath(next: string | null | undefined, fallback = '/'): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.includes('\\')) return fallback;
  try {
    const url = new URL(next, 'http://chatmeter.invalid');
    if (url.origin !== 'http://chatmeter.invalid') return fallback;
    if (url.pathname === '/sign-in' || url.pathname === '/sign-up' || url.pathname === '/magic-link') return fallback;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return fallback;
  }
}

/** The `?next=` query for the current location, or an empty string for the home page. */
export function nextQuery(pathname: string, search = ''): string {
  const target = `${pathname}${search}`;
  return target === '/' || safeNextPath(target, '') === '' ? '' : `?next=${encodeURIComponent(target)}`;
}

export type SignedOutKind = 'here' | 'everywhere';

/** The sign-in address after a sign-out; the page turns the marker into a notice. */
export function signedOutUrl(kind: SignedOutKind): string {
  return `/sign-in?signed-out=${kind}`;
}

export function signedOutNotice(marker: string | null): string | undefined {
  if (marker === 'here') return 'You have signed out.';
  if (marker === 'everywhere') return 'You have signed out on every device.';
  return undefined;
}

/**
 * Leaves the app with a full page load rather than a client-side navigation, so
 * nothing of the previous user (cached queries, component state, open streams)
 * stays in memory after a sign-out.
 */
export function leaveAfterSignOut(kind: SignedOutKind): void {
  window.location.assign(signedOutUrl(kind));
}
