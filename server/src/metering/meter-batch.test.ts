// The batcher's queueing and failure rules, against a scripted query function
// (src/metering/meter-batch.integration.test.ts runs it against Postgres).
import { describe, expect, it } from 'vitest';
import type { SqlQuery } from '@chatmeter/db/client';
import { MAX_BATCH_ITEMS, MeterBatcher, type BatchRow } from './meter-batch.ts';

interface Call {
  settles: { idx: number; id: string }[];
  reserves: { idx: number; id: string }[];
}

function row(kind: 'settle' | 'reserve', idx: number, outcome = 'ok'): BatchRow {
  return {
    o_kind: kind,
    o_idx: idx,
    o_outcome: outcome,
    o_model: null,
    o_limited_by: null,
    o_cost: null,
    o_max_tokens: null,
    o_funded_by: null,
    o_conversation_id: null,
    o_user_message_id: null,
    o_credit_balance: null,
    o_usage_event_id: null,
    o_credit_tokens: null,
  };
}

/** A query that answers every item 'ok' unless `fail` throws for that call. */
function scripted(fail?: (call: Call, n: number) => unknown) {
  const calls: Call[] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const query = (async (_text: string, params: readonly unknown[]) => {
    const call: Call = { settles: JSON.parse(params[0] as string), reserves: JSON.parse(params[1] as string) };
    calls.push(call);
    if (gate) await gate;
    const error = fail?.(call, calls.length);
    if (error) throw error;
    return [...call.settles.map((s) => row('settle', s.idx)), ...call.reserves.map((r) => row('reserve', r.idx))];
  }) as SqlQuery;
  return {
    calls,
    query,
    hold: () => {
      gate = new Promise((r) => (release = r));
    },
    release: () => {
      gate = undefined;
      release?.();
    },
  };
}

describe('MeterBatcher', () => {
  it('sends a lone item at once, and gathers the items that arrive while a batch runs', async () => {
    const db = scripted();
    const batcher = new MeterBatcher(db.query);
    db.hold();
    const first = batcher.submit('reserve', { id: 'a' });
    await Promise.resolve();
    expect(db.calls).toHaveLength(1);
    const more = ['b', 'c', 'd'].map((id) => batcher.submit(id === 'c' ? 'settle' : 'reserve', { id }));
    db.release();
    const rows = await Promise.all([first, ...more]);
    expect(db.calls).toHaveLength(2);
    expect(db.calls[1]).toEqual({
      settles: [{ idx: 1, id: 'c' }],
      reserves: [
        { idx: 0, id: 'b' },
        { idx: 2, id: 'd' },
      ],
    });
    expect(rows.map((r) => r.o_kind)).toEqual(['reserve', 'reserve', 'settle', 'reserve']);
    expect(batcher.stats).toEqual({ batches: 2, items: 4, largest: 3, retries: 0 });
  });

  it(`never puts more than ${MAX_BATCH_ITEMS} items in one statement`, async () => {
    const db = scripted();
    const batcher = new MeterBatcher(db.query);
    db.hold();
    const all = [batcher.submit('reserve', { id: 'first' })];
    for (let i = 0; i < 70; i++) all.push(batcher.submit('reserve', { id: String(i) }));
    db.release();
    await Promise.all(all);
    expect(db.calls.map((c) => c.reserves.length)).toEqual([1, 32, 32, 6]);
  });

  it('retries a batch that lost a deadlock, and gives up after three attempts', async () => {
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const once = scripted((_call, n) => (n === 1 ? deadlock : undefined));
    expect((await new MeterBatcher(once.query).submit('settle', { id: 'x' })).o_outcome).toBe('ok');
    expect(once.calls).toHaveLength(2);
    expect(once.calls).toHaveLength(2);
    const always = scripted(() => deadlock);
    await expect(new MeterBatcher(always.query).submit('settle', { id: 'x' })).rejects.toThrow('deadlock detected');
    expect(always.calls).toHaveLength(3);
  });

  it('runs the items of a failed batch on their own, so only the bad item fails', async () => {
    const db = scripted((call) =>
      call.reserves.some((r) => r.id === 'bad') ? Object.assign(new Error('insert or update violates foreign key constraint'), { code: '23503' }) : undefined,
    );
    const batcher = new MeterBatcher(db.query);
    db.hold();
    const first = batcher.submit('reserve', { id: 'first' });
    const good = batcher.submit('reserve', { id: 'good' });
    const bad = batcher.submit('reserve', { id: 'bad' });
    const settle = batcher.submit('settle', { id: 'settle' });
    db.release();
    await expect(first).resolves.toMatchObject({ o_outcome: 'ok' });
    await expect(good).resolves.toMatchObject({ o_outcome: 'ok' });
    await expect(bad).rejects.toThrow('foreign key');
    await expect(settle).resolves.toMatchObject({ o_kind: 'settle' });
    // first alone; then [good, bad, settle] failed; then each alone.
    expect(db.calls.map((c) => c.reserves.length + c.settles.length)).toEqual([1, 3, 1, 1, 1]);
  });

  it('fails every item of a batch whose connection was lost (no blind re-run)', async () => {
    const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const db = scripted((_call, n) => (n === 2 ? lost : undefined));
    const batcher = new MeterBatcher(db.query);
    db.hold();
    const first = batcher.submit('reserve', { id: 'first' });
    const a = batcher.submit('reserve', { id: 'a' });
    const b = batcher.submit('settle', { id: 'b' });
    db.release();
    await first;
    await expect(a).rejects.toThrow('terminating connection');
    await expect(b).rejects.toThrow('terminating connection');
    expect(db.calls).toHaveLength(2);
    // The batcher keeps working afterwards.
    await expect(batcher.submit('settle', { id: 'c' })).resolves.toMatchObject({ o_outcome: 'ok' });
  });
});
