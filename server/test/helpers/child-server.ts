// A real ChatMeter instance in its own process, for tests that kill it (-9):
// the same createDeps + createApp as `npm start`, configured by the environment
// the test passes, listening on a free loopback port that it prints as one
// JSON line ({"port": n}). No sweepers or timers: the test drives those.
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.ts';
import { createDeps } from '../../src/deps.ts';
import { parseEnv } from '../../src/env.ts';
import { createHttpServer } from '../../src/web/http-server.ts';

const env = parseEnv(process.env);
const deps = await createDeps(env);
// The HTTP server `npm start` listens with (requests and responses born express's).
const server = createHttpServer(createApp(deps)).listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => void deps.close().finally(() => process.exit(0))));
