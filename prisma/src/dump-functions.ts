// `npm run db:functions:dump -w @chatmeter/db`: writes prisma/sql/functions/<name>.sql
// for every function the versioned migrations leave in a fresh database, as
// `pg_get_functiondef` prints it. Used once, at the cut-over to function files
// (ADR 010); afterwards the files are edited by hand and this is not run again.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgliteRunner, pgRunner } from './client.ts';
import { FUNCTIONS_DIR, runMigrations, type SqlRunner } from './migrate.ts';
import { functionFile, listFunctions } from './sql-functions.ts';
import { createEmptyServerDatabase, testServerUrl } from './testing.ts';

async function dump(runner: SqlRunner): Promise<void> {
  await runMigrations(runner, { functions: false });
  const byName = new Map<string, string[]>();
  for (const fn of await listFunctions(runner)) byName.set(fn.name, [...(byName.get(fn.name) ?? []), fn.definition]);
  mkdirSync(FUNCTIONS_DIR, { recursive: true });
  for (const [name, definitions] of byName) writeFileSync(path.join(FUNCTIONS_DIR, `${name}.sql`), functionFile(name, definitions));
  console.log(`${byName.size} function file(s) written to ${FUNCTIONS_DIR}`);
}

const serverUrl = testServerUrl();
if (serverUrl) {
  const empty = await createEmptyServerDatabase(serverUrl);
  const runner = await pgRunner(empty.url);
  try {
    await dump(runner);
  } finally {
    await runner.release();
    await empty.drop();
  }
} else {
  const lite = await PGlite.create('memory://');
  try {
    await dump(pgliteRunner(lite));
  } finally {
    await lite.close();
  }
}
