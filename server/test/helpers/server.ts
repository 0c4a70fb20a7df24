// Starts the real express app on loopback with its own test database, and gives
// tests a tRPC client per "browser" (its own cookie jar and Origin).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createTRPCClient, httpBatchStreamLink, httpLink, splitLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { openDatabase } from '@chatmeter/db/client';
import { createTestDatabase, type TestDatabase } from '@chatmeter/db/testing';
import { createApp } from '../../src/app.ts';
import { createHttpServer } from '../../src/web/http-server.ts';
import { createDeps, type Deps, type DepsOverrides } from '../../src/deps.ts';
import { parseEnv } from '../../src/env.ts';
import { createLogger } from '../../src/lib/logger.ts';
import type { AppRouter } from '../../src/routers/_app.ts';

export interface TestServer {
  url: string;
  deps: Deps;
  tdb: TestDatabase;
  browser(options?: { origin?: string | null; ip?: string }): TestBrowser;
  close(): Promise<void>;
}

export interface TestBrowser {
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
  cookies: Map<string, { value: string; attributes: string }>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export async function startTestServer(
  envOverrides: Record<string, string> = {},
  { sameDatabaseAs: shared, databaseUrl, ...overrides }: Omit<DepsOverrides, 'db'> & { sameDatabaseAs?: TestServer; databaseUrl?: string } = {},
): Promise<TestServer> {
  // A second instance on the same Postgres database (several-instance tests), or a
  // database the test made itself (e.g. connecting as another role); the test drops it.
  if (shared && !shared.tdb.url) throw new Error('several instances need TEST_DATABASE_URL (a Postgres server)');
  const existing = shared?.tdb.url ?? databaseUrl;
  const tdb: TestDatabase = existing
    ? await (async () => {
        const db = await openDatabase({ databaseUrl: existing, dataDir: '', poolMax: 10 });
        return { db, url: existing, cleanup: () => db.close() };
      })()
    : await createTestDatabase();
  // Most tests sign up many accounts from loopback: the daily per-network limit (default 3) is raised here
  // and tested where it is set explicitly (per-network-limits.integration.test.ts).
  const env = parseEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    TRUST_PROXY: 'loopback',
    CAPTCHA: 'off',
    DEMO_DELAY_MS: '0',
    CHAT_CACHE_TTL_SECONDS: '0',
    SIGNUPS_PER_IP_PER_DAY: '1000',
    ...envOverrides,
  });
  const deps = await createDeps(env, { logger: createLogger('silent'), ...overrides, db: tdb.db });
  // The HTTP server `npm start` listens with (requests and responses born express's).
  const server: Server = createHttpServer(createApp(deps)).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const browser = (options: { origin?: string | null; ip?: string } = {}): TestBrowser => {
    const cookies = new Map<string, { value: string; attributes: string }>();
    const origin = options.origin === undefined ? url : options.origin;
    const doFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
      const headers = new Headers(init.headers);
      const cookie = [...cookies].map(([k, v]) => `${k}=${v.value}`).join('; ');
      if (cookie) headers.set('cookie', cookie);
      if (origin && (init.method ?? 'GET').toUpperCase() !== 'GET') headers.set('origin', origin);
      // TRUST_PROXY=loopback lets a test speak for different client IPs.
      if (options.ip) headers.set('x-forwarded-for', options.ip);
      const response = await fetch(input, { ...init, headers });
      for (const line of response.headers.getSetCookie()) {
        const [pair, ...attributes] = line.split(';');
        const eq = pair!.indexOf('=');
        const name = pair!.slice(0, eq).trim();
        const value = pair!.slice(eq + 1).trim();
        const expired = /expires=Thu, 01 Jan 1970/i.test(line) || value === '';
        if (expired) cookies.delete(name);
        else cookies.set(name, { value, attributes: attributes.join(';') });
      }
      return response;
    };
    const trpc = createTRPCClient<AppRouter>({
      links: [
        splitLink({
          // Streaming procedures (chat.send, regenerate, edit) need the stream link; everything else goes one by one.
          condition: (op) => op.path === 'chat.send' || op.path === 'chat.regenerate' || op.path === 'chat.edit',
          true: httpBatchStreamLink({ url: `${url}/trpc`, transformer: superjson, fetch: doFetch as typeof fetch, maxItems: 1 }),
          false: httpLink({ url: `${url}/trpc`, transformer: superjson, fetch: doFetch as typeof fetch }),
        }),
      ],
    });
    return { trpc, cookies, fetch: (path, init) => doFetch(`${url}${path}`, init) };
  };

  return {
    url,
    deps,
    tdb,
    browser,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.close();
      await tdb.cleanup();
    },
  };
}

/** Runs a promise expected to fail with a tRPC error and returns its code, reason and message. */
export async function trpcError(
  promise: Promise<unknown>,
): Promise<{ code: string; httpStatus: number; reason: string; message: string; data: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const data = (error.data ?? {}) as Record<string, unknown>;
      return { code: String(data.code), httpStatus: Number(data.httpStatus), reason: String(data.reason), message: error.message, data };
    }
    throw error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
