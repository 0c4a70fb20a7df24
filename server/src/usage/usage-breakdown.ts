// usage.breakdown: the user's usage in the current billing period per kind, model
// and provider (the Usage tab's cost chart), from the raw events (RETENTION_DAYS
// keeps at least two months of them, as usage.summary's period cost relies on).
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { MonthPeriod } from '../metering/periods.ts';

export interface UsageBreakdownItem {
  kind: string;
  model: string;
  /** '' for voice, and for usage from before providers were recorded. */
  provider: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  costMicroUsd: number;
  ttsChars: number;
}

export interface UsageBreakdown {
  period: { start: Date; end: Date };
  /** Most expensive first. */
  items: UsageBreakdownItem[];
  total: { requests: number; tokens: number; costMicroUsd: number };
}

export async function usageBreakdown(prisma: PrismaClient, userId: string, period: MonthPeriod): Promise<UsageBreakdown> {
  const rows = await prisma.$queryRaw<
    { kind: string; model: string; provider: string; requests: bigint; prompt: bigint; completion: bigint; cost: bigint; tts: bigint }[]
  >(Prisma.sql`
    SELECT kind, COALESCE(model, '') AS model, COALESCE(provider, '') AS provider, count(*)::bigint AS requests,
           COALESCE(sum(prompt_tokens), 0)::bigint AS prompt, COALESCE(sum(completion_tokens), 0)::bigint AS completion,
           COALESCE(sum(cost_micro_usd), 0)::bigint AS cost, COALESCE(sum(tts_chars), 0)::bigint AS tts
      FROM usage_events
     WHERE user_id = ${userId}::uuid AND created_at >= ${period.start} AND created_at < ${period.end}
     GROUP BY 1, 2, 3`);
  const items = rows
    .map((r): UsageBreakdownItem => {
      const promptTokens = Number(r.prompt);
      const completionTokens = Number(r.completion);
      return {
        kind: r.kind,
        model: r.model,
        provider: r.provider,
        requests: Number(r.requests),
        promptTokens,
        completionTokens,
        tokens: promptTokens + completionTokens,
        costMicroUsd: Number(r.cost),
        ttsChars: Number(r.tts),
      };
    })
    .sort((a, b) => b.costMicroUsd - a.costMicroUsd || b.requests - a.requests || a.model.localeCompare(b.model) || a.provider.localeCompare(b.provider));
  const total = { requests: 0, tokens: 0, costMicroUsd: 0 };
  for (const item of items) {
    total.requests += item.requests;
    total.tokens += item.tokens;
    total.costMicroUsd += item.costMicroUsd;
  }
  return { period: { start: period.start, end: period.end }, items, total };
}
