import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { pgliteRunner, pgRunner } from './client.ts';
import { findDrift, loadDataModel } from './drift.ts';
import { readMigrations, runMigrations, type MigrationFile, type SqlRunner } from './migrate.ts';
import { createEmptyServerDatabase, testServerUrl } from './testing.ts';

const serverUrl = testServerUrl();

/** A runner on the test server when there is one, else on an in-memory PGlite. */
async function freshRunner(): Promise<{ runner: () => Promise<SqlRunner>; cleanup(): Promise<void> }> {
  if (serverUrl) {
    const empty = await createEmptyServerDatabase(serverUrl);
    const opened: SqlRunner[] = [];
    return {
      runner: async () => {
        const r = await pgRunner(empty.url);
        opened.push(r);
        return r;
      },
      cleanup: async () => {
        for (const r of opened) await r.release().catch(() => {});
        await empty.drop();
      },
    };
  }
  const lite = await PGlite.create('memory://');
  return { runner: async () => pgliteRunner(lite), cleanup: () => lite.close() };
}

describe('migration runner', () => {
  let env: Awaited<ReturnType<typeof freshRunner>>;
  beforeAll(async () => {
    env = await freshRunner();
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('applies every migration once and records it as Prisma does', async () => {
    const runner = await env.runner();
    const files = readMigrations();
    expect(files.length).toBeGreaterThan(0);
    expect(await runMigrations(runner)).toEqual(files.map((f) => f.name));
    expect(await runMigrations(runner)).toEqual([]);
    const rows = await runner.query(
      'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    for (const [i, row] of rows.entries()) {
      expect(row.checksum).toBe(files[i]!.checksum);
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.finished_at).not.toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.rolled_back_at).toBeNull();
    }
  });

  it('the Prisma data model and the migrated database agree (drift test)', async () => {
    const runner = await env.runner();
    expect(await findDrift(runner)).toEqual([]);
  });

  it('the drift test notices a field without its column, and wrong nullability or type', async () => {
    const runner = await env.runner();
    const models = structuredClone(loadDataModel());
    const user = models.find((m) => m.name === 'User')!;
    user.fields.push({ name: 'nickname', kind: 'scalar', type: 'String', isList: false, isRequired: true });
    user.fields.find((f) => f.name === 'email')!.isRequired = true;
    user.fields.find((f) => f.name === 'isGuest')!.type = 'Int';
    const problems = await findDrift(runner, models);
    expect(problems.join('\n')).toMatch(/User\.nickname .*column missing/);
    expect(problems.join('\n')).toMatch(/User\.email .*required.*nullable/);
    expect(problems.join('\n')).toMatch(/User\.isGuest .*expects int4, database has bool/);
  });

  it('a failing migration is rolled back whole and reported', async () => {
    const runner = await env.runner();
    const bad: MigrationFile = { name: '29991231000000_bad', sql: 'CREATE TABLE t_ok (id int); SELECT no_such_fn();', checksum: 'x'.repeat(64) };
    await expect(runMigrations(runner, { migrations: [...readMigrations(), bad] })).rejects.toThrow(/29991231000000_bad failed/);
    const left = await runner.query(`SELECT to_regclass('t_ok') AS t, (SELECT count(*)::int FROM "_prisma_migrations" WHERE migration_name = $1) AS n`, [
      bad.name,
    ]);
    expect(left[0]).toEqual({ t: null, n: 0 });
  });
});

describe.skipIf(!serverUrl)('concurrent runners on one Postgres server', () => {
  it('two runners at once apply each migration exactly once', async () => {
    const empty = await createEmptyServerDatabase(serverUrl!);
    try {
      const a = await pgRunner(empty.url);
      const b = await pgRunner(empty.url);
      const [ra, rb] = await Promise.all([runMigrations(a), runMigrations(b)]);
      await a.release();
      await b.release();
      const names = readMigrations().map((m) => m.name);
      expect([...ra, ...rb].sort()).toEqual(names.sort());
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      const { rows } = await client.query('SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY 1');
      await client.end();
      expect(rows.every((r) => r.n === 1)).toBe(true);
      expect(rows).toHaveLength(names.length);
    } finally {
      await empty.drop();
    }
  });
});
