// The ledger functions' counter statements and roll-up (issue 17): cm_reserve_chat takes its
// counters in two multi-row conditional statements, cm_settle_chat adjusts them in one, and a
// meter batch rolls its settlements' usage events up once. These pin what must not change:
// a refusal on each counter names the same limit and changes nothing (also when another
// writer fills the counter between the reservation's read and its take), adjustments never
// go below zero, and usage_daily stays equal to the events it sums.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testServerUrl, type TestDatabase } from '@chatmeter/db/testing';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.cleanup();
});

const q = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => tdb.db.query<T>(text, params);

/** cm_reserve_chat's arguments, by name (without the p_), with their SQL types. */
const RESERVE_TYPES: Record<string, string> = {
  reservation_id: 'uuid',
  user_id: 'uuid',
  is_guest: 'boolean',
  ip_hash: 'text',
  now: 'timestamptz',
  hour: 'timestamptz',
  day: 'timestamptz',
  month: 'timestamptz',
  expires_at: 'timestamptz',
  messages_hour_limit: 'bigint',
  messages_day_limit: 'bigint',
  ip_day_limit: 'bigint',
  tokens_month_limit: 'bigint',
  prompt: 'bigint',
  max_tokens: 'bigint',
  min_completion: 'bigint',
  default_cap: 'bigint',
  model: 'text',
  request_id: 'text',
  conversation_id: 'uuid',
  title: 'text',
  content: 'text',
  max_messages: 'integer',
  in_price: 'bigint',
  out_price: 'bigint',
  cost_month_limit: 'bigint',
  default_cost_day_cap: 'bigint',
  default_cost_month_cap: 'bigint',
  global_month: 'timestamptz',
  fallback_model: 'text',
  fallback_in_price: 'bigint',
  fallback_out_price: 'bigint',
  fallback_max_tokens: 'bigint',
};

/** Each test gets its own periods (a month of 2031 + n), so the global counters do not meet. */
let nextPeriod = 0;
function periods() {
  const start = new Date(Date.UTC(2031 + Math.floor(nextPeriod / 12), nextPeriod % 12, 1));
  nextPeriod++;
  return { now: start, hour: start, day: start, month: start, global_month: start, expires_at: new Date(start.getTime() + 600_000) };
}

// 100 prompt + 200 completion tokens at 0.15 / 0.60 USD per million: 135 micro-USD held.
const PROMPT = 100;
const MAX = 200;
const COST = 135;

function reserveArgs(userId: string, at: ReturnType<typeof periods>, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    reservation_id: randomUUID(),
    user_id: userId,
    is_guest: false,
    ip_hash: `ip-${userId}`,
    ...at,
    messages_hour_limit: 100,
    messages_day_limit: 100,
    ip_day_limit: 100,
    tokens_month_limit: 1_000_000,
    prompt: PROMPT,
    max_tokens: MAX,
    min_completion: 64,
    default_cap: 1_000_000_000,
    model: 'gpt-4o-mini',
    request_id: randomUUID(),
    conversation_id: null,
    title: 'ledger',
    content: 'hello',
    max_messages: 100,
    in_price: 150_000,
    out_price: 600_000,
    cost_month_limit: 1_000_000_000,
    default_cost_day_cap: 1_000_000_000,
    default_cost_month_cap: 1_000_000_000,
    fallback_model: null,
    fallback_in_price: null,
    fallback_out_price: null,
    fallback_max_tokens: null,
    ...over,
  };
}

function reserveSql(args: Record<string, unknown>): { text: string; params: unknown[] } {
  const names = Object.keys(RESERVE_TYPES);
  const text = `SELECT * FROM cm_reserve_chat(${names.map((n, i) => `p_${n} => $${i + 1}::${RESERVE_TYPES[n]}`).join(', ')})`;
  return { text, params: names.map((n) => (args[n] instanceof Date ? (args[n] as Date).toISOString() : args[n])) };
}

async function reserve(args: Record<string, unknown>): Promise<{ outcome: string; max_tokens: string; funded_by: string }> {
  const { text, params } = reserveSql(args);
  const [row] = await q<{ outcome: string; max_tokens: string; funded_by: string }>(text, params);
  return row!;
}

