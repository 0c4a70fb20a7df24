// The shape of OpenAI's Costs API answer (GET /v1/organization/costs), shared
// by the daily fetch and `npm run reconcile -- --file` (an export of the same
// shape: one page, or an array of pages), and its reduction to one provider
// cost per UTC day in integer micro-USD.
import { z } from 'zod';
import { sumUsdToMicrosRounded } from '@chatmeter/shared/money';
import { utcDay } from '../lib/days.ts';

const DAY_SECONDS = 24 * 60 * 60;

/** A decimal dollar amount: OpenAI sends a JSON number; an export may carry it as text. */
const ZAmountValue = z.union([
  z.number().refine(Number.isFinite, 'must be a finite number'),
  z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, 'must be a decimal number'),
]);

export const ZCostsResult = z.object({
  object: z.literal('organization.costs.result'),
  // The SDK's types make both optional; a result without an amount adds nothing.
  amount: z
    .object({
      value: ZAmountValue.optional(),
      currency: z
        .string()
        .optional()
        .refine((c) => c === undefined || c.toLowerCase() === 'usd', 'only USD amounts can be compared with the meter'),
    })
    .optional(),
  line_item: z.string().nullable().optional(),
  project_id: z.string().nullable().optional(),
});

export const ZCostsBucket = z
  .object({
    object: z.literal('bucket'),
    start_time: z.number().int().nonnegative(),
    end_time: z.number().int().nonnegative(),
    results: z.array(ZCostsResult),
  })
  .refine((b) => b.end_time > b.start_time && b.end_time - b.start_time <= DAY_SECONDS, {
    message: 'a bucket must span at most one day (bucket_width=1d)',
    path: ['end_time'],
  });

export const ZCostsPage = z.object({
  object: z.literal('page'),
  data: z.array(ZCostsBucket),
  has_more: z.boolean(),
  next_page: z.string().nullable(),
});
export type TCostsPage = z.infer<typeof ZCostsPage>;

const ZCostsPages = z.array(ZCostsPage).min(1, 'the file holds no pages');

/**
 * What `--file` accepts: one page, or the pages of a paged export in an array. The branch
 * is chosen by the JSON's own type so that every problem is reported with its path.
 */
export function parseCostsExport(json: unknown): { success: true; data: TCostsPage[] } | { success: false; error: z.ZodError } {
  if (Array.isArray(json)) return ZCostsPages.safeParse(json);
  const page = ZCostsPage.safeParse(json);
  return page.success ? { success: true, data: [page.data] } : page;
}

export interface ProviderDay {
  /** UTC 'YYYY-MM-DD' of the bucket's start. */
  day: string;
  costMicroUsd: number;
}

export class CostsShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CostsShapeError';
  }
}

/** One line per zod issue, with its path: `[0].data[2].results[0].amount.value: must be a decimal number`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 20)
    .map((issue) => {
      const where = issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '');
      return `  ${where || '(top level)'}: ${issue.message}`;
    })
    .join('\n');
}

/**
 * The provider's cost per UTC day: the results of each bucket summed exactly and rounded
 * once to the micro-USD. With `projectIds`, only results of those projects count (an export
 * grouped by project_id); results without a project id are then refused, since they cannot
 * be attributed. A day that appears in two buckets is refused (overlapping exports would
 * otherwise be counted twice).
 */
export function providerDays(pages: readonly TCostsPage[], options: { projectIds?: readonly string[] } = {}): ProviderDay[] {
  const projects = options.projectIds?.length ? new Set(options.projectIds) : undefined;
  const byDay = new Map<string, number>();
  for (const page of pages) {
    for (const bucket of page.data) {
      const day = utcDay(new Date(bucket.start_time * 1000));
      if (byDay.has(day)) throw new CostsShapeError(`the day ${day} appears in more than one bucket`);
      const results = projects
        ? bucket.results.filter((r) => {
            if (r.project_id === undefined || r.project_id === null) {
              throw new CostsShapeError(
                `RECONCILE_PROJECT_IDS is set but the bucket of ${day} has a result without project_id (export with group_by=project_id)`,
              );
            }
            return projects.has(r.project_id);
          })
        : bucket.results;
      byDay.set(day, sumUsdToMicrosRounded(results.map((r) => r.amount?.value ?? 0)));
    }
  }
  return [...byDay].map(([day, costMicroUsd]) => ({ day, costMicroUsd })).sort((a, b) => (a.day < b.day ? -1 : 1));
}
