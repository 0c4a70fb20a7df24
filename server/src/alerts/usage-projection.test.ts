import { describe, expect, it } from 'vitest';
import type { QuotaReading } from './quota-alerts.ts';
import { PROJECTION_TTL_MS, UsageProjections, type UsageDelta } from './usage-projection.ts';

const now = new Date('2026-12-06T10:20:00Z');
const periods = { hour: new Date('2026-12-06T10:00:00Z'), day: new Date('2026-12-06T00:00:00Z'), month: new Date('2026-12-01T00:00:00Z') };
const reading = (kind: QuotaReading['kind'], used: number, limit: number): QuotaReading => ({
  kind,
  used,
  limit,
  periodStart: kind === 'messages_hour' ? periods.hour : kind === 'messages_day' || kind === 'tts_chars_day' ? periods.day : periods.month,
  resetAt: new Date('2027-01-01T00:00:00Z'),
});
const readings = () => [
  reading('messages_hour', 2, 10),
  reading('messages_day', 2, 20),
  reading('tokens_month', 1_000, 100_000),
  reading('cost_month', 0, 0),
  reading('spend_limit', 500, 10_000),
];
const message: UsageDelta = { messages: 1, tokens: 300, costMicroUsd: 100, creditFunded: false };

describe('UsageProjections', () => {
  it('skips nothing before a first read, then skips while the projection stays below every first threshold', () => {
    const p = new UsageProjections();
    expect(p.skip('u', message, now, periods)).toBe(false);
    p.read('u', readings(), now.getTime());
    // 2 of 10 this hour: the 3rd to the 7th message stay below 80 %, the 8th reaches it.
    for (let i = 3; i <= 7; i++) expect(p.skip('u', message, now, periods)).toBe(true);
    expect(p.skip('u', message, now, periods)).toBe(false);
  });

  it('reads again when credits paid, after the TTL, and in a new hour, day or month', () => {
    const p = new UsageProjections();
    p.read('u', readings(), now.getTime());
    expect(p.skip('u', { ...message, creditFunded: true }, now, periods)).toBe(false);
    expect(p.skip('u', message, new Date(now.getTime() + PROJECTION_TTL_MS + 1), periods)).toBe(false);
    expect(p.skip('u', message, now, { ...periods, hour: new Date('2026-12-06T11:00:00Z') })).toBe(false);
    expect(p.skip('u', message, now, { ...periods, month: new Date('2027-01-01T00:00:00Z') })).toBe(false);
    expect(p.skip('u', message, now, periods)).toBe(true);
  });

  it('counts dollars against the personal limit and the plan cap, tokens against the month', () => {
    const p = new UsageProjections();
    p.read('u', readings(), now.getTime());
    // 500 + 7,500 = 8,000 of 10,000: 80 % of the personal limit.
    expect(p.skip('u', { ...message, messages: 0, costMicroUsd: 7_500 }, now, periods)).toBe(false);
    p.read('u', readings(), now.getTime());
    expect(p.skip('u', { ...message, messages: 0, tokens: 79_000, costMicroUsd: 0 }, now, periods)).toBe(false);
  });

  it('adds what was skipped while a read ran to what it read (it may not have seen it)', () => {
    const p = new UsageProjections();
    p.read('u', readings(), now.getTime());
    p.reading('u');
    for (let i = 0; i < 5; i++) expect(p.skip('u', message, now, periods)).toBe(true);
    // The read saw 2 messages this hour; the five skipped meanwhile make 7: the next reaches 80 %.
    p.read('u', readings(), now.getTime());
    expect(p.skip('u', message, now, periods)).toBe(false);
  });

  it('forgets a user whose read failed, and keeps at most `max` users', () => {
    const p = new UsageProjections(2);
    p.read('a', readings(), now.getTime());
    p.forget('a');
    expect(p.skip('a', message, now, periods)).toBe(false);
    for (const u of ['a', 'b', 'c']) p.read(u, readings(), now.getTime());
    expect(p.skip('a', message, now, periods)).toBe(false);
    expect(p.skip('c', message, now, periods)).toBe(true);
  });
});
