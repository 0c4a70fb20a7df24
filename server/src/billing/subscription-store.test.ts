import { describe, expect, it } from 'vitest';
import { SUBSCRIPTION_COLUMNS_SQL, SUBSCRIPTION_SELECT } from './subscription-store.ts';

describe('SUBSCRIPTION_COLUMNS_SQL', () => {
  it('names exactly the fields of SUBSCRIPTION_SELECT', () => {
    const names = SUBSCRIPTION_COLUMNS_SQL.split(',').map((column) => {
      const alias = /AS "(\w+)"/.exec(column);
      return alias ? alias[1] : column.trim();
    });
    expect(names.sort()).toEqual(Object.keys(SUBSCRIPTION_SELECT).sort());
  });
});
