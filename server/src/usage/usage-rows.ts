// The user's usage events as usage.history and the export show them (rows, not a ledger: the ledger is the SQL functions): one select
// and one mapping, so the CSV/JSON export and the paginated history agree.
import type { Prisma } from '@chatmeter/db/client';

export const usageEventSelect = {
  id: true,
  createdAt: true,
  kind: true,
  model: true,
  provider: true,
  promptTokens: true,
  completionTokens: true,
  costMicroUsd: true,
  status: true,
  estimated: true,
  ttsChars: true,
  creditTokens: true,
} satisfies Prisma.UsageEventSelect;

type UsageEventRow = Prisma.UsageEventGetPayload<{ select: typeof usageEventSelect }>;

export function toUsageItem(r: UsageEventRow) {
  return { ...r, id: r.id.toString(), costMicroUsd: Number(r.costMicroUsd), creditTokens: Number(r.creditTokens) };
}

export type UsageItem = ReturnType<typeof toUsageItem>;

/** Column order of the CSV export (the history item's fields). */
export const USAGE_EXPORT_COLUMNS = [
  'id',
  'createdAt',
  'kind',
  'model',
  'provider',
  'promptTokens',
  'completionTokens',
  'costMicroUsd',
  'status',
  'estimated',
  'ttsChars',
  'creditTokens',
] as const satisfies readonly (keyof UsageItem)[];