async function settle(
  reservationId: string,
  o: { prompt?: number; completion?: number; cost?: number; refund?: boolean; isGuest?: boolean; ipHash?: string } = {},
) {
  await q(
    `SELECT * FROM cm_settle_chat($1::uuid, $2::boolean, $3::text, 'gpt-4o-mini', $4::int, $5::int, 0, $6::bigint, 'ok', false, 5, $7::boolean, $8::uuid, 'answer')`,
    [reservationId, o.isGuest ?? false, o.ipHash ?? null, o.prompt ?? PROMPT, o.completion ?? 20, o.cost ?? 27, o.refund ?? false, randomUUID()],
  );
}

async function newUser(): Promise<string> {
  const id = randomUUID();
  await tdb.db.prisma.user.create({ data: { id, email: `${id}@example.com` } });
  return id;
}

/** Every counter of the user (and of its IP), and of the test's global periods. */
async function counters(userId: string, at: ReturnType<typeof periods>): Promise<Record<string, number>> {
  const rows = await q<{ subject: string; kind: string; used: string }>(
    `SELECT subject, kind, used::text FROM quota_counters
      WHERE subject IN ($1, $2) OR (subject = 'global' AND period_start IN ($3::timestamptz, $4::timestamptz))`,
    [`u:${userId}`, `ip:ip-${userId}`, at.day.toISOString(), at.global_month.toISOString()],
  );
  return Object.fromEntries(rows.map((r) => [`${r.subject.startsWith('u:') ? 'u' : r.subject.startsWith('ip:') ? 'ip' : 'g'}:${r.kind}`, Number(r.used)]));
}

async function traces(userId: string) {
  const [row] = await q<{ reservations: number; conversations: number; messages: number; ledger: number; balance: string | null }>(
    `SELECT (SELECT count(*)::int FROM reservations WHERE user_id = $1) AS reservations,
            (SELECT count(*)::int FROM conversations WHERE user_id = $1) AS conversations,
            (SELECT count(*)::int FROM messages WHERE user_id = $1) AS messages,
            (SELECT count(*)::int FROM credit_ledger WHERE user_id = $1) AS ledger,
            (SELECT balance_tokens::text FROM credit_accounts WHERE user_id = $1) AS balance`,
    [userId],
  );
  return row!;
}

/** usage_daily rows that differ from GROUP BY over usage_events (none when the roll-up is exact). */
async function rollUpDifferences(): Promise<unknown[]> {
  return q(`
    WITH e AS (
      SELECT (created_at AT TIME ZONE 'UTC')::date AS day, COALESCE(user_id, '00000000-0000-0000-0000-000000000000'::uuid) AS user_id, is_guest,
             COALESCE(model, '') AS model, COALESCE(provider, '') AS provider, kind, status, count(*)::bigint AS requests,
             sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens, sum(cached_tokens)::bigint AS cached_tokens,
             sum(cost_micro_usd)::bigint AS cost_micro_usd, sum(credit_tokens)::bigint AS credit_tokens, sum(tts_chars)::bigint AS tts_chars,
             (count(*) FILTER (WHERE estimated))::bigint AS estimated_requests, COALESCE(sum(latency_ms), 0)::bigint AS latency_ms
        FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6, 7),
    d AS (SELECT day, user_id, is_guest, model, provider, kind, status, requests, prompt_tokens, completion_tokens, cached_tokens,
                 cost_micro_usd, credit_tokens, tts_chars, estimated_requests, latency_ms FROM usage_daily)
    (SELECT 'missing' AS what, * FROM (SELECT * FROM e EXCEPT SELECT * FROM d) x)
    UNION ALL
    (SELECT 'extra' AS what, * FROM (SELECT * FROM d EXCEPT SELECT * FROM e) y)`);
}

