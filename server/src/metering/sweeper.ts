// Reservations carry an expiry. One whose server died mid-stream (or whose
// stream never settled) would hold its quota forever; the sweeper settles it
// "as estimated": the prompt estimate plus the whole completion cap it held,
// status 'expired'. Charging the cap errs on the side of the operator's bill;
// settlement is idempotent, so several instances may sweep at once. What the
// reply had relayed (saved in the reservation while it streamed) is stored as
// the assistant message, marked 'interrupted', so the user keeps what they saw.
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { requireModelPrice, type TModelPrice } from '@chatmeter/shared/pricing';
import type { Logger } from '../lib/logger.ts';
import type { Meter } from './meter.ts';

export async function sweepExpiredReservations(
  prisma: PrismaClient,
  meter: Meter,
  pricing: readonly TModelPrice[],
  options: { now?: Date; limit?: number; logger?: Logger; providerFor?: (model: string) => string | undefined } = {},
): Promise<number> {
  const now = options.now ?? new Date();
  const rows = await prisma.$queryRaw<
    { id: string; model: string | null; prompt_tokens: bigint; global_tokens: bigint; is_guest: boolean | null; partial_content: string | null }[]
  >(Prisma.sql`
    SELECT r.id, r.model, r.prompt_tokens, r.global_tokens, u.is_guest, r.partial_content
      FROM reservations r LEFT JOIN users u ON u.id = r.user_id
     WHERE r.status = 'held' AND r.kind = 'chat' AND r.expires_at < ${now}::timestamptz
     ORDER BY r.expires_at
     LIMIT ${options.limit ?? 200}`);
  let settled = 0;
  for (const row of rows) {
    const model = row.model ?? 'demo';
    let price: TModelPrice;
    try {
      price = requireModelPrice(pricing, model);
    } catch {
      price = requireModelPrice(pricing, 'demo');
    }
    const prompt = Number(row.prompt_tokens);
    const completion = Math.max(0, Number(row.global_tokens) - prompt);
    const result = await meter.settleChat({
      reservationId: row.id,
      isGuest: row.is_guest ?? false,
      ipHash: '',
      model,
      // The reservation does not name the provider: the model's route does (it has one provider).
      provider: options.providerFor?.(model) ?? null,
      price,
      promptTokens: prompt,
      completionTokens: completion,
      cachedTokens: 0,
      estimated: true,
      status: 'expired',
      latencyMs: 0,
      ...(row.partial_content
        ? { assistant: { messageId: randomUUID(), content: row.partial_content, finishReason: null, status: 'interrupted' }, clearPartial: true }
        : {}),
    });
    if (result) settled++;
  }
  if (settled > 0) options.logger?.warn({ settled }, 'settled expired chat reservations as estimated');
  return settled;
}
