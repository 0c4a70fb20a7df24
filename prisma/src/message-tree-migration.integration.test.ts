// Migration 20261206100000_message_tree turns each existing conversation, which was
// linear, into a one-path tree: every message follows the one before it, and the
// newest message is the active leaf, so chat.messages shows what it showed before.
import { afterEach, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { pgliteRunner, pgRunner } from './client.ts';
import { readFunctions, readMigrations, runMigrations, type SqlRunner } from './migrate.ts';
import { createEmptyServerDatabase, testServerUrl } from './testing.ts';

const MESSAGE_TREE = '20261206100000_message_tree';

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

describe('migration 20261206100000_message_tree', () => {
  it('links the messages of each existing conversation in their order and makes the newest the active leaf', async () => {
    const runner = await fresh();
    const all = readMigrations();
    const at = all.findIndex((m) => m.name === MESSAGE_TREE);
    expect(at).toBeGreaterThan(0);
    // A database from before the tree, with linear conversations (functions do not matter here).
    await runMigrations(runner, { migrations: all.slice(0, at), functions: [] });
    const user = '00000000-0000-4000-8000-000000000001';
    const [a, b, empty] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000000e'];
    await runner.exec(`
      INSERT INTO users (id, email) VALUES ('${user}', 'tree@example.com');
      INSERT INTO conversations (id, user_id, title, model, message_count) VALUES
        ('${a}', '${user}', 'a', 'demo', 3), ('${b}', '${user}', 'b', 'demo', 2), ('${empty}', '${user}', 'e', 'demo', 0);
      INSERT INTO messages (id, conversation_id, user_id, role, content, created_at) VALUES
        ('00000000-0000-4000-8000-0000000000a1', '${a}', '${user}', 'user', 'a1', '2026-12-01T10:00:00Z'),
        ('00000000-0000-4000-8000-0000000000b1', '${b}', '${user}', 'user', 'b1', '2026-12-01T10:00:01Z'),
        ('00000000-0000-4000-8000-0000000000a2', '${a}', '${user}', 'assistant', 'a2', '2026-12-01T10:00:02Z'),
        ('00000000-0000-4000-8000-0000000000b2', '${b}', '${user}', 'assistant', 'b2', '2026-12-01T10:00:03Z'),
        ('00000000-0000-4000-8000-0000000000a3', '${a}', '${user}', 'user', 'a3', '2026-12-01T10:00:04Z');`);
    await runMigrations(runner, { migrations: all, functions: readFunctions() });

    const messages = await runner.query(
      `SELECT content, (SELECT p.content FROM messages p WHERE p.id = m.parent_id) AS parent FROM messages m ORDER BY content`,
    );
    expect(messages).toEqual([
      { content: 'a1', parent: null },
      { content: 'a2', parent: 'a1' },
      { content: 'a3', parent: 'a2' },
      { content: 'b1', parent: null },
      { content: 'b2', parent: 'b1' },
    ]);
    const leaves = await runner.query(`SELECT c.title, m.content FROM conversations c LEFT JOIN messages m ON m.id = c.active_leaf_id ORDER BY c.title`);
    expect(leaves).toEqual([
      { title: 'a', content: 'a3' },
      { title: 'b', content: 'b2' },
      { title: 'e', content: null },
    ]);
  });
});
