// `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to the
// embedded PGlite database in DATA_DIR (default ./data) when it is not set.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgliteRunner, pgRunner } from './client.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { runMigrations } from './migrate.ts';

const databaseUrl = process.env.DATABASE_URL?.trim();
const logger = { info: (m: string) => console.log(m), warn: (m: string) => console.warn(m) };

async function main(): Promise<void> {
  if (databaseUrl) {
    const runner = await pgRunner(databaseUrl);
    try {
      const applied = await runMigrations(runner, { logger });
      console.log(applied.length ? `${applied.length} migration(s) applied` : 'database is up to date');
    } finally {
      await runner.release();
    }
    return;
  }
  // npm runs workspace scripts in the workspace folder; DATA_DIR is relative to where npm was started.
  const base = process.env.INIT_CWD ?? process.cwd();
  const dataDir = path.resolve(base, process.env.DATA_DIR?.trim() || './data', 'pglite');
  mkdirSync(dataDir, { recursive: true });
  // Not while the server (or anything else) has the folder open (data-dir-lock.ts).
  const unlock = lockDataDir(dataDir);
  try {
    const lite = await PGlite.create(dataDir);
    try {
      const applied = await runMigrations(pgliteRunner(lite), { logger });
      console.log(`${applied.length ? `${applied.length} migration(s) applied` : 'database is up to date'} (PGlite at ${dataDir})`);
    } finally {
      await lite.close();
    }
  } finally {
    unlock();
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
