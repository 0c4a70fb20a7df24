import { describe, expect, it } from 'vitest';
import { nestedDeeperThan } from './json-depth.ts';

const arrays = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;

describe('nestedDeeperThan', () => {
  it('counts arrays and objects, not scalars', () => {
    expect(nestedDeeperThan(1, 0)).toBe(false);
    expect(nestedDeeperThan('x', 0)).toBe(false);
    expect(nestedDeeperThan(null, 0)).toBe(false);
    expect(nestedDeeperThan({}, 1)).toBe(false);
    expect(nestedDeeperThan({}, 0)).toBe(true);
    expect(nestedDeeperThan({ json: { a: [1, 2, { b: 'c' }] } }, 4)).toBe(false);
    expect(nestedDeeperThan({ json: { a: [1, 2, { b: 'c' }] } }, 3)).toBe(true);
    expect(nestedDeeperThan(arrays(32), 32)).toBe(false);
    expect(nestedDeeperThan(arrays(33), 32)).toBe(true);
  });

  it('measures a million levels without overflowing the stack', () => {
    expect(nestedDeeperThan(arrays(1_000_000), 32)).toBe(true);
    expect(nestedDeeperThan(JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`), 99_999)).toBe(true);
    expect(nestedDeeperThan(JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`), 100_000)).toBe(false);
  });
});