describe('cm_reserve_chat: the counter takes', () => {
  it('takes every counter that applies, by exactly what the reservation holds', async () => {
    const user = await newUser();
    const at = periods();
    const r = await reserve(reserveArgs(user, at));
    expect(r.outcome).toBe('ok');
    expect(await counters(user, at)).toEqual({
      'u:messages_hour': 1,
      'u:messages_day': 1,
      'u:tokens_month': PROMPT + MAX,
      'u:cost_month': COST,
      'u:spend_month': COST,
      'g:global_tokens_day': PROMPT + MAX,
      'g:global_cost_day': COST,
      'g:global_cost_month': COST,
    });
  });

  it('a guest also takes its IP; a free model takes no dollar counter', async () => {
    const user = await newUser();
    const at = periods();
    const r = await reserve(reserveArgs(user, at, { is_guest: true, in_price: 0, out_price: 0 }));
    expect(r.outcome).toBe('ok');
    expect(await counters(user, at)).toEqual({
      'u:messages_hour': 1,
      'u:messages_day': 1,
      'ip:messages_day': 1,
      'u:tokens_month': PROMPT + MAX,
      'g:global_tokens_day': PROMPT + MAX,
    });
  });

  for (const [name, limits, reason] of [
    ['the hour', { messages_hour_limit: 2 }, 'messages_hour'],
    ['the day', { messages_day_limit: 2 }, 'messages_day'],
    ['the hour and the day: the hour first', { messages_hour_limit: 2, messages_day_limit: 2 }, 'messages_hour'],
    ["a guest's IP", { is_guest: true, ip_day_limit: 2 }, 'ip_day'],
  ] as const) {
    it(`messages: ${name} used up refuses with ${reason} and changes no counter`, async () => {
      const user = await newUser();
      const at = periods();
      for (let i = 0; i < 2; i++) expect((await reserve(reserveArgs(user, at, limits))).outcome).toBe('ok');
      const before = await counters(user, at);
      const traced = await traces(user);
      expect((await reserve(reserveArgs(user, at, limits))).outcome).toBe(reason);
      expect(await counters(user, at)).toEqual(before);
      expect(await traces(user)).toEqual(traced);
    });
  }
});

// Another writer fills a counter after the reservation has read it (so it plans to fit) and
// before its conditional take: the take refuses, with that counter's limit, and everything the
// reservation had taken before (messages, the other counters, credits) is given back.
describe.skipIf(!testServerUrl())('cm_reserve_chat: a counter filled between the read and the take', () => {
  const LIMIT = 100_000;
  const cases: { kind: string; reason: string; global?: boolean; over: Record<string, unknown>; setup?: (user: string) => Promise<void>; credits?: boolean }[] =
    [
      { kind: 'tokens_month', reason: 'tokens', over: { tokens_month_limit: LIMIT } },
      { kind: 'cost_month', reason: 'cost_month', over: { cost_month_limit: LIMIT } },
      {
        kind: 'spend_month',
        reason: 'personal',
        over: {},
        setup: async (user) => {
          await q('INSERT INTO user_preferences (user_id, monthly_spend_limit_micro_usd) VALUES ($1, $2)', [user, LIMIT]);
        },
      },
      { kind: 'global_tokens_day', reason: 'global_cap', global: true, over: { default_cap: LIMIT } },
      { kind: 'global_cost_day', reason: 'global_cost_day', global: true, over: { default_cost_day_cap: LIMIT } },
      { kind: 'global_cost_month', reason: 'global_cost_month', global: true, over: { default_cost_month_cap: LIMIT } },
      // Funded by credits (no allowance left): the credit take is given back too.
      {
        kind: 'spend_month',
        reason: 'personal',
        credits: true,
        over: { tokens_month_limit: 10 },
        setup: async (user) => {
          await q('INSERT INTO user_preferences (user_id, monthly_spend_limit_micro_usd) VALUES ($1, $2)', [user, LIMIT]);
          await q('INSERT INTO credit_accounts (user_id, balance_tokens) VALUES ($1, 5000)', [user]);
          await q(`INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason) VALUES ($1, 5000, 5000, 'grant', 'test')`, [user]);
        },
      },
      {
        kind: 'global_cost_month',
        reason: 'global_cost_month',
        global: true,
        credits: true,
        over: { tokens_month_limit: 10, default_cost_month_cap: LIMIT },
        setup: async (user) => {
          await q('INSERT INTO credit_accounts (user_id, balance_tokens) VALUES ($1, 5000)', [user]);
          await q(`INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason) VALUES ($1, 5000, 5000, 'grant', 'test')`, [user]);
        },
      },
    ];

  for (const c of cases) {
    it(`${c.kind}${c.credits ? ' (on credits)' : ''}: refused with ${c.reason}, nothing changed`, async () => {
      const user = await newUser();
      const at = periods();
      await c.setup?.(user);
      // One reservation first, so every counter exists, then the other writer holds this one.
      const first = await reserve(reserveArgs(user, at, c.over));
      expect(first.outcome).toBe('ok');
      expect(first.funded_by).toBe(c.credits ? 'credits' : 'allowance');
      const subject = c.global ? 'global' : `u:${user}`;
      const period = c.kind === 'global_tokens_day' || c.kind === 'global_cost_day' ? at.day : at.month;
      const before = await counters(user, at);
      const traced = await traces(user);
      expect(before[`${c.global ? 'g' : 'u'}:${c.kind}`]).toBeGreaterThan(0);

      const other = new pg.Client({ connectionString: tdb.url });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query('UPDATE quota_counters SET used = $4 WHERE subject = $1 AND kind = $2 AND period_start = $3', [
          subject,
          c.kind,
          period.toISOString(),
          LIMIT,
        ]);
        const args = reserveArgs(user, at, c.over);
        const pending = reserve(args);
        // Wait until the reservation waits for the other writer's row lock, then let it go.
        for (let i = 0; ; i++) {
          const [w] = await q<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%cm_reserve_chat%'`,
          );
          if (w!.n > 0) break;
          if (i > 500) throw new Error('the reservation never waited for the lock');
          await new Promise((r) => setTimeout(r, 10));
        }
        await other.query('COMMIT');
        expect((await pending).outcome).toBe(c.reason);
      } finally {
        await other.end();
      }
      expect(await counters(user, at)).toEqual({ ...before, [`${c.global ? 'g' : 'u'}:${c.kind}`]: LIMIT });
      expect(await traces(user)).toEqual(traced);
    });
  }
});

