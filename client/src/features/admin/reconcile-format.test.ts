import { describe, expect, it } from 'vitest';
import { describeLastRun, formatDrift, reconcileWindow } from './reconcile-format.ts';

describe('reconciliation display', () => {
  it('formats the drift with its sign, and says when there is none', () => {
    expect(formatDrift(10, 1_000)).toBe('+10.00 %');
    expect(formatDrift(-3.5, 1_000)).toBe('−3.50 %');
    expect(formatDrift(0, 0)).toBe('0.00 %');
    expect(formatDrift(null, 0)).toBe('n/a');
    expect(formatDrift(null, null)).toBe('–');
  });

  it('follows the overview window', () => {
    expect([reconcileWindow(1), reconcileWindow(7), reconcileWindow(30)]).toEqual([7, 7, 30]);
  });

  it('describes the last run', () => {
    const at = new Date('2026-12-04T06:01:00Z');
    const f = (d: Date) => d.toISOString().slice(0, 16);
    expect(describeLastRun(null, f)).toEqual({ tone: 'none', text: 'The daily job has not run yet.' });
    expect(describeLastRun({ startedAt: at, finishedAt: at, result: { ok: true, days: 7 } }, f)).toEqual({
      tone: 'ok',
      text: 'Last run 2026-12-04T06:01: 7 days read from OpenAI.',
    });
    expect(describeLastRun({ startedAt: at, finishedAt: at, result: { ok: false, error: 'Costs API: 401 Incorrect API key provided' } }, f).tone).toBe('error');
    expect(describeLastRun({ startedAt: at, finishedAt: null, result: null }, f).text).toBe('Running since 2026-12-04T06:01.');
  });
});
