import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { isPlainJson } from './plain-json.ts';

const anything = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withBoxedValues: true,
  withUnicodeString: true,
});

describe('isPlainJson: superjson adds nothing', () => {
  it('for any value it accepts, superjson gives exactly { json: value }', () => {
    fc.assert(
      fc.property(anything, (value) => {
        if (!isPlainJson(value)) return;
        expect(JSON.stringify(superjson.serialize(value))).toBe(JSON.stringify({ json: value }));
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts the chat events as they are sent', () => {
    expect(isPlainJson([3, 1, [[{ type: 'delta', text: 'Hello' }]]])).toBe(true);
    expect(isPlainJson({ type: 'start', conversationId: 'c', messageId: 'm', model: 'gpt-4o-mini', demo: false, maxTokens: 64 })).toBe(true);
    expect(isPlainJson({ type: 'done', usage: { promptTokens: 1, completionTokens: 2 }, finishReason: null })).toBe(true);
  });

  it('leaves to superjson what it would annotate or refuse', () => {
    const shared = { a: 1 };
    const polluted = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    const values = [
      undefined,
      { a: undefined },
      [1, undefined],
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      new Date(0),
      new Map(),
      new Set(),
      /x/,
      new Error('e'),
      new URL('https://example.com'),
      [shared, shared],
      polluted,
      { constructor: 1 },
      new (class Point {
        x = 1;
      })(),
      Object.create({ inherited: 1 }),
      // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested
      [1, , 2],
      () => 1,
      Symbol('s'),
    ];
    for (const [i, value] of values.entries()) expect(isPlainJson(value), `value ${i}`).toBe(false);
  });
});
