// The one tRPC setup file: initTRPC is called here only, and this module exports
// the router factory and the named procedures the routers build on.
import { initTRPC, TRPCError } from '@trpc/server';
import { ERROR_REASONS } from '@chatmeter/shared/errors';
import { AppError } from '../lib/app-error.ts';
import { clientNetwork } from '../rate-limit/client-network.ts';
import { transformer } from './body.ts';
import type { Context } from './context.ts';
import { errorFormatter } from './error-formatter.ts';

export interface Meta {
  /** Name of a limiter in rate-limit/limiters.ts, keyed by user id or IP. */
  rateLimit?: string;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer,
    errorFormatter,
    // Streaming procedures ping so proxies keep slow streams open.
    sse: { ping: { enabled: true, intervalMs: 15_000 } },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export function toTRPCError(error: AppError): TRPCError {
  return new TRPCError({ code: ERROR_REASONS[error.reason], message: error.message, cause: error });
}

/** Counts the refusal (best effort) and gives the contract's tRPC error for it. */
async function refusal(ctx: Context, path: string, cause: AppError): Promise<TRPCError> {
  await ctx.deps.refusals.record(path, cause.reason);
  return toTRPCError(cause);
}

/**
 * The one middleware every procedure starts with (one rather than three: each tRPC middleware
 * copies the call's options twice, a streamed chat's visible cost, issue 17):
 * - csrf: a mutation from another site is refused;
 * - rate limit: the procedure's limiter (`meta.rateLimit`), keyed by user id or IP;
 * - errors: an AppError, from the checks above or from the procedure, becomes the contract's
 *   tRPC code (the formatter adds `reason`), and refusals on the metered paths are counted per
 *   day and reason (best effort, for admin.overview).
 */
const entry = t.middleware(async ({ ctx, type, meta, path, next }) => {
  try {
    if (type === 'mutation' && !ctx.originOk) {
      throw new AppError('csrf', 'This request came from another site and was refused.');
    }
    if (meta?.rateLimit) await ctx.deps.limiters.consume(meta.rateLimit, ctx.user?.id ?? `ip:${clientNetwork(ctx.meta.ip)}`);
  } catch (cause) {
    throw cause instanceof AppError ? await refusal(ctx, path, cause) : cause;
  }
  const result = await next();
  // tRPC wraps the procedure's unknown errors in INTERNAL_SERVER_ERROR; re-issue an AppError with the right code.
  if (!result.ok && result.error.cause instanceof AppError) (result as { error: TRPCError }).error = await refusal(ctx, path, result.error.cause);
  return result;
});

export const publicProcedure = t.procedure.use(entry);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user || !ctx.session) throw new AppError('unauthenticated', 'Please sign in first.');
  if (ctx.user.blockedAt) throw new AppError('blocked', 'This account has been blocked. Contact support.');
  return next({ ctx: { ...ctx, user: ctx.user, session: ctx.session } });
});

/** Signed-in with an account (not a guest). */
export const accountProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.isGuest) throw new AppError('unauthenticated', 'Please sign up or sign in to do this.');
  return next();
});

export const supportProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'support' && ctx.user.role !== 'admin') {
    throw new AppError('forbidden_role', 'This needs a support or admin account.');
  }
  return next();
});

export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new AppError('forbidden_role', 'This needs an admin account.');
  return next();
});
