// One place that opens the database: embedded PGlite (a real Postgres in WASM,
// files under dataDir) when no DATABASE_URL is given, a Postgres server through
// @prisma/adapter-pg otherwise. Both get the same SQL migrations first.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { runMigrations, type MigrationLogger, type SqlRunner } from './migrate.ts';

export { PrismaClient, Prisma } from './generated/prisma/client.ts';
export type * from './generated/prisma/models.ts';
export type { Role } from './generated/prisma/enums.ts';

export type DbKind = 'pglite' | 'postgres';

/**
 * Interactive transactions wait up to 10 s for a pooled connection (Prisma's
 * default of 2 s fails requests under load, P2028) and may run 20 s.
 */
const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 20_000 } as const;

export interface DatabaseOptions {
  /** Postgres connection string; empty or undefined selects embedded PGlite. */
  databaseUrl?: string | undefined;
  /** Folder for PGlite's files; `memory://` keeps them in memory (tests). */
  dataDir: string;
  /** Maximum pool size for Postgres. */
  poolMax?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  logger?: MigrationLogger;
}

/** One SQL statement with $1.. parameters; rows as the driver returns them (int8 may be a string or a bigint). */
export type SqlQuery = <T = Record<string, unknown>>(text: string, params: readonly unknown[], options?: { name?: string }) => Promise<T[]>;

export interface Database {
  kind: DbKind;
  prisma: PrismaClient;
  /**
   * A statement outside Prisma, for the few hot paths (session lookup, chat
   * reservation and settlement): on Postgres straight through the pool, a named
   * statement being prepared once per connection; on PGlite through Prisma's
   * adapter, which owns the single connection (and its transactions).
   */
  query: SqlQuery;
  /** A cheap liveness query for /healthz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function pgliteRunner(db: PGlite): SqlRunner {
  return {
    query: async (sql, params) => (await db.query(sql, params as unknown[])).rows as Record<string, unknown>[],
    exec: async (sql) => {
      await db.exec(sql);
    },
    release: async () => {},
  };
}

export async function pgRunner(connectionString: string): Promise<SqlRunner> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  return {
    query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
    exec: async (sql) => {
      await client.query(sql);
    },
    release: () => client.end(),
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const migrate = options.migrate ?? true;
  if (options.databaseUrl) {
    if (migrate) {
      const runner = await pgRunner(options.databaseUrl);
      try {
        await runMigrations(runner, { logger: options.logger });
      } finally {
        await runner.release();
      }
    }
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolMax ?? 10 });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', (error) => options.logger?.warn?.(`postgres pool: ${error.message}`));
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: TRANSACTION_OPTIONS });
    return {
      kind: 'postgres',
      prisma,
      query: async <T>(text: string, params: readonly unknown[], options?: { name?: string }) =>
        (await pool.query({ text, values: params as unknown[], ...(options?.name ? { name: options.name } : {}) })).rows as T[],
      ping: async () => {
        try {
          await pool.query('SELECT 1');
          return true;
        } catch {
          return false;
        }
      },
      close: async () => {
        await prisma.$disconnect();
        await pool.end().catch(() => {});
      },
    };
  }

  const inFolder = !options.dataDir.includes('://');
  if (inFolder) mkdirSync(options.dataDir, { recursive: true });
  // One process per folder (data-dir-lock.ts): a second opener stops with DataDirInUseError.
  const unlock = inFolder ? lockDataDir(options.dataDir) : () => {};
  let opened: PGlite | undefined;
  try {
    opened = await PGlite.create(options.dataDir);
    if (migrate) await runMigrations(pgliteRunner(opened), { logger: options.logger });
  } catch (error) {
    await opened?.close().catch(() => {});
    unlock();
    throw error;
  }
  const lite = opened;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(lite), transactionOptions: TRANSACTION_OPTIONS });
  return {
    kind: 'pglite',
    prisma,
    query: <T>(text: string, params: readonly unknown[]) => prisma.$queryRawUnsafe<T[]>(text, ...params),
    ping: async () => {
      try {
        await lite.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    close: async () => {
      await prisma.$disconnect();
      await lite.close();
      unlock();
    },
  };
}
