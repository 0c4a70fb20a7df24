/**
 * A real HTTP server on 127.0.0.1 that answers OpenAI's organization Costs API
 * (`GET /v1/organization/costs`) in its documented shape, for the real `openai` SDK
 * (`client.admin.organization.usage.costs`) to talk to in tests.
 *
 * - `Authorization: Bearer <adminKey>` is required: anything else is a 401 with OpenAI's
 *   error body (`invalid_api_key`), which echoes the key's first 9 and last 4 characters as OpenAI's does.
 * - `start_time` is required (400 otherwise), `end_time` defaults to now, `bucket_width`
 *   must be `1d`, `limit` 1-180 (default 7).
 * - One bucket per UTC day in [start_time, end_time), oldest first, `results` empty for a
 *   day without cost or one `organization.costs.result` (line_item and project_id null)
 *   with the day's total; `project_ids[]` keeps only those projects' costs.
 * - Pages of at most `min(limit, pageSize)` buckets: `has_more` and an opaque `next_page`
 *   cursor that the next request passes as `page`.
 * - `failNext(status)` answers the next request(s) with an error status.
 * Every request is recorded with its query and headers.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const DAY = 24 * 60 * 60;

export interface FakeCostsServer {
  /** e.g. http://127.0.0.1:43210/v1 */
  readonly baseUrl: string;
  readonly adminKey: string;
  readonly requests: { path: string; query: URLSearchParams; headers: IncomingHttpHeaders; status: number }[];
  /** The cost of a UTC day ('YYYY-MM-DD') in dollars as the API would send them, per project. */
  setCost(day: string, usd: number, projectId?: string): void;
  /** Largest page the server sends whatever `limit` asks (to exercise paging). */
  pageSize: number;
  failNext(status: number, times?: number): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeCostsServer(options: { adminKey?: string; pageSize?: number } = {}): Promise<FakeCostsServer> {
  const adminKey = options.adminKey ?? 'sk-admin-test-key';
  const costs = new Map<string, Map<string, number>>();
  const requests: FakeCostsServer['requests'] = [];
  const failures: number[] = [];
  const state = { pageSize: options.pageSize ?? 180 };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers, status });
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${requests.length}` }).end(JSON.stringify(body));
    };
    const error = (status: number, message: string, type: string, code: string | null, param: string | null = null) =>
      send(status, { error: { message, type, param, code } });

    if (req.method !== 'GET' || url.pathname !== '/v1/organization/costs')
      return error(404, `Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null);
    const failure = failures.shift();
    if (failure !== undefined)
      return error(
        failure,
        failure >= 500 ? 'The server had an error while processing your request.' : 'Request failed.',
        failure >= 500 ? 'server_error' : 'invalid_request_error',
        null,
      );
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${adminKey}`) {
      const given = auth?.replace(/^Bearer /, '') ?? '';
      return error(
        401,
        `Incorrect API key provided: ${given.slice(0, 9)}${'*'.repeat(20)}${given.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error',
        'invalid_api_key',
      );
    }
    const start = Number(url.searchParams.get('start_time'));
    if (!url.searchParams.has('start_time') || !Number.isInteger(start))
      return error(400, "Missing required parameter: 'start_time'.", 'invalid_request_error', 'missing_required_parameter', 'start_time');
    const end = url.searchParams.has('end_time') ? Number(url.searchParams.get('end_time')) : Math.floor(Date.now() / 1000);
    const width = url.searchParams.get('bucket_width') ?? '1d';
    if (width !== '1d')
      return error(400, `Invalid value for 'bucket_width': ${width}. Only 1d is supported.`, 'invalid_request_error', 'invalid_value', 'bucket_width');
    const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 7;
    if (!Number.isInteger(limit) || limit < 1 || limit > 180)
      return error(400, "Invalid value for 'limit': must be between 1 and 180.", 'invalid_request_error', 'invalid_value', 'limit');
    const projects = url.searchParams.getAll('project_ids[]');
    const offset = url.searchParams.has('page')
      ? Number(
          Buffer.from(url.searchParams.get('page')!, 'base64url')
            .toString('utf8')
            .replace(/^offset:/, ''),
        )
      : 0;

    const buckets = [];
    for (let t = Math.floor(start / DAY) * DAY; t < end; t += DAY) {
      const day = new Date(t * 1000).toISOString().slice(0, 10);
      const byProject = costs.get(day);
      const amounts = byProject ? [...byProject].filter(([p]) => projects.length === 0 || projects.includes(p)).map(([, usd]) => usd) : [];
      // Summed in tenths of a nano-dollar so the total is the decimal the real API would print.
      const total = amounts.reduce((sum, usd) => sum + Math.round(usd * 1e10), 0) / 1e10;
      buckets.push({
        object: 'bucket',
        start_time: t,
        end_time: t + DAY,
        results: amounts.length ? [{ object: 'organization.costs.result', amount: { value: total, currency: 'usd' }, line_item: null, project_id: null }] : [],
      });
    }
    const size = Math.min(limit, state.pageSize);
    const data = buckets.slice(offset, offset + size);
    const more = offset + size < buckets.length;
    send(200, { object: 'page', data, has_more: more, next_page: more ? Buffer.from(`offset:${offset + size}`).toString('base64url') : null });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    adminKey,
    requests,
    get pageSize() {
      return state.pageSize;
    },
    set pageSize(n: number) {
      state.pageSize = n;
    },
    setCost(day, usd, projectId = 'proj_default') {
      const byProject = costs.get(day) ?? new Map<string, number>();
      byProject.set(projectId, usd);
      costs.set(day, byProject);
    },
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) failures.push(status);
    },
    reset() {
      costs.clear();
      requests.length = 0;
      failures.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
