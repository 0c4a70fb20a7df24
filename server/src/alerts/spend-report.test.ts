import { describe, expect, it } from 'vitest';
import { change, isoWeekOf, projectMonth, reportableWeek, type SpendReportData, spendReportText } from './spend-report.ts';

describe('isoWeekOf', () => {
  it.each([
    ['2026-12-07T12:00:00Z', '2026-W50', '2026-12-07'],
    ['2026-12-13T23:59:59Z', '2026-W50', '2026-12-07'],
    ['2026-12-14T00:00:00Z', '2026-W51', '2026-12-14'],
    // The ISO year is the Thursday's: 1 January 2027 (a Friday) is in 2026-W53, 31 Dec 2024 in 2025-W01.
    ['2027-01-01T08:00:00Z', '2026-W53', '2026-12-28'],
    ['2024-12-31T08:00:00Z', '2025-W01', '2024-12-30'],
  ])('%s is in %s, from %s', (at, label, start) => {
    const week = isoWeekOf(new Date(at));
    expect(week.label).toBe(label);
    expect(week.start.toISOString().slice(0, 10)).toBe(start);
    expect(week.end.getTime() - week.start.getTime()).toBe(7 * 24 * 60 * 60 * 1000);
  });
});

describe('reportableWeek', () => {
  it('is the last complete week, from Monday 01:00 UTC on', () => {
    expect(reportableWeek(new Date('2026-12-14T00:59:59Z'))).toBeUndefined();
    expect(reportableWeek(new Date('2026-12-14T01:00:00Z'))?.label).toBe('2026-W50');
    expect(reportableWeek(new Date('2026-12-20T23:00:00Z'))?.label).toBe('2026-W50');
  });
});

describe('projection and change', () => {
  it('projects the month from its days so far, rounded', () => {
    expect(projectMonth(10_000_000, 7, 31)).toBe(44_285_714);
    expect(projectMonth(0, 7, 31)).toBe(0);
    expect(projectMonth(5, 0, 30)).toBe(0);
  });

  it.each([
    [123, 100, '+23 %'],
    [95, 100, '−5 %'],
    [100, 100, 'no change'],
    [0, 0, 'no change'],
    [5, 0, 'new'],
  ])('%i against %i: %s', (now, before, expected) => {
    expect(change(now, before)).toBe(expected);
  });
});

describe('spendReportText', () => {
  const data: SpendReportData = {
    week: isoWeekOf(new Date('2026-12-07T00:00:00Z')),
    thisWeek: { costMicroUsd: 12_340_000, tokens: 1_234_567, requests: 321 },
    weekBefore: { costMicroUsd: 10_000_000, tokens: 1_000_000, requests: 400 },
    topUsers: [
      { who: 'alice@example.com', plan: 'pro', costMicroUsd: 4_000_000, tokens: 400_000, requests: 40 },
      { who: 'guest 1234abcd', plan: 'guest', costMicroUsd: 10_000, tokens: 1_000, requests: 5 },
    ],
    plans: [
      { plan: 'pro', users: 3, costMicroUsd: 12_000_000, tokens: 1_200_000, requests: 300 },
      { plan: 'guest', users: 1, costMicroUsd: 340_000, tokens: 34_567, requests: 21 },
    ],
    month: { start: new Date('2026-12-01T00:00:00Z'), costToDate: 15_000_000, capMicroUsd: 50_000_000 },
  };

  it('gives the week against the one before, the projection, top users and plans', () => {
    const report = spendReportText(data);
    expect(report.title).toBe('Weekly spend report 2026-W50: $12.34 (+23 % on the week before)');
    const lines = report.body.split('\n');
    expect(lines[0]).toBe('ChatMeter spend report, week 2026-W50 (Mon, 7 Dec 2026 to Sun, 13 Dec 2026, UTC; settled usage)');
    expect(lines.find((l) => l.startsWith('Provider cost'))).toMatch(/^Provider cost\s+\$12\.34\s+\$10\.00\s+\+23 %$/);
    expect(lines.find((l) => l.startsWith('Requests'))).toMatch(/321\s+400\s+−20 %$/);
    // 13 days of December cost $15: $35.77 at that pace, under the $50 cap.
    expect(report.body).toContain('December 2026: $15.00 in its first 13 days; at that pace, $35.77 for the month. The monthly cost cap is $50.00.');
    expect(report.body).toContain('  1. alice@example.com (pro): $4.00, 400,000 tokens, 40 requests');
    expect(report.body).toContain('  2. guest 1234abcd (guest): $0.01, 1,000 tokens, 5 requests');
    expect(lines.find((l) => l.trimStart().startsWith('pro'))).toMatch(/pro\s+3\s+\$12\.00\s+1,200,000\s+300$/);
    expect(report.details).toMatchObject({ week: '2026-W50', costMicroUsd: 12_340_000, projectedMonthMicroUsd: 35_769_231 });
  });

  it('warns when the projection passes the monthly cap, and says when a week had no usage', () => {
    const report = spendReportText({ ...data, topUsers: [], plans: [], month: { ...data.month, capMicroUsd: 20_000_000 } });
    expect(report.body).toContain('That is above the monthly cost cap of $20.00');
    expect(report.body).toContain('Top users by cost\n  (no usage this week)');
  });

  it('counts a week across two months only up to the end of its month', () => {
    // Week 2026-W53 ends on Sunday 3 January 2027; its last day's month is January: 3 days in.
    const report = spendReportText({
      ...data,
      week: isoWeekOf(new Date('2027-01-01T00:00:00Z')),
      month: { start: new Date('2027-01-01T00:00:00Z'), costToDate: 3_000_000, capMicroUsd: null },
    });
    expect(report.body).toContain('January 2027: $3.00 in its first 3 days; at that pace, $31.00 for the month.');
  });
});
