import { describe, expect, it } from 'vitest';
import type { Meter, SettleChatInput } from './meter.ts';
import { isConnectionError } from '../lib/db-errors.ts';
import { settleChatWithRetry } from './settle-retry.ts';

const input = { reservationId: 'r' } as SettleChatInput;
function meterFailing(errors: unknown[]): { meter: Meter; calls: () => number } {
  let calls = 0;
  const meter = {
    settleChat: async () => {
      const error = errors[calls++];
      if (error) throw error;
      return { usageEventId: 1n, costMicroUsd: 5, creditTokens: 0n };
    },
  } as unknown as Meter;
  return { meter, calls: () => calls };
}

describe('settleChatWithRetry', () => {
  it('recognises dropped connections, not ordinary errors', () => {
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('x', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(new Error('duplicate key value violates unique constraint'))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('division by zero'), { code: '22012' }))).toBe(false);
  });

  it('retries a dropped connection and returns the settlement', async () => {
    const { meter, calls } = meterFailing([new Error('Connection terminated unexpectedly'), new Error('server closed the connection unexpectedly')]);
    const retried: number[] = [];
    expect(await settleChatWithRetry(meter, input, { baseDelayMs: 1, onRetry: (_e, n) => retried.push(n) })).toMatchObject({ usageEventId: 1n });
    expect(calls()).toBe(3);
    expect(retried).toEqual([1, 2]);
  });

  it('does not retry other errors, and gives up after the last attempt', async () => {
    const other = meterFailing([new Error('check constraint violated')]);
    await expect(settleChatWithRetry(other.meter, input, { baseDelayMs: 1 })).rejects.toThrow('check constraint');
    expect(other.calls()).toBe(1);
    const down = meterFailing(Array.from({ length: 10 }, () => new Error('connect ECONNREFUSED 127.0.0.1:5432')));
    await expect(settleChatWithRetry(down.meter, input, { baseDelayMs: 1, attempts: 3 })).rejects.toThrow('ECONNREFUSED');
    expect(down.calls()).toBe(3);
  });
});
