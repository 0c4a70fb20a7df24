import { describe, expect, it } from 'vitest';
import { CostsShapeError, describeIssues, parseCostsExport, providerDays, type TCostsPage } from './costs-page.ts';

const DAY = 86_400;
const start = Date.parse('2026-11-01T00:00:00Z') / 1000;
const result = (value: number | string, extra: { line_item?: string | null; project_id?: string | null } = {}) => ({
  object: 'organization.costs.result' as const,
  amount: { value, currency: 'usd' },
  line_item: null,
  project_id: null,
  ...extra,
});
const bucket = (i: number, results: ReturnType<typeof result>[]) => ({
  object: 'bucket' as const,
  start_time: start + i * DAY,
  end_time: start + (i + 1) * DAY,
  results,
});
const page = (data: ReturnType<typeof bucket>[], more = false): TCostsPage => ({ object: 'page', data, has_more: more, next_page: more ? 'next' : null });

describe('parseCostsExport', () => {
  it('takes the documented example as one page, or pages in an array', () => {
    const example = {
      object: 'page',
      data: [
        {
          object: 'bucket',
          start_time: 1730419200,
          end_time: 1730505600,
          results: [{ object: 'organization.costs.result', amount: { value: 0.06, currency: 'usd' }, line_item: null, project_id: null }],
        },
      ],
      has_more: false,
      next_page: null,
    };
    const one = parseCostsExport(example);
    expect(one.success && one.data).toHaveLength(1);
    const many = parseCostsExport([example, { ...example, data: [] }]);
    expect(many.success && many.data).toHaveLength(2);
    expect(providerDays(one.success ? one.data : [])).toEqual([{ day: '2024-11-01', costMicroUsd: 60_000 }]);
  });

  it('names the path of each problem', () => {
    const bad = parseCostsExport([
      page([bucket(0, [result(1)])]),
      { object: 'page', data: [{ object: 'bucket', start_time: 10, end_time: 5, results: [{ object: 'x' }] }], has_more: 'no' },
    ]);
    expect(bad.success).toBe(false);
    const text = bad.success ? '' : describeIssues(bad.error);
    expect(text).toContain('[1].data[0].results[0].object');
    expect(text).toContain('[1].has_more');
    expect(text).toContain('[1].next_page');
    // A bucket wider than bucket_width=1d.
    const wide = parseCostsExport({
      object: 'page',
      data: [{ object: 'bucket', start_time: start, end_time: start + 2 * DAY, results: [] }],
      has_more: false,
      next_page: null,
    });
    expect(wide.success ? '' : describeIssues(wide.error)).toBe('  data[0].end_time: a bucket must span at most one day (bucket_width=1d)');
    const empty = parseCostsExport([]);
    expect(empty.success ? '' : describeIssues(empty.error)).toContain('the file holds no pages');
    const top = parseCostsExport('costs');
    expect(top.success ? '' : describeIssues(top.error)).toMatch(/^ {2}\(top level\): /);
  });
});

describe('providerDays', () => {
  it('sums a day’s results exactly and rounds once; a day without results costs 0', () => {
    const days = providerDays([
      page([bucket(0, [result(12.3456789, { line_item: 'in' }), result('0.0000004', { line_item: 'out' }), result(4e-7)])], true),
      page([bucket(1, [])]),
    ]);
    expect(days).toEqual([
      { day: '2026-11-01', costMicroUsd: 12_345_680 },
      { day: '2026-11-02', costMicroUsd: 0 },
    ]);
  });

  it('refuses a day that appears twice (overlapping exports)', () => {
    expect(() => providerDays([page([bucket(0, [result(1)])]), page([bucket(0, [result(1)])])])).toThrow(
      new CostsShapeError('the day 2026-11-01 appears in more than one bucket'),
    );
  });

  it('keeps only the projects asked for, and refuses results it cannot attribute', () => {
    const grouped = page([bucket(0, [result(1, { project_id: 'proj_a' }), result(2, { project_id: 'proj_b' })])]);
    expect(providerDays([grouped], { projectIds: ['proj_a'] })).toEqual([{ day: '2026-11-01', costMicroUsd: 1_000_000 }]);
    expect(providerDays([grouped])).toEqual([{ day: '2026-11-01', costMicroUsd: 3_000_000 }]);
    expect(() => providerDays([page([bucket(0, [result(1)])])], { projectIds: ['proj_a'] })).toThrow(/without project_id/);
  });
});
