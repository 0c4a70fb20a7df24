import {
  ZChangePasswordInput,
  ZMagicLinkInfoInput,
  ZRequestMagicLinkInput,
  ZSignInInput,
  ZSignUpInput,
  ZVerifyMagicLinkInput,
  ZVerifyEmailInput,
  ZGuestInput,
  type TMe,
} from '@chatmeter/shared/auth';
import { requireCaptcha, startGuest } from '../auth/request-auth.ts';
import type { SessionUser } from '../auth/session.ts';
import type { PlanResolver } from '../plans/plan-resolver.ts';
import type { Context } from '../trpc/context.ts';
import { accountProcedure, authedProcedure, publicProcedure, router } from '../trpc/init.ts';

export function toMe(user: SessionUser, plans: PlanResolver): TMe {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    plan: plans.planFor(user).id,
    isGuest: user.isGuest,
    emailVerified: user.emailVerifiedAt !== null,
    limitedUntilVerified: plans.limitedUntilVerified(user),
  };
}

function requestInfo(ctx: Context) {
  return {
    ip: ctx.meta.ip,
    userAgent: ctx.meta.userAgent,
    current: ctx.user && ctx.session ? { sessionId: ctx.session.id, user: ctx.user } : null,
  };
}

export const authRouter = router({
  me: publicProcedure.query(({ ctx }) => (ctx.user ? toMe(ctx.user, ctx.deps.planResolver) : null)),

  /** A proof-of-work challenge for the altcha widget, or null when CAPTCHA=off. */
  captchaChallenge: publicProcedure.query(({ ctx }) => (ctx.deps.captcha.enabled ? ctx.deps.captcha.challenge() : null)),

  /** With CAPTCHA=on, like a guest session: a solved challenge, accepted once (a guest converting solves one too). */
  signUp: publicProcedure.input(ZSignUpInput).mutation(async ({ ctx, input }) => {
    await requireCaptcha(ctx.deps, input.captcha);
    const signedIn = await ctx.deps.auth.signUp(input, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user, ctx.deps.planResolver) };
  }),

  signIn: publicProcedure.input(ZSignInInput).mutation(async ({ ctx, input }) => {
    const signedIn = await ctx.deps.auth.signIn(input, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user, ctx.deps.planResolver) };
  }),

  /** Starts a bounded guest session for a visitor who has none. */
  guest: publicProcedure.input(ZGuestInput.optional()).mutation(async ({ ctx, input }) => {
    if (ctx.user) return { user: toMe(ctx.user, ctx.deps.planResolver) };
    const signedIn = await startGuest(ctx.deps, input?.captcha, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user, ctx.deps.planResolver) };
  }),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    if (ctx.session) await ctx.deps.sessions.invalidate(ctx.session.id);
    ctx.cookies.clearSession();
    return { ok: true as const };
  }),

  signOutEverywhere: authedProcedure.mutation(async ({ ctx }) => {
    const count = await ctx.deps.sessions.invalidateAllForUser(ctx.user.id);
    ctx.cookies.clearSession();
    return { ok: true as const, sessionsEnded: count };
  }),

  requestMagicLink: publicProcedure.input(ZRequestMagicLinkInput).mutation(async ({ ctx, input }) => {
    await ctx.deps.auth.requestMagicLink(input, requestInfo(ctx));
    return { ok: true as const };
  }),

  /** The masked address of a usable link, for the landing page's button; the token is not used. */
  magicLinkInfo: publicProcedure.input(ZMagicLinkInfoInput).query(({ ctx, input }) => ctx.deps.auth.magicLinkInfo(input, requestInfo(ctx))),

  verifyMagicLink: publicProcedure.input(ZVerifyMagicLinkInput).mutation(async ({ ctx, input }) => {
    const signedIn = await ctx.deps.auth.verifyMagicLink(input, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user, ctx.deps.planResolver) };
  }),

  /** Spends the link mailed at sign-up (or by resendVerification); no session needed, nobody is signed in. */
  verifyEmail: publicProcedure.input(ZVerifyEmailInput).mutation(async ({ ctx, input }) => {
    const { email } = await ctx.deps.auth.verifyEmail(input);
    return { ok: true as const, email };
  }),

  /** Mails a new verification link to the signed-in account (rate limited). */
  resendVerification: accountProcedure.mutation(({ ctx }) => ctx.deps.auth.resendVerification(ctx.user.id)),

  /** `{ hasPassword }`: the Account page asks for the current password only when there is one. */
  passwordStatus: accountProcedure.query(({ ctx }) => ctx.deps.auth.passwordStatus(ctx.user.id)),

  /** Sets a new password; ends every other session of the account. This browser stays signed in, on a new session. */
  changePassword: accountProcedure.input(ZChangePasswordInput).mutation(async ({ ctx, input }) => {
    const changed = await ctx.deps.auth.changePassword(input, {
      userId: ctx.user.id,
      sessionId: ctx.session.id,
      ip: ctx.meta.ip,
      userAgent: ctx.meta.userAgent,
    });
    ctx.cookies.setSession(changed.token, changed.expiresAt);
    return { ok: true as const, sessionsEnded: changed.sessionsEnded };
  }),

  sessions: accountProcedure.query(async ({ ctx }) => {
    const rows = await ctx.deps.sessions.listForUser(ctx.user.id);
    return rows.map((row) => ({ ...row, current: row.id === ctx.session.id }));
  }),
});
