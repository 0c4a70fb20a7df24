// Test databases: each test file gets its own. With TEST_DATABASE_URL (an
// account that may CREATE DATABASE, set by .ci/run) a fresh database on that
// Postgres server; without it an in-memory PGlite, so `npm test` also passes on
// a machine with no Postgres.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database, type DatabaseOptions } from './client.ts';

export interface TestDatabase {
  db: Database;
  /** Connection string of the database, when on a Postgres server. */
  url: string | undefined;
  cleanup(): Promise<void>;
}

export function testServerUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL?.trim() || undefined;
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates an empty database on the test server and returns its URL and a drop function. */
export async function createEmptyServerDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cm_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(serverUrl, name),
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function createTestDatabase(options: Partial<DatabaseOptions> = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  if (!serverUrl) {
    const db = await openDatabase({ dataDir: 'memory://', ...options });
    return { db, url: undefined, cleanup: () => db.close() };
  }
  const empty = await createEmptyServerDatabase(serverUrl);
  const db = await openDatabase({ databaseUrl: empty.url, dataDir: '', poolMax: 10, ...options });
  return {
    db,
    url: empty.url,
    cleanup: async () => {
      await db.close();
      await empty.drop();
    },
  };
}
