// Several ChatMeter instances on one Postgres database and one private Redis
// (what `npm run cluster` runs as processes), plus a tRPC client for any URL
// (e.g. the round-robin front) with its own cookie jar.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTRPCClient, httpBatchStreamLink, httpLink, splitLink } from '@trpc/client';
import superjson from 'superjson';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import type { AppRouter } from '../../src/routers/_app.ts';
import type { DepsOverrides } from '../../src/deps.ts';
import { privateRedis, type RedisProcess } from './redis-process.ts';
import { startTestServer, type TestBrowser, type TestServer } from './server.ts';

export interface TestCluster {
  servers: TestServer[];
  redis: RedisProcess;
  /** Browsers on every instance sharing one cookie jar: browser(i) talks to instance i % n. */
  user(ip: string): { on(i: number): TestBrowser; cookies: Map<string, { value: string; attributes: string }>; share(): void };
  close(): Promise<void>;
}

/** Writes a plan table with some limits changed (PLANS_FILE). */
export async function plansFile(change: (plan: TPlan) => TPlan): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-plans-'));
  const file = path.join(dir, 'plans.json');
  await writeFile(file, JSON.stringify(DEFAULT_PLANS.map((p) => change(structuredClone(p)))));
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function startCluster(count: number, env: Record<string, string> = {}, overrides: Omit<DepsOverrides, 'db'> = {}): Promise<TestCluster> {
  const redis = await privateRedis();
  const first = await startTestServer({ REDIS_URL: redis.url, ...env }, overrides);
  const rest = await Promise.all(
    Array.from({ length: count - 1 }, () => startTestServer({ REDIS_URL: redis.url, ...env }, { ...overrides, sameDatabaseAs: first })),
  );
  const servers = [first, ...rest];
  return {
    servers,
    redis,
    user: (ip) => {
      const browsers = servers.map((s) => s.browser({ ip }));
      const cookies = browsers[0]!.cookies;
      return {
        on: (i) => browsers[i % browsers.length]!,
        cookies,
        // After signing in on instance 0: the same cookie everywhere, as a browser behind a balancer has.
        share: () => {
          for (const b of browsers.slice(1)) {
            b.cookies.clear();
            for (const [k, v] of cookies) b.cookies.set(k, v);
          }
        },
      };
    },
    close: async () => {
      for (const s of rest) await s.close();
      await first.close();
      await redis.stop();
    },
  };
}

/** A tRPC client for `url` (an instance or a front) with its own cookie jar. */
export function clientFor(url: string, options: { ip?: string } = {}) {
  let cookies = new Map<string, string>();
  const doFetch: typeof fetch = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if ((init.method ?? 'GET').toUpperCase() !== 'GET') headers.set('origin', url);
    if (options.ip) headers.set('x-forwarded-for', options.ip);
    const response = await fetch(input, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1).trim();
      if (value) cookies.set(pair.slice(0, eq).trim(), value);
      else cookies.delete(pair.slice(0, eq).trim());
    }
    return response;
  };
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.path === 'chat.send' || op.path === 'chat.regenerate' || op.path === 'chat.edit',
        true: httpBatchStreamLink({ url: `${url}/trpc`, transformer: superjson, fetch: doFetch, maxItems: 1 }),
        false: httpLink({ url: `${url}/trpc`, transformer: superjson, fetch: doFetch }),
      }),
    ],
  });
  return {
    trpc,
    fetch: (p: string, init?: RequestInit) => doFetch(`${url}${p}`, init),
    get cookies() {
      return cookies;
    },
    set cookies(next: Map<string, string>) {
      cookies = next;
    },
  };
}
