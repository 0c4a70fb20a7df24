// The embedded default: no DATABASE_URL, data in DATA_DIR through PGlite. The
// whole sign-up path works and the data survives a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { createDeps } from '../deps.ts';
import { parseEnv } from '../env.ts';
import { createLogger } from '../lib/logger.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chatmeter-pglite-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function boot() {
  const env = parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CAPTCHA: 'off', DATA_DIR: dataDir });
  const deps = await createDeps(env, { logger: createLogger('silent') });
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    deps,
    url,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await deps.close();
    },
  };
}

describe('embedded PGlite', () => {
  it('signs up, answers /healthz with db "pglite", and keeps the data across a restart', async () => {
    const first = await boot();
    expect(first.deps.db.kind).toBe('pglite');
    const health = await fetch(`${first.url}/healthz`).then((r) => r.json() as Promise<unknown>);
    expect(health).toMatchObject({ ok: true, db: 'pglite' });
    const res = await fetch(`${first.url}/trpc/auth.signUp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: first.url },
      body: JSON.stringify({ json: { email: 'embedded@example.com', password: 'correct horse battery' } }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    await first.stop();

    const second = await boot();
    const me = (await fetch(`${second.url}/trpc/auth.me`, { headers: { cookie } }).then((r) => r.json())) as { result: { data: { json: unknown } } };
    expect(me.result.data.json).toMatchObject({ email: 'embedded@example.com' });
    await second.stop();
  });
});
