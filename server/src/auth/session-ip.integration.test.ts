// Sessions keep the client's network, never its full address: an IPv4 /24 or an
// IPv6 /48 with the rest zeroed (server/src/lib/ip.ts). The sessions list, the
// export and the admin's view show that form; the migration rewrote older rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { Prisma } from '@chatmeter/db/client';
import { pgliteRunner, pgRunner } from '@chatmeter/db/client';
import { readMigrations, runMigrations, type SqlRunner } from '@chatmeter/db/migrate';
import { createEmptyServerDatabase, testServerUrl } from '@chatmeter/db/testing';
import { coarseIp } from '../lib/ip.ts';
import { person } from '../../test/helpers/admin.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const PASSWORD = 'correct horse battery staple';
let n = 0;

async function rawRows(userId: string) {
  return server.deps.prisma.$queryRaw<{ ip: string | null }[]>(Prisma.sql`SELECT ip FROM sessions WHERE user_id = ${userId}::uuid`);
}

describe('sessions store the network, not the address', () => {
  it.each([
    ['IPv4', '203.0.113.77', '203.0.113.0/24', '203.0.113.77'],
    ['IPv6', '2001:db8:abcd:12::1', '2001:db8:abcd::/48', '12::1'],
  ])(
    'after sign-up and sign-in over %s, the sessions table holds no full address and auth.sessions shows the coarse form',
    async (_family, ip, coarse, hostPart) => {
      const email = `net${++n}-${Date.now()}@example.com`;
      const first = server.browser({ ip });
      const { user } = await first.trpc.auth.signUp.mutate({ email, password: PASSWORD });
      const second = server.browser({ ip });
      await second.trpc.auth.signIn.mutate({ email, password: PASSWORD });

      const rows = await rawRows(user.id);
      expect(rows).toHaveLength(2);
      expect(rows.map((r) => r.ip)).toEqual([coarse, coarse]);
      // Nowhere in the table, for anyone.
      const [leaks] = await server.deps.prisma.$queryRaw<{ n: bigint }[]>(Prisma.sql`
      SELECT count(*)::bigint AS n FROM sessions WHERE ip = ${ip} OR ip LIKE ${`%${hostPart}%`}`);
      expect(leaks!.n).toBe(0n);

      const listed = await second.trpc.auth.sessions.query();
      expect(listed.map((s) => s.ip)).toEqual([coarse, coarse]);
      const exported = await second.trpc.account.exportData.query();
      expect(exported.sessions.map((s) => s.ip)).toEqual([coarse, coarse]);
      const admin = await person(server, 'admin');
      const detail = await admin.b.trpc.admin.user.query({ userId: user.id });
      expect(JSON.stringify(detail)).not.toContain(ip);
    },
  );

  it('a guest session keeps only the network too', async () => {
    const b = server.browser({ ip: '198.51.100.23' });
    await b.trpc.chat.send.mutate({ content: 'hello' }).then(async (stream) => {
      for await (const _ of stream) void _;
    });
    const me = await b.trpc.auth.me.query();
    expect((await rawRows(me!.id)).map((r) => r.ip)).toEqual(['198.51.100.0/24']);
  });
});

describe('migration 20261204050000_session_ip_network', () => {
  let cleanup: () => Promise<void> = async () => {};
  let runner: SqlRunner;

  beforeAll(async () => {
    const url = testServerUrl();
    if (url) {
      const empty = await createEmptyServerDatabase(url);
      runner = await pgRunner(empty.url);
      cleanup = async () => {
        await runner.release();
        await empty.drop();
      };
    } else {
      const lite = await PGlite.create('memory://');
      runner = pgliteRunner(lite);
      cleanup = () => lite.close();
    }
  });
  afterAll(async () => {
    await cleanup();
  });

  it('rewrites the addresses already stored to their network, with the same rule as the code', async () => {
    const all = readMigrations();
    const at = all.findIndex((m) => m.name === '20261204050000_session_ip_network');
    expect(at).toBeGreaterThan(0);
    await runMigrations(runner, { migrations: all.slice(0, at) });

    const samples = [
      '203.0.113.77',
      '10.0.0.1',
      '::ffff:198.51.100.23',
      '2001:db8:abcd:12::1',
      '2001:0:0:1::1',
      '2001:db8:0:1::',
      '1:2:3:4:5:6:7:8',
      '0:1:0::5',
      '::1',
      'fe80::1%eth0',
      '64:ff9b::192.0.2.33',
      'unknown',
      '',
    ];
    await runner.query(`INSERT INTO users (id, email) VALUES ('00000000-0000-4000-8000-000000000001', 'old@example.com')`);
    for (const [i, ip] of samples.entries()) {
      await runner.query(
        `INSERT INTO sessions (id, secret_hash, user_id, expires_at, ip) VALUES ($1, '\\x00', '00000000-0000-4000-8000-000000000001', now() + interval '1 day', $2)`,
        [`s${String(i).padStart(23, '0')}`, ip],
      );
    }
    await runner.query(
      `INSERT INTO sessions (id, secret_hash, user_id, expires_at, ip) VALUES ('snull00000000000000000000', '\\x00', '00000000-0000-4000-8000-000000000001', now(), NULL)`,
    );

    expect(await runMigrations(runner, { migrations: all })).toEqual(all.slice(at).map((m) => m.name));
    const rows = await runner.query(`SELECT id, ip FROM sessions ORDER BY id`);
    const byId = new Map(rows.map((r) => [String(r.id), r.ip as string | null]));
    for (const [i, ip] of samples.entries()) {
      expect([ip, byId.get(`s${String(i).padStart(23, '0')}`)]).toEqual([ip, coarseIp(ip)]);
    }
    expect(byId.get('snull00000000000000000000')).toBeNull();
  });
});
