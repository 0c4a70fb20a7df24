// GET /healthz: 200 with the database kind while the database answers, 503 with
// ok: false when it does not.
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../../test/helpers/server.ts';

describe('/healthz', () => {
  it('answers 200 { ok, db, version }, and 503 { ok: false } when the database stops answering', async () => {
    const server = await startTestServer();
    try {
      const ok = await fetch(`${server.url}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ ok: true, db: server.deps.db.kind, version: expect.any(String) });
      // A real outage: the database connection is gone.
      await server.deps.db.close();
      const down = await fetch(`${server.url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ ok: false, db: server.deps.db.kind });
    } finally {
      // The database is already closed; closing it again must not fail the test.
      await server.close().catch(() => {});
    }
  });
});
