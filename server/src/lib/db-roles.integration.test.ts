// docs/deployment.md, "Database roles: the app owns nothing", run as written on a
// fresh database of the TEST_DATABASE_URL server (role and database names made
// unique): migrations as the owner role, the app as the app role. The app role
// serves chats and credit adjustments over HTTP and can use what a later
// migration creates, but cannot TRUNCATE, DROP, ALTER TABLE ... DISABLE TRIGGER,
// CREATE, replace a trigger function or turn triggers off for its session.
// Needs a Postgres server: skipped without TEST_DATABASE_URL (PGlite has one user).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgRunner } from '@chatmeter/db/client';
import { readMigrations, runMigrations } from '@chatmeter/db/migrate';
import { testServerUrl, withDatabase } from '@chatmeter/db/testing';
import { person } from '../../test/helpers/admin.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const serverUrl = testServerUrl();
const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..', '..', 'docs', 'deployment.md');

/** The SQL blocks of the section, by their marker (`<!-- db-roles:name -->`). */
function documentedSql(): Record<string, string> {
  const blocks: Record<string, string> = {};
  for (const m of readFileSync(DOC, 'utf8').matchAll(/<!-- db-roles:(\w+) -->\s*```sql\n([\s\S]*?)```/g)) blocks[m[1]!] = m[2]!;
  return blocks;
}

/** One statement at a time: CREATE DATABASE cannot run in the implicit transaction of a multi-statement query. */
async function runAs(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of sql
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter(Boolean))
      await client.query(statement);
  } finally {
    await client.end();
  }
}

function asRole(url: string, role: string, password: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.toString();
}

describe.skipIf(!serverUrl)('the app as a database role that owns nothing (docs/deployment.md)', () => {
  const suffix = randomBytes(4).toString('hex');
  const names = { owner: `cm_owner_${suffix}`, app: `cm_app_${suffix}`, database: `cm_test_roles_${suffix}` };
  const rename = (sql: string) =>
    sql
      .replace(/\bchatmeter_owner\b/g, names.owner)
      .replace(/\bchatmeter_app\b/g, names.app)
      .replace(/\bchatmeter\b/g, names.database);
  let ownerUrl: string;
  let appUrl: string;
  let server: TestServer | undefined;
  let app: pg.Client;

  beforeAll(async () => {
    const sql = documentedSql();
    expect(Object.keys(sql).sort()).toEqual(['database', 'grants', 'roles']);
    const superuserDb = withDatabase(serverUrl!, names.database);
    ownerUrl = asRole(superuserDb, names.owner, 'change-me-owner');
    appUrl = asRole(superuserDb, names.app, 'change-me-app');
    await runAs(serverUrl!, rename(sql.roles!));
    await runAs(superuserDb, rename(sql.database!));
    const runner = await pgRunner(ownerUrl);
    try {
      await runMigrations(runner);
    } finally {
      await runner.release();
    }
    await runAs(ownerUrl, rename(sql.grants!));
    server = await startTestServer({}, { databaseUrl: appUrl });
    app = new pg.Client({ connectionString: appUrl });
    await app.connect();
  });

  afterAll(async () => {
    await app?.end().catch(() => {});
    await server?.close();
    await runAs(
      serverUrl!,
      `DROP DATABASE IF EXISTS "${names.database}" WITH (FORCE);\nDROP ROLE IF EXISTS "${names.app}";\nDROP ROLE IF EXISTS "${names.owner}"`,
    );
  });

  it('the owner owns every table; the app role is no superuser and owns nothing', async () => {
    const [me] = (await app.query('SELECT current_user AS name, rolsuper FROM pg_roles WHERE rolname = current_user')).rows;
    expect(me).toEqual({ name: names.app, rolsuper: false });
    const owners = (await app.query(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.tableowner);
    expect(owners).toEqual([names.owner]);
  });

  it('the app starts (migrations up to date) and serves chats and credit adjustments over HTTP', async () => {
    const applied = (await app.query('SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL')).rows[0].n;
    expect(applied).toBe(readMigrations().length);
    const user = await person(server!);
    const chat = await send(user.b, { content: 'Hello from the app role' });
    expect(chat.done?.usage.totalTokens).toBeGreaterThan(0);
    const admin = await person(server!, 'admin');
    await expect(admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 1_000, reason: 'credits under the app role' })).resolves.toMatchObject({
      balanceTokens: 1_000,
    });
    expect((await app.query('SELECT count(*)::int AS n FROM credit_ledger WHERE user_id = $1', [user.id])).rows[0].n).toBe(1);
    expect((await app.query('SELECT count(*)::int AS n FROM usage_events WHERE user_id = $1', [user.id])).rows[0].n).toBe(1);
  });

  it('refuses TRUNCATE, DROP, ALTER TABLE ... DISABLE TRIGGER, CREATE, replacing a trigger function and session_replication_role', async () => {
    const refused = async (sql: string, message: RegExp) => {
      const error = await app.query(sql).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(error, sql).not.toBeNull();
      expect(error!.code, `${sql}: ${error!.message}`).toBe('42501'); // insufficient_privilege
      expect(error!.message).toMatch(message);
    };
    const ledgerRows = async () => (await app.query('SELECT count(*)::int AS n FROM credit_ledger')).rows[0].n as number;
    const before = await ledgerRows();
    expect(before).toBeGreaterThan(0);
    await refused('TRUNCATE credit_ledger', /permission denied/);
    await refused('TRUNCATE audit_log', /permission denied/);
    await refused('DROP TABLE credit_ledger', /must be owner/);
    await refused('ALTER TABLE credit_ledger DISABLE TRIGGER credit_ledger_append_only', /must be owner/);
    await refused('ALTER TABLE credit_ledger DISABLE TRIGGER ALL', /must be owner/);
    await refused('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only', /must be owner/);
    await refused('CREATE TABLE sneaky (id int)', /permission denied for schema public/);
    await refused(
      `CREATE OR REPLACE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END; $$`,
      /permission denied for schema public|must be owner/,
    );
    await refused('SET session_replication_role = replica', /permission denied/);
    await refused(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ('x', 'x', 'x')`, /permission denied/);
    // The append-only triggers themselves still refuse what the grants allow.
    await expect(app.query('DELETE FROM credit_ledger')).rejects.toThrow(/append-only/);
    await expect(app.query(`UPDATE credit_ledger SET reason = 'edited'`)).rejects.toThrow(/append-only/);
    expect(await ledgerRows()).toBe(before);
  });

  it("the owner's own TRUNCATE is refused by the trigger", async () => {
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      await expect(owner.query('TRUNCATE credit_ledger')).rejects.toThrow(/credit_ledger is append-only: TRUNCATE refused/);
    } finally {
      await owner.end();
    }
  });

  it("a later migration's table, sequence and function are the app's to use (default privileges)", async () => {
    const runner = await pgRunner(ownerUrl);
    try {
      const later = {
        name: '29990101000000_later_release',
        sql: `CREATE TABLE later_notes (id bigserial PRIMARY KEY, note text NOT NULL);
              CREATE FUNCTION later_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM later_notes $$;`,
        checksum: 'l'.repeat(64),
      };
      expect(await runMigrations(runner, { migrations: [...readMigrations(), later] })).toEqual([later.name]);
    } finally {
      await runner.release();
    }
    await app.query(`INSERT INTO later_notes (note) VALUES ('written by the app role')`);
    expect((await app.query('SELECT later_count()::int AS n')).rows[0].n).toBe(1);
    await expect(app.query('DROP TABLE later_notes')).rejects.toThrow(/must be owner/);
  });
});
