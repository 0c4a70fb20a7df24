// The user's own usage ledger: GET /export/usage.csv and .json agree with
// usage.history (the CSV is parsed back), and usage.daily sums it per UTC day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@chatmeter/shared/csv';
import { USAGE_EXPORT_COLUMNS } from './usage-rows.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
let b: TestBrowser;
let userId: string;
beforeAll(async () => {
  server = await startTestServer({}, { limits: { chat: { points: 10_000, duration: 60 }, chatIp: { points: 10_000, duration: 60 } } });
  b = server.browser({ ip: '10.80.0.1' });
  userId = (await b.trpc.auth.signUp.mutate({ email: `export-${Date.now()}@example.com`, password: 'correct horse battery' })).user.id;
  for (let i = 0; i < 3; i++) await send(b, { content: `message ${i}, with "quotes", commas\nand a new line` });
  // A voice event and one from yesterday, so the ledger has more than chats on one day.
  await server.deps.prisma.usageEvent.createMany({
    data: [
      { userId, kind: 'tts', model: 'espeak-ng@1.0.2', status: 'ok', ttsChars: 42 },
      {
        userId,
        kind: 'chat',
        model: 'demo',
        status: 'aborted',
        estimated: true,
        promptTokens: 10,
        completionTokens: 3,
        costMicroUsd: 4n,
        createdAt: new Date(Date.now() - 24 * 60 * 60 * 1000),
      },
    ],
  });
});
afterAll(async () => {
  await server?.close();
});

async function history() {
  const items = [];
  let cursor: string | undefined;
  do {
    const page = await b.trpc.usage.history.query({ limit: 2, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items.sort((x, y) => Number(BigInt(x.id) - BigInt(y.id)));
}

describe('usage export', () => {
  it('CSV round-trips: parsed back it equals usage.history', async () => {
    const res = await b.fetch('/export/usage.csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="chatmeter-usage-\d{4}-\d{2}-\d{2}\.csv"$/);
    const [header, ...rows] = parseCsv(await res.text());
    expect(header).toEqual([...USAGE_EXPORT_COLUMNS]);
    const items = await history();
    expect(items).toHaveLength(5);
    const parsed = rows.map((row) => Object.fromEntries(header!.map((column, i) => [column, row[i]])));
    expect(parsed).toEqual(
      items.map((item) => ({
        id: item.id,
        createdAt: item.createdAt.toISOString(),
        kind: item.kind,
        model: item.model ?? '',
        provider: item.provider ?? '',
        promptTokens: String(item.promptTokens),
        completionTokens: String(item.completionTokens),
        costMicroUsd: String(item.costMicroUsd),
        status: item.status,
        estimated: String(item.estimated),
        ttsChars: String(item.ttsChars),
        creditTokens: String(item.creditTokens),
      })),
    );
  });

  it('JSON has the same items', async () => {
    const res = await b.fetch('/export/usage.json');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { exportedAt: string; items: Record<string, unknown>[] };
    expect(Number.isNaN(Date.parse(body.exportedAt))).toBe(false);
    const items = await history();
    expect(body.items).toEqual(items.map((item) => ({ ...item, createdAt: item.createdAt.toISOString() })));
  });

  it('is only the session user’s, and needs a session', async () => {
    const other = server.browser({ ip: '10.80.0.2' });
    await other.trpc.auth.signUp.mutate({ email: `export-other-${Date.now()}@example.com`, password: 'correct horse battery' });
    const rows = parseCsv(await (await other.fetch('/export/usage.csv')).text());
    expect(rows).toEqual([[...USAGE_EXPORT_COLUMNS]]);
    const json = (await (await other.fetch('/export/usage.json')).json()) as { items: unknown[] };
    expect(json.items).toEqual([]);
    const visitor = await server.browser().fetch('/export/usage.json');
    expect(visitor.status).toBe(401);
    expect(await visitor.json()).toMatchObject({ error: { reason: 'unauthenticated' } });
  });
});

describe('usage.daily', () => {
  it('has every one of the last N days, oldest first, summed from the roll-up', async () => {
    const { days, totals } = await b.trpc.usage.daily.query({ days: 7 });
    expect(days).toHaveLength(7);
    const today = new Date().toISOString().slice(0, 10);
    expect(days.at(-1)!.day).toBe(today);
    expect(days.map((d) => d.day)).toEqual([...days.map((d) => d.day)].sort());
    const items = await history();
    const todays = items.filter((i) => i.createdAt.toISOString().slice(0, 10) === today);
    expect(days.at(-1)).toMatchObject({
      messages: 3,
      ttsChars: 42,
      promptTokens: todays.reduce((s, i) => s + i.promptTokens, 0),
      completionTokens: todays.reduce((s, i) => s + i.completionTokens, 0),
      costMicroUsd: todays.reduce((s, i) => s + i.costMicroUsd, 0),
    });
    expect(days.at(-2)).toMatchObject({ messages: 1, promptTokens: 10, completionTokens: 3, tokens: 13, costMicroUsd: 4 });
    expect(days.slice(0, -2).every((d) => d.tokens === 0 && d.messages === 0)).toBe(true);
    expect(totals.messages).toBe(4);
    expect(totals.tokens).toBe(items.filter((i) => i.kind === 'chat').reduce((s, i) => s + i.promptTokens + i.completionTokens, 0));
    expect((await b.trpc.usage.daily.query()).days).toHaveLength(30);
    expect(await trpcError(b.trpc.usage.daily.query({ days: 91 }))).toMatchObject({ reason: 'invalid_input' });
  });
});
