// Opaque keyset cursors: "<ISO time>|<id>" in base64url. A malformed cursor is
// a BAD_REQUEST, never a 500.
import { AppError } from '../lib/app-error.ts';

export function encodeCursor(at: Date, id: string | bigint): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

export const UUID_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const INT_ID = /^\d{1,18}$/;

/**
 * One page of a keyset query that fetched `limit + 1` rows, newest first: the first `limit` rows,
 * and the cursor of the last of them when there was one more (the next page starts after it).
 */
export function keysetPage<Row>(rows: readonly Row[], limit: number, cursorOf: (last: Row) => string): { rows: Row[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}

export function decodeCursor(cursor: string | undefined, idPattern: RegExp = UUID_ID): { at: Date; id: string } | undefined {
  if (!cursor) return undefined;
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const at = new Date(iso ?? '');
  if (!id || Number.isNaN(at.getTime()) || !idPattern.test(id)) throw new AppError('invalid_input', 'That page cursor is not valid.');
  return { at, id };
}