describe('cm_settle_chat: the counter adjustments', () => {
  it('adjusts each counter to what the reply used and cost', async () => {
    const user = await newUser();
    const at = periods();
    const r = await reserve(reserveArgs(user, at, { reservation_id: randomUUID() }));
    expect(r.outcome).toBe('ok');
    const [res] = await q<{ id: string }>('SELECT id FROM reservations WHERE user_id = $1', [user]);
    await settle(res!.id, { prompt: 90, completion: 30, cost: 40 });
    expect(await counters(user, at)).toEqual({
      'u:messages_hour': 1,
      'u:messages_day': 1,
      'u:tokens_month': 120,
      'u:cost_month': 40,
      'u:spend_month': 40,
      'g:global_tokens_day': 120,
      'g:global_cost_day': 40,
      'g:global_cost_month': 40,
    });
  });

  it('never below zero; a counter gone comes back at max(0, delta); a refunded message gives back its messages', async () => {
    const user = await newUser();
    const at = periods();
    expect((await reserve(reserveArgs(user, at, { is_guest: true }))).outcome).toBe('ok');
    const [res] = await q<{ id: string }>('SELECT id FROM reservations WHERE user_id = $1', [user]);
    // As if reset meanwhile: the month's tokens and dollars lower than the reservation holds, the global day's tokens and cost gone.
    await q(`UPDATE quota_counters SET used = 50 WHERE subject = $1 AND kind = 'tokens_month'`, [`u:${user}`]);
    await q(`UPDATE quota_counters SET used = 10 WHERE subject = $1 AND kind = 'cost_month'`, [`u:${user}`]);
    await q(`DELETE FROM quota_counters WHERE subject = 'global' AND kind IN ('global_tokens_day', 'global_cost_day') AND period_start = $1`, [
      at.day.toISOString(),
    ]);
    // An overrun in tokens (400 > 300 held: +100 on the day's tokens) that cost less than held (-35).
    await settle(res!.id, { prompt: 100, completion: 300, cost: 100, refund: true, isGuest: true, ipHash: `ip-${user}` });
    expect(await counters(user, at)).toEqual({
      'u:messages_hour': 0,
      'u:messages_day': 0,
      'ip:messages_day': 0,
      'u:tokens_month': 150,
      'u:cost_month': 0,
      'u:spend_month': 100,
      'g:global_tokens_day': 100,
      'g:global_cost_day': 0,
      'g:global_cost_month': 100,
    });
    // Settled once: a second settlement changes nothing.
    const after = await counters(user, at);
    await settle(res!.id, { prompt: 1, completion: 1, cost: 1, refund: true, isGuest: true, ipHash: `ip-${user}` });
    expect(await counters(user, at)).toEqual(after);
  });

  it("a deleted account's counters are not brought back; the global ones are adjusted", async () => {
    const user = await newUser();
    const at = periods();
    expect((await reserve(reserveArgs(user, at))).outcome).toBe('ok');
    const [res] = await q<{ id: string }>('SELECT id FROM reservations WHERE user_id = $1', [user]);
    await q('UPDATE reservations SET anonymised = true WHERE id = $1', [res!.id]);
    await q('DELETE FROM quota_counters WHERE subject = $1', [`u:${user}`]);
    await settle(res!.id, { prompt: 100, completion: 20, cost: 27, refund: true });
    expect(await counters(user, at)).toEqual({ 'g:global_tokens_day': 120, 'g:global_cost_day': 27, 'g:global_cost_month': 27 });
  });
});

