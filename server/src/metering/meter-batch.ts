// Group commit for the chat meter. Reservations and settlements are queued and
// sent to the database as one cm_meter_batch call (migration 20261123090000, last
// replaced by 20261204051000; sent through cm_meter_batch_replies, migration
// 20261204070000, which also drops settled reservations' saved partial text;
// the functions' current definitions are in prisma/sql/functions):
// one statement, one transaction, one commit for everything this instance has
// waiting. Nothing waits for a timer: when no batch is running, an item goes at
// once (a batch of one, as fast as a single call); while one runs, the items
// that arrive meanwhile gather and go together as soon as it is done. Under load
// the batches grow by themselves, so the hot global counter row is taken once
// per batch instead of once per request.
//
// Failure handling, item by item:
// - a lost connection fails the whole batch (the transaction rolled back, or
//   committed and the reply was lost): every item gets the error, as a single
//   call would (settlement retries, and is idempotent; a reservation retried with
//   the same id cannot be applied twice: its id is the primary key);
// - a deadlock or serialization failure retries the batch (bounded);
// - any other error (one bad item, or a row lock held elsewhere for longer than
//   the batch's lock timeout, migration 20261123100000) runs each item again on
//   its own, so only the bad or blocked item fails.
import type { SqlQuery } from '@chatmeter/db/client';
import { isConnectionError } from '../lib/db-errors.ts';

/** PostgreSQL's subtransaction cache holds 64 ids per transaction; each reservation uses one. */
export const MAX_BATCH_ITEMS = 32;
/** Longest wait of a batch for a row lock another transaction holds (not for other batches). */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 3;

export interface BatchRow {
  o_kind: Kind;
  o_idx: number;
  o_outcome: string;
  o_max_tokens: string | bigint | number | null;
  o_funded_by: string | null;
  o_conversation_id: string | null;
  o_user_message_id: string | null;
  o_credit_balance: string | bigint | number | null;
  o_usage_event_id: string | bigint | number | null;
  o_credit_tokens: string | bigint | number | null;
  /** Reservations: the model chosen (the fallback's when it answers), the limit that shortened the cap, the cost held. */
  o_model: string | null;
  o_limited_by: string | null;
  o_cost: string | bigint | number | null;
}

type Kind = 'settle' | 'reserve';

interface Pending {
  kind: Kind;
  item: Record<string, unknown>;
  resolve: (row: BatchRow) => void;
  reject: (error: unknown) => void;
}

export interface MeterBatchStats {
  batches: number;
  items: number;
  largest: number;
  /** Batches run again after a deadlock or serialization failure. */
  retries: number;
}

export class MeterBatcher {
  private queue: Pending[] = [];
  private running = false;
  readonly stats: MeterBatchStats = { batches: 0, items: 0, largest: 0, retries: 0 };

  constructor(
    private readonly query: SqlQuery,
    private readonly lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
  ) {}

  submit(kind: Kind, item: Record<string, unknown>): Promise<BatchRow> {
    return new Promise<BatchRow>((resolve, reject) => {
      this.queue.push({ kind, item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH_ITEMS);
        await this.run(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const rows = await this.execute(batch);
        this.resolveAll(batch, rows);
        return;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          this.stats.retries++;
          continue;
        }
        if (batch.length > 1 && !isConnectionError(error)) {
          // One bad item must not fail the others: each goes again on its own.
          for (const one of batch) await this.run([one]);
          return;
        }
        for (const p of batch) p.reject(error);
        return;
      }
    }
  }

  private async execute(batch: Pending[]): Promise<BatchRow[]> {
    const settles: Record<string, unknown>[] = [];
    const reserves: Record<string, unknown>[] = [];
    for (const [idx, p] of batch.entries()) (p.kind === 'settle' ? settles : reserves).push({ idx, ...p.item });
    this.stats.batches++;
    this.stats.items += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    return this.query<BatchRow>(
      'SELECT * FROM cm_meter_batch_replies($1::jsonb, $2::jsonb, $3::int)',
      [JSON.stringify(settles), JSON.stringify(reserves), this.lockTimeoutMs],
      { name: 'cm_meter_batch_replies' },
    );
  }

  private resolveAll(batch: Pending[], rows: BatchRow[]): void {
    const byIdx = new Map<number, BatchRow>();
    for (const row of rows) byIdx.set(Number(row.o_idx), row);
    batch.forEach((p, idx) => {
      const row = byIdx.get(idx);
      if (row && row.o_kind === p.kind) p.resolve(row);
      else p.reject(new Error(`cm_meter_batch returned no ${p.kind} row for item ${idx}`));
    });
  }
}
