// Runs `prisma generate` offline-safe. The prisma-client generator does not use
// the schema engine, but the CLI tries to download it unless told where one is;
// pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file satisfies it. The
// variable is scoped to this child process only, so migrate/diff on a connected
// machine still fetch and use the real engine.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const cli = require.resolve('prisma/build/index.js');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
const result = spawnSync(process.execPath, [cli, 'generate', '--schema', path.join(here, '..', 'schema.prisma')], {
  stdio: 'inherit',
  env,
  cwd: path.join(here, '..'),
});
process.exit(result.status ?? 1);
