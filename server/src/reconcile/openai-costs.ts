// OpenAI's organization Costs API through the official SDK
// (`client.admin.organization.usage.costs`, authenticated with the admin key):
// daily buckets for a time range, paged through has_more / next_page, each
// page checked against the documented shape before it is believed.
import OpenAI, { APIConnectionError, APIError } from 'openai';
import { ZCostsPage, describeIssues, type TCostsPage } from './costs-page.ts';

/** Buckets per request (the API allows 1-180). */
const PAGE_LIMIT = 31;
/** A runaway cursor stops here instead of looping. */
const MAX_PAGES = 50;

export interface CostsClientOptions {
  adminKey: string;
  baseUrl: string;
  /** Only these projects (the API's project_ids filter). */
  projectIds?: readonly string[];
  timeoutMs?: number;
  maxRetries?: number;
  fetch?: typeof fetch;
}

/** The Costs API refused or answered something we cannot use. `status` is the HTTP status when there was one. */
export class CostsApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(redactKeys(message));
    this.name = 'CostsApiError';
  }
}

/**
 * The message is logged, stored in job_runs and shown to support staff in the Admin tab:
 * OpenAI's 401 echoes part of the key ("Incorrect API key provided: sk-admin-****abcd"),
 * so anything shaped like a key is cut to its kind.
 */
export function redactKeys(message: string): string {
  return message.replace(/\bsk-(admin-|proj-|svcacct-)?[\w*-]*/g, (_m, kind: string | undefined) => `sk-${kind ?? ''}[redacted]`);
}

export interface CostsSource {
  /** The buckets from `from` (inclusive) to `to` (exclusive), both at 00:00 UTC. */
  fetchPages(range: { from: Date; to: Date }): Promise<TCostsPage[]>;
}

export class OpenAICostsClient implements CostsSource {
  private readonly client: OpenAI;

  constructor(private readonly options: CostsClientOptions) {
    // Every option explicit: the SDK would otherwise read OPENAI_* from the environment.
    this.client = new OpenAI({
      apiKey: null,
      adminAPIKey: options.adminKey,
      organization: null,
      project: null,
      webhookSecret: null,
      baseURL: options.baseUrl,
      timeout: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 2,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  async fetchPages({ from, to }: { from: Date; to: Date }): Promise<TCostsPage[]> {
    const pages: TCostsPage[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      let raw: unknown;
      try {
        raw = await this.client.admin.organization.usage.costs({
          start_time: Math.floor(from.getTime() / 1000),
          end_time: Math.floor(to.getTime() / 1000),
          bucket_width: '1d',
          limit: PAGE_LIMIT,
          ...(this.options.projectIds?.length ? { project_ids: [...this.options.projectIds] } : {}),
          ...(cursor ? { page: cursor } : {}),
        });
      } catch (error) {
        if (error instanceof APIConnectionError || !(error instanceof APIError)) {
          throw new CostsApiError(`Costs API could not be reached: ${(error as Error).message}`, undefined);
        }
        throw new CostsApiError(`Costs API: ${error.message}`, error.status);
      }
      const parsed = ZCostsPage.safeParse(raw);
      if (!parsed.success) throw new CostsApiError(`Costs API answered in an unexpected shape:\n${describeIssues(parsed.error)}`, 200);
      pages.push(parsed.data);
      if (!parsed.data.has_more) return pages;
      if (!parsed.data.next_page) throw new CostsApiError('Costs API said has_more without a next_page cursor', 200);
      cursor = parsed.data.next_page;
    }
    throw new CostsApiError(`Costs API kept paging after ${MAX_PAGES} pages`, 200);
  }
}
