import type { TMe } from '@chatmeter/shared/auth';

/** The Admin area is for staff: admins, and support with read-only tools. */
export function canSeeAdmin(me: Pick<TMe, 'role'> | null | undefined): boolean {
  return me?.role === 'admin' || me?.role === 'support';
}

export function displayName(me: Pick<TMe, 'email' | 'isGuest'>): string {
  return me.isGuest || !me.email ? 'Guest' : me.email;
}
