import type { AddressInfo } from 'node:net';
import { createTestDatabase } from '@chatmeter/db/testing';
import { createApp } from './src/app.ts';
import { createDeps } from './src/deps.ts';
import { parseEnv } from './src/env.ts';
import { createLogger } from './src/lib/logger.ts';
const tdb = await createTestDatabase();
const env = parseEnv({ LOG_LEVEL: 'silent', CAPTCHA: 'off', DEMO_DELAY_MS: '0', CHAT_CACHE_TTL_SECONDS: '0' });
const deps = await createDeps(env, { db: tdb.db, logger: createLogger('silent'), limits: { chat: { points: 1e9, duration: 60 } } });
const server = createApp(deps).listen(0, '127.0.0.1'); await new Promise((r) => server.once('listening', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const u = await deps.prisma.user.create({ data: { email: 'perf@example.com', planId: 'enterprise' }, select: { id: true } });
const { token } = await deps.sessions.create(u.id);
const cookie = `cm_session=${token}`;
const tt: Record<string, number[]> = {};
const rec = (k: string, v: number) => (tt[k] ??= []).push(v);
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  const res = await fetch(`${url}/trpc/chat.send?batch=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'trpc-accept': 'application/jsonl', cookie, origin: url }, body: JSON.stringify({ 0: { json: { content: `hello ${i}` } } }) });
  rec('headers', performance.now() - t0);
  const reader = res.body!.getReader(); let first = 0; let text = '';
  for (;;) { const { done, value } = await reader.read(); if (done) break; if (!first) { first = performance.now() - t0; } text += new TextDecoder().decode(value); }
  rec('firstChunk', first); rec('total', performance.now() - t0);
  const t1 = performance.now(); await fetch(`${url}/trpc/auth.me`, { headers: { cookie } }).then((r) => r.text()); rec('me', performance.now() - t1);
  const t2 = performance.now(); await fetch(`${url}/healthz`).then((r) => r.text()); rec('healthz', performance.now() - t2);
}
for (const [k, v] of Object.entries(tt)) { const s = v.slice(30).sort((a, b) => a - b); console.log(k, 'p50', s[Math.floor(s.length / 2)]!.toFixed(2)); }
server.close(); await deps.close(); await tdb.cleanup();