describe.skipIf(!testServerUrl())('the usage roll-up of a meter batch', () => {
  it('several settlements of the same user, a guest and a deleted account in one batch, then an insert in the same transaction: usage_daily equals the events', async () => {
    const users = [await newUser(), await newUser(), await newUser()];
    const at = { ...periods(), now: new Date() };
    const settles: Record<string, unknown>[] = [];
    let idx = 0;
    for (const [u, user] of users.entries()) {
      for (let i = 0; i < (u === 0 ? 4 : 2); i++) {
        const id = randomUUID();
        expect((await reserve(reserveArgs(user, at, { reservation_id: id, is_guest: u === 1 }))).outcome).toBe('ok');
        settles.push({
          idx: idx++,
          reservation_id: id,
          is_guest: u === 1,
          ip_hash: `ip-${user}`,
          model: i % 2 ? 'gpt-4o-mini' : 'gpt-4o',
          prompt: 100 + i,
          completion: 10 * i,
          cached: i,
          cost: 20 + i,
          status: i === 3 ? 'error' : 'ok',
          estimated: i === 1,
          latency_ms: 7 + i,
          refund_message: false,
          assistant_id: randomUUID(),
          assistant_content: 'answer',
          provider: i % 2 ? 'openai' : null,
        });
      }
    }
    await q(`UPDATE reservations SET anonymised = true WHERE user_id = $1`, [users[2]]);
    // Settled before: the batch says so and adds nothing.
    const again = settles[0]!;
    await settle(String(again.reservation_id), { prompt: 100, completion: 0, cost: 20 });

    const client = new pg.Client({ connectionString: tdb.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query('SELECT o_outcome FROM cm_meter_batch($1::jsonb, NULL)', [JSON.stringify(settles)]);
      expect(rows.map((r) => r.o_outcome).sort()).toEqual([...Array(5).fill('ok'), 'already_settled', 'anonymised', 'anonymised'].sort());
      // The batch hands the roll-up back to the trigger for what follows in its transaction.
      await client.query(
        `INSERT INTO usage_events (user_id, kind, model, prompt_tokens, completion_tokens, cost_micro_usd, status, latency_ms)
                          VALUES ($1, 'tts', 'gpt-4o-mini-tts', 0, 0, 5, 'ok', 3), ($1, 'tts', 'gpt-4o-mini-tts', 0, 0, 6, 'ok', NULL)`,
        [users[0]],
      );
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    expect(await rollUpDifferences()).toEqual([]);
    const [n] = await q<{ n: number }>('SELECT sum(requests)::int AS n FROM usage_daily');
    const [m] = await q<{ m: number }>('SELECT count(*)::int AS m FROM usage_events');
    expect(n!.n).toBe(m!.m);
  });
});
