// usage.daily: the user's tokens, cost, messages and voice characters per UTC
// day, from the usage_daily roll-up (kept by a trigger on usage_events), with
// the days without usage filled in as zeros so a chart has every day.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { addDays, dayRange, utcDay } from '../lib/days.ts';

export interface UsageDay {
  /** 'YYYY-MM-DD', UTC. */
  day: string;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  costMicroUsd: number;
  /** Chat messages answered (every status). */
  messages: number;
  ttsChars: number;
}

export async function usageDaily(
  prisma: PrismaClient,
  userId: string,
  days: number,
  now = new Date(),
): Promise<{ days: UsageDay[]; totals: Omit<UsageDay, 'day'> }> {
  const today = utcDay(now);
  const first = addDays(today, -(days - 1));
  const rows = await prisma.$queryRaw<{ day: string; prompt: bigint; completion: bigint; cost: bigint; messages: bigint; tts: bigint }[]>(Prisma.sql`
    SELECT to_char(day, 'YYYY-MM-DD') AS day,
           SUM(prompt_tokens)::bigint AS prompt, SUM(completion_tokens)::bigint AS completion,
           SUM(cost_micro_usd)::bigint AS cost, COALESCE(SUM(requests) FILTER (WHERE kind = 'chat'), 0)::bigint AS messages,
           SUM(tts_chars)::bigint AS tts
      FROM usage_daily
     WHERE user_id = ${userId}::uuid AND day BETWEEN ${first}::date AND ${today}::date
     GROUP BY day`);
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const series = dayRange(first, today).map((day): UsageDay => {
    const r = byDay.get(day);
    const promptTokens = Number(r?.prompt ?? 0n);
    const completionTokens = Number(r?.completion ?? 0n);
    return {
      day,
      promptTokens,
      completionTokens,
      tokens: promptTokens + completionTokens,
      costMicroUsd: Number(r?.cost ?? 0n),
      messages: Number(r?.messages ?? 0n),
      ttsChars: Number(r?.tts ?? 0n),
    };
  });
  const totals = { promptTokens: 0, completionTokens: 0, tokens: 0, costMicroUsd: 0, messages: 0, ttsChars: 0 };
  for (const d of series) {
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += d[key];
  }
  return { days: series, totals };
}
