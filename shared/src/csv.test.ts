import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvField, csvRow, parseCsv } from './csv.ts';

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    [' padded', '" padded"'],
    ['', ''],
  ])('%j -> %j', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('writes numbers, booleans and bigints as text and null as empty', () => {
    expect(csvRow([1, true, 12n, null, undefined, 'x'])).toBe('1,true,12,,,x\r\n');
  });
});

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes and both line ends', () => {
    expect(parseCsv('a,"b,c","d ""e"""\r\n1,,"x\ny"\n')).toEqual([
      ['a', 'b,c', 'd "e"'],
      ['1', '', 'x\ny'],
    ]);
  });

  it('refuses an unclosed quote', () => {
    expect(() => parseCsv('"open')).toThrow(/not closed/);
  });

  it('round-trips any table of strings', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.string({ unit: 'grapheme-composite' }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), (table) => {
        // A row of one empty field is written as an empty line, which reads back as [''] too.
        const text = table.map((row) => csvRow(row)).join('');
        expect(parseCsv(text)).toEqual(table);
      }),
    );
  });
});
