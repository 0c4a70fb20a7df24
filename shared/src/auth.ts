import { z } from 'zod';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** Emails are compared and stored trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const ZEmail = z
  .string()
  .trim()
  .min(3, 'Enter your e-mail address')
  .max(254, 'That e-mail address is too long')
  .pipe(z.email('Enter a valid e-mail address'))
  .transform(normaliseEmail);

export const ZPassword = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `Use at most ${PASSWORD_MAX_LENGTH} characters`);

export const ZSignUpInput = z.object({
  email: ZEmail,
  password: ZPassword,
  captcha: z.string().max(4096).optional(),
});
export type TSignUpInput = z.infer<typeof ZSignUpInput>;

export const ZSignInInput = z.object({
  email: ZEmail,
  // No length rule here: a sign-in must not reveal the password policy's limits per account.
  password: z.string().min(1, 'Enter your password').max(PASSWORD_MAX_LENGTH),
});
export type TSignInInput = z.infer<typeof ZSignInInput>;

/**
 * auth.changePassword: the new password follows sign-up's rules. The current one is
 * needed when the account has a password; an account that only ever used sign-in
 * links may set its first without it.
 */
export const ZChangePasswordInput = z.object({
  currentPassword: z.string().max(PASSWORD_MAX_LENGTH).optional(),
  newPassword: ZPassword,
});
export type TChangePasswordInput = z.infer<typeof ZChangePasswordInput>;

export const ZGuestInput = z.object({ captcha: z.string().max(8192).optional() });

export const ZRequestMagicLinkInput = z.object({ email: ZEmail });
export const ZVerifyMagicLinkInput = z.object({ token: z.string().min(16).max(128) });
export const ZVerifyEmailInput = z.object({ token: z.string().min(16).max(128) });

/** auth.magicLinkInfo reads what a link is for without using it up. */
export const ZMagicLinkInfoInput = ZVerifyMagicLinkInput;

export interface TMagicLinkInfo {
  /** The link's address, masked (`a…@example.com`). */
  email: string;
  /** Signing in turns the caller's guest session into the link's new account (it requested the link): its conversations stay. */
  mergesGuest: boolean;
}

export const ROLES = ['user', 'support', 'admin'] as const;
export type TRole = (typeof ROLES)[number];

export interface TMe {
  id: string;
  email: string | null;
  role: TRole;
  /** The plan whose limits apply now: `guest` for an account held back until it verifies its e-mail. */
  plan: string;
  isGuest: boolean;
  /** The stored fact: the address was proven (verification link, magic link, ADMIN_EMAIL, or the account predates verification). */
  emailVerified: boolean;
  /** Held to the guest plan's limits until the e-mail is verified (EMAIL_VERIFICATION=required, a plan that costs nothing). */
  limitedUntilVerified: boolean;
}
