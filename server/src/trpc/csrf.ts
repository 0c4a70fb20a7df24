// CSRF defence for cookie sessions (lucia-auth.com's guide): a state-changing
// request must come from our own origin. Browsers send Origin on every POST; a
// request without one is not a browser's cross-site request unless
// Sec-Fetch-Site says so.
import type { Request } from 'express';

export function isAllowedOrigin(req: Request, allowed: string[]): boolean {
  const method = req.method.toUpperCase();
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return true;
  const origin = req.get('origin');
  if (!origin) return req.get('sec-fetch-site') !== 'cross-site';
  if (allowed.length > 0) return allowed.includes(origin);
  try {
    // Same host and port as the request; express's req.host honours TRUST_PROXY (X-Forwarded-Host).
    return new URL(origin).host === req.host;
  } catch {
    return false;
  }
}
