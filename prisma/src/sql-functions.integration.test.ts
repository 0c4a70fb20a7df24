// The SQL functions' one definition lives in prisma/sql/functions (ADR 010). These
// tests fail when a database's function differs from its file: a migration that
// redefines a function instead of editing the file, a function without a file, a
// file that does not apply.
import { afterEach, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { pgliteRunner, pgRunner } from './client.ts';
import { readFunctions, readMigrations, runMigrations, type FunctionFile, type SqlRunner } from './migrate.ts';
import { listFunctions } from './sql-functions.ts';
import { createEmptyServerDatabase, testServerUrl } from './testing.ts';

/** The last migration before the function files took over: later ones leave functions to the files. */
export const FUNCTIONS_CUTOVER = '20261205090000_usage_provider';

const serverUrl = testServerUrl();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fresh(): Promise<SqlRunner> {
  if (serverUrl) {
    const empty = await createEmptyServerDatabase(serverUrl);
    const runner = await pgRunner(empty.url);
    cleanups.push(async () => {
      await runner.release();
      await empty.drop();
    });
    return runner;
  }
  const lite = await PGlite.create('memory://');
  cleanups.push(() => lite.close());
  return pgliteRunner(lite);
}

/** What the file makes of its functions, read back in a transaction that is rolled back. */
async function definitionsFromFile(runner: SqlRunner, file: FunctionFile): Promise<string[]> {
  await runner.exec('BEGIN');
  try {
    await runner.exec(file.sql);
    return (await listFunctions(runner)).filter((f) => f.name === file.name).map((f) => f.definition);
  } finally {
    await runner.exec('ROLLBACK');
  }
}

async function expectFunctionsMatchFiles(runner: SqlRunner): Promise<void> {
  const files = readFunctions();
  const inDb = await listFunctions(runner);
  expect([...new Set(inDb.map((f) => f.name))].sort(), 'every function has a file and every file a function').toEqual(files.map((f) => f.name));
  for (const file of files) {
    const current = inDb.filter((f) => f.name === file.name).map((f) => f.definition);
    expect(current, `${file.name}: the database's definition differs from prisma/sql/functions/${file.name}.sql`).toEqual(
      await definitionsFromFile(runner, file),
    );
  }
}

describe('SQL functions live in prisma/sql/functions', () => {
  it('a fresh database gets exactly the functions of the files', async () => {
    const runner = await fresh();
    await runMigrations(runner);
    await expectFunctionsMatchFiles(runner);
  });

  it('a database migrated before a later migration still ends with the files’ definitions (no migration redefines a function)', async () => {
    const runner = await fresh();
    const all = readMigrations();
    const at = all.findIndex((m) => m.name === FUNCTIONS_CUTOVER) + 1;
    expect(at).toBeGreaterThan(0);
    // A deployment at the cut-over, with the files applied; then everything after it.
    await runMigrations(runner, { migrations: all.slice(0, at), functions: readFunctions() });
    await runMigrations(runner, { migrations: all, functions: readFunctions() });
    await expectFunctionsMatchFiles(runner);
  });

  it('no migration after the cut-over creates or replaces a function', () => {
    const later = readMigrations().filter((m) => m.name > FUNCTIONS_CUTOVER);
    const offenders = later.filter((m) => /\bCREATE\s+(OR\s+REPLACE\s+)?FUNCTION\b/i.test(m.sql)).map((m) => m.name);
    expect(offenders, 'edit prisma/sql/functions/<name>.sql instead').toEqual([]);
  });

  it('applies a file again only when it changed, and a file that fails changes nothing', async () => {
    const runner = await fresh();
    const logged: string[] = [];
    const logger = { info: (m: string) => logged.push(m) };
    await runMigrations(runner, { logger });
    expect(logged.filter((m) => m.startsWith('applied function'))).toHaveLength(readFunctions().length);
    logged.length = 0;
    await runMigrations(runner, { logger });
    expect(logged).toEqual([]);

    const files = readFunctions();
    const edited = files.map((f) =>
      f.name === 'cm_counter_try'
        ? { ...f, sql: `${f.sql}\nCOMMENT ON FUNCTION cm_counter_try(text, text, timestamptz, bigint, bigint) IS 'edited';\n`, checksum: 'edited' }
        : f,
    );
    await runMigrations(runner, { logger, functions: edited });
    expect(logged).toEqual(['applied function cm_counter_try']);
    const [comment] = await runner.query(`SELECT obj_description('cm_counter_try(text, text, timestamptz, bigint, bigint)'::regprocedure) AS c`);
    expect(comment?.c).toBe('edited');

    const broken = files.map((f) => (f.name === 'cm_counter_adjust' ? { ...f, sql: `${f.sql}\nSELECT no_such_function();\n`, checksum: 'broken' } : f));
    await expect(runMigrations(runner, { functions: broken })).rejects.toThrow(/function file cm_counter_adjust.sql failed/);
    const [row] = await runner.query(`SELECT checksum FROM "_cm_sql_functions" WHERE name = 'cm_counter_adjust'`);
    expect(row?.checksum).toBe(files.find((f) => f.name === 'cm_counter_adjust')!.checksum);
  });
});
