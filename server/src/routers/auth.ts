import {
  ZRequestMagicLinkInput,
  ZSignInInput,
  ZSignUpInput,
  ZVerifyMagicLinkInput,
  ZGuestInput,
  type TMe,
} from '@chatmeter/shared/auth';
import type { SessionUser } from '../auth/session.ts';
import { AppError } from '../lib/app-error.ts';
import type { Context } from '../trpc/context.ts';
import { accountProcedure, authedProcedure, publicProcedure, router } from '../trpc/init.ts';

export function toMe(user: SessionUser): TMe {
  return { id: user.id, email: user.email, role: user.role, plan: user.planId, isGuest: user.isGuest };
}

function requestInfo(ctx: Context) {
  return {
    ip: ctx.meta.ip,
    userAgent: ctx.meta.userAgent,
    current: ctx.user && ctx.session ? { sessionId: ctx.session.id, user: ctx.user } : null,
  };
}

export const authRouter = router({
  me: publicProcedure.query(({ ctx }) => (ctx.user ? toMe(ctx.user) : null)),

  /** A proof-of-work challenge for the altcha widget, or null when CAPTCHA=off. */
  captchaChallenge: publicProcedure.query(({ ctx }) => (ctx.deps.captcha.enabled ? ctx.deps.captcha.challenge() : null)),

  /** With CAPTCHA=on, like a guest session: a solved challenge, accepted once (a guest converting solves one too). */
  signUp: publicProcedure.input(ZSignUpInput).mutation(async ({ ctx, input }) => {
    if (!(await ctx.deps.captcha.verify(input.captcha))) {
      throw new AppError('captcha_required', 'Please complete the check that you are human first.');
    }
    const signedIn = await ctx.deps.auth.signUp(input, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user) };
  }),

  signIn: publicProcedure.input(ZSignInInput).mutation(async ({ ctx, input }) => {
    const signedIn = await ctx.deps.auth.signIn(input, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user) };
  }),

  /** Starts a bounded guest session for a visitor who has none. */
  guest: publicProcedure.input(ZGuestInput.optional()).mutation(async ({ ctx, input }) => {
    if (ctx.user) return { user: toMe(ctx.user) };
    if (!(await ctx.deps.captcha.verify(input?.captcha))) {
      throw new AppError('captcha_required', 'Please complete the check that you are human first.');
    }
    const signedIn = await ctx.deps.auth.createGuest(requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user) };
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

  verifyMagicLink: publicProcedure.input(ZVerifyMagicLinkInput).mutation(async ({ ctx, input }) => {
    const signedIn = await ctx.deps.auth.verifyMagicLink(input, requestInfo(ctx));
    ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
    return { user: toMe(signedIn.user) };
  }),

  sessions: accountProcedure.query(async ({ ctx }) => {
    const rows = await ctx.deps.sessions.listForUser(ctx.user.id);
    return rows.map((row) => ({ ...row, current: row.id === ctx.session.id }));
  }),
});
