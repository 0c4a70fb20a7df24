import { ZTtsSpeakInput } from '@chatmeter/shared/tts';
import { authedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const ttsRouter = router({
  /** The worker's voices (cached briefly) and the default one; provider_unavailable when no worker answers. */
  voices: publicProcedure.query(({ ctx }) => ctx.deps.tts.voices()),

  /** Reads one of the user's assistant messages aloud: `{ audioUrl, durationMs, chars, voice, mime, cached }`. */
  speak: authedProcedure.input(ZTtsSpeakInput).mutation(async ({ ctx, input, signal }) => {
    const spoken = await ctx.deps.metrics.timeTts(() => ctx.deps.tts.speak(ctx.user, input, { requestId: ctx.meta.requestId, signal }));
    // Voice characters have alert thresholds too (alerts/alert-service.ts).
    ctx.deps.alerts.afterUsage({ user: ctx.user });
    return spoken;
  }),
});
