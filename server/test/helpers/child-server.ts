// A real ChatMeter instance in its own process, for tests that kill it (-9):
// the same createDeps + createApp as `npm start`, configured by the environment
// the test passes, listening on a free loopback port that it prints as one
// JSON line ({"port": n}). No sweepers or timers: the test drives those.
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.ts';
import { createDeps } from '../../src/deps.ts';
import { parseEnv } from '../../src/env.ts';

const env = parseEnv(process.env);
const deps = await createDeps(env);
const server = createApp(deps).listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => void deps.close().finally(() => process.exit(0))));
