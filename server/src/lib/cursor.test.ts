import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, INT_ID, keysetPage } from './cursor.ts';

describe('keysetPage', () => {
  const rows = [5, 4, 3].map((id) => ({ id: String(id), at: new Date(Date.UTC(2026, 0, id)) }));
  const cursorOf = (row: (typeof rows)[number]) => encodeCursor(row.at, row.id);

  it('one more row than asked for: the page and the cursor of its last row', () => {
    const page = keysetPage(rows, 2, cursorOf);
    expect(page.rows.map((r) => r.id)).toEqual(['5', '4']);
    expect(decodeCursor(page.nextCursor!, INT_ID)).toEqual({ at: rows[1]!.at, id: '4' });
  });

  it('no more rows: no cursor, and an empty page has none either', () => {
    expect(keysetPage(rows, 3, cursorOf)).toEqual({ rows, nextCursor: null });
    expect(keysetPage([], 3, cursorOf)).toEqual({ rows: [], nextCursor: null });
  });
});

describe('decodeCursor', () => {
  it('refuses a cursor it did not make as invalid input, never a 500', () => {
    expect(() => decodeCursor('not-a-cursor')).toThrow(expect.objectContaining({ reason: 'invalid_input' }));
    expect(decodeCursor(undefined)).toBeUndefined();
  });
});
