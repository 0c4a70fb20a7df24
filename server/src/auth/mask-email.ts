// What a page may show of an address it has not proven to own: enough for the
// owner to recognise it, too little to learn it.

/** `alice@example.com` -> `a…@example.com`: the first character of the local part and the domain. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '…';
  return `${Array.from(email.slice(0, at))[0]}…${email.slice(at)}`;
}
