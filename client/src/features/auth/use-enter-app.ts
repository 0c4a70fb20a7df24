import { useNavigate, useSearchParams } from 'react-router';
import type { TMe } from '@chatmeter/shared/auth';
import { safeNextPath } from '../../lib/navigation.ts';
import { useSetSignedInUser } from './use-me.ts';

/** Where an auth page sends the user afterwards: `?next=` if it is a path on this site. */
export function useNextPath(): string {
  const [params] = useSearchParams();
  return safeNextPath(params.get('next'));
}

/** Records who is signed in now and moves into the app (replacing the auth page in history). */
export function useEnterApp() {
  const navigate = useNavigate();
  const setUser = useSetSignedInUser();
  const next = useNextPath();
  return (user: TMe) => {
    setUser(user);
    void navigate(next, { replace: true });
  };
}

export interface AuthPageState {
  email?: string;
  notice?: string;
}

export function readAuthPageState(state: unknown): AuthPageState {
  if (typeof state !== 'object' || state === null) return {};
  const { email, notice } = state as Record<string, unknown>;
  return { ...(typeof email === 'string' ? { email } : {}), ...(typeof notice === 'string' ? { notice } : {}) };
}

/** `?next=…` to carry between the auth pages, or nothing. */
export function useNextSuffix(): string {
  const [params] = useSearchParams();
  const next = params.get('next');
  return next ? `?next=${encodeURIComponent(next)}` : '';
}
