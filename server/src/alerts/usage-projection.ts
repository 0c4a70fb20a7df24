// After every settled chat the alert check reads the user's quotas (one query, issue 17:
// about 0.5 ms of the server's and 0.4 ms of Postgres's CPU per metered chat under load).
// Most of those reads find every quota far below its first threshold (80 %). A projection,
// the last read of the user on this instance plus what settled here since, lets those checks
// be skipped. A check still runs when the projection reaches a threshold, when the read is
// older than PROJECTION_TTL_MS or of an earlier hour, day or billing month, and when credits
// paid for the message (the allowance's "all used" notice). Counting too much is safe (a check
// runs); usage elsewhere (another instance, voice) is seen by the next read, at most
// PROJECTION_TTL_MS later. Voice and every other caller without a delta always read.
import { BoundedMap } from '../lib/bounded-map.ts';
import { thresholdToAnnounce, type QuotaReading } from './quota-alerts.ts';

/** How long a read stands in for the quotas, with what settled on this instance added. */
export const PROJECTION_TTL_MS = 30_000;

/** What one settled chat added to the user's quotas. */
export interface UsageDelta {
  messages: number;
  tokens: number;
  costMicroUsd: number;
  /** Credits paid for it: the allowance is used up, which only a read can announce. */
  creditFunded: boolean;
}

/** The periods a reading must be of to stand for now. */
export interface CurrentPeriods {
  hour: Date;
  day: Date;
  month: Date;
}

interface Entry {
  readings: QuotaReading[];
  readAt: number;
  /** Deltas skipped while a read was running: added to what it read (it may not have seen them). */
  pending: UsageDelta[] | undefined;
}

function added(reading: QuotaReading, delta: UsageDelta): number {
  switch (reading.kind) {
    case 'messages_hour':
    case 'messages_day':
      return delta.messages;
    case 'tokens_month':
      return delta.tokens;
    case 'cost_month':
    case 'spend_limit':
      return delta.costMicroUsd;
    default:
      return 0;
  }
}

function periodOf(reading: QuotaReading, periods: CurrentPeriods): Date {
  if (reading.kind === 'messages_hour') return periods.hour;
  if (reading.kind === 'messages_day' || reading.kind === 'tts_chars_day') return periods.day;
  return periods.month;
}

// Written out rather than `{ ...r, used }`: V8 (Node 20) stored `used` into each spread copy
// through its runtime, six times per settled chat (docs/performance.md, sixth part).
const plus = (readings: QuotaReading[], delta: UsageDelta) =>
  readings.map(
    (r): QuotaReading => ({
      kind: r.kind,
      used: r.used + added(r, delta),
      limit: r.limit,
      periodStart: r.periodStart,
      resetAt: r.resetAt,
      exhausted: r.exhausted,
    }),
  );

export class UsageProjections {
  private readonly entries: BoundedMap<string, Entry>;

  constructor(max = 20_000) {
    this.entries = new BoundedMap(max);
  }

  /**
   * True when, with `delta` added to the user's projection, no quota can have reached a
   * threshold: the check may be skipped (and the delta is kept in the projection).
   */
  skip(userId: string, delta: UsageDelta, now: Date, periods: CurrentPeriods): boolean {
    const entry = this.entries.get(userId);
    if (!entry || delta.creditFunded || now.getTime() - entry.readAt > PROJECTION_TTL_MS) return false;
    const projected = plus(entry.readings, delta);
    if (projected.some((r) => r.periodStart.getTime() !== periodOf(r, periods).getTime())) return false;
    if (projected.some((r) => thresholdToAnnounce(r.used, r.limit, r.exhausted) !== undefined)) return false;
    entry.readings = projected;
    entry.pending?.push(delta);
    return true;
  }

  /** A check starts reading the user's quotas at `now`. */
  reading(userId: string): void {
    const entry = this.entries.get(userId);
    if (entry) entry.pending = [];
  }

  /** What a check read, as of when it started: the deltas skipped meanwhile are added. */
  read(userId: string, readings: QuotaReading[], readAt: number): void {
    const pending = this.entries.get(userId)?.pending ?? [];
    this.entries.delete(userId);
    this.entries.set(userId, { readings: pending.reduce(plus, readings), readAt, pending: undefined });
  }

  /** A check failed: the next one reads. */
  forget(userId: string): void {
    this.entries.delete(userId);
  }
}
