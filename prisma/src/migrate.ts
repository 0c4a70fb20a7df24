// The project's own migration runner (docs/decisions/002-migration-runner.md).
// Prisma's schema engine cannot be downloaded on our machines, so migrations are
// plain SQL files in Prisma's layout and this runner applies them, recording each
// in `_prisma_migrations` with Prisma's columns and checksum so that
// `prisma migrate deploy` on a connected machine sees them as applied.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs a script of several statements (no parameters). */
  exec(sql: string): Promise<void>;
  release(): Promise<void>;
}

export interface MigrationLogger {
  info?(message: string): void;
  warn?(message: string): void;
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

/** The key Prisma itself takes, so our runner and `prisma migrate` exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

/**
 * prisma/migrations, found from this module's location both as source
 * (prisma/src) and when bundled into another package's dist folder.
 */
export const MIGRATIONS_DIR = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..', 'migrations'), path.join(here, '..', '..', 'prisma', 'migrations')];
  return candidates.find((dir) => existsSync(path.join(dir, 'migration_lock.toml'))) ?? candidates[0]!;
})();

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

export function readMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory())
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: checksum(sql) };
    });
}

/**
 * prisma/sql/functions: the one current definition of each SQL function (the
 * ledger's rules among them), one file per function, applied after the versioned
 * migrations whenever a file's checksum changes (ADR 010).
 */
export const FUNCTIONS_DIR = path.join(MIGRATIONS_DIR, '..', 'sql', 'functions');

export interface FunctionFile {
  /** The file name without `.sql`: the function's name. */
  name: string;
  sql: string;
  checksum: string;
}

export function readFunctions(dir: string = FUNCTIONS_DIR): FunctionFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return { name: file.slice(0, -'.sql'.length), sql, checksum: checksum(sql) };
    });
}

const CREATE_FUNCTIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_cm_sql_functions" (
    "name"        TEXT PRIMARY KEY,
    "checksum"    VARCHAR(64) NOT NULL,
    "applied_at"  TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/**
 * Applies pending migrations in name order under a session-level advisory lock,
 * each in its own transaction together with its `_prisma_migrations` row.
 * Returns the names applied by this call (empty when up to date).
 */
export async function runMigrations(
  runner: SqlRunner,
  options: {
    dir?: string;
    logger?: MigrationLogger;
    migrations?: MigrationFile[];
    /**
     * The function files to apply after the migrations. Default: prisma/sql/functions when
     * the migrations are the project's own (not a given list: a test that migrates part of
     * the history wants the functions as that history left them); `false` for none.
     */
    functions?: FunctionFile[] | false;
  } = {},
): Promise<string[]> {
  const migrations = options.migrations ?? readMigrations(options.dir);
  const functions = options.functions === undefined ? (options.migrations || options.dir ? [] : readFunctions()) : options.functions || [];
  const applied: string[] = [];
  await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    // Only when missing: CREATE ... IF NOT EXISTS still needs CREATE on the schema, which an
    // app role that owns nothing does not have (docs/deployment.md); it only reads the table.
    const [table] = await runner.query(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
    if (!table?.present) await runner.exec(CREATE_TABLE);
    const rows = await runner.query('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"');
    const done = new Map<string, { checksum: string; finished: boolean }>();
    for (const row of rows) {
      if (row.rolled_back_at) continue;
      done.set(String(row.migration_name), { checksum: String(row.checksum), finished: row.finished_at != null });
    }
    for (const migration of migrations) {
      const previous = done.get(migration.name);
      if (previous) {
        if (!previous.finished) {
          throw new MigrationError(`migration ${migration.name} started but did not finish; resolve it before migrating again`);
        }
        if (previous.checksum !== migration.checksum) {
          options.logger?.warn?.(`migration ${migration.name} was modified after it was applied (checksum differs)`);
        }
        continue;
      }
      const id = randomUUID();
      await runner.exec('BEGIN');
      try {
        await runner.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)', [
          id,
          migration.checksum,
          migration.name,
        ]);
        await runner.exec(migration.sql);
        await runner.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
        await runner.exec('COMMIT');
      } catch (error) {
        await runner.exec('ROLLBACK').catch(() => {});
        throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
      applied.push(migration.name);
      options.logger?.info?.(`applied migration ${migration.name}`);
    }
    if (functions.length > 0) await applyFunctions(runner, functions, options.logger);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
  return applied;
}

/**
 * Applies each function file whose checksum differs from the one recorded in
 * `_cm_sql_functions` (a new file, or an edited one), each in its own transaction
 * with its row, under the caller's migration lock. Unchanged files only cost a read,
 * so an app role that owns nothing can start against an up-to-date database.
 */
async function applyFunctions(runner: SqlRunner, functions: FunctionFile[], logger?: MigrationLogger): Promise<void> {
  const [table] = await runner.query(`SELECT to_regclass('"_cm_sql_functions"') IS NOT NULL AS present`);
  const recorded = new Map<string, string>();
  if (table?.present) {
    for (const row of await runner.query('SELECT name, checksum FROM "_cm_sql_functions"')) recorded.set(String(row.name), String(row.checksum));
  }
  const pending = functions.filter((f) => recorded.get(f.name) !== f.checksum);
  if (pending.length === 0) return;
  if (!table?.present) await runner.exec(CREATE_FUNCTIONS_TABLE);
  for (const fn of pending) {
    await runner.exec('BEGIN');
    try {
      await runner.exec(fn.sql);
      await runner.query(
        `INSERT INTO "_cm_sql_functions" (name, checksum, applied_at) VALUES ($1, $2, now())
         ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at`,
        [fn.name, fn.checksum],
      );
      await runner.exec('COMMIT');
    } catch (error) {
      await runner.exec('ROLLBACK').catch(() => {});
      throw new MigrationError(`function file ${fn.name}.sql failed: ${(error as Error).message}`);
    }
    logger?.info?.(`applied function ${fn.name}`);
  }
}
