import { describe, expect, it } from 'vitest';
import { parseEnv } from './env.ts';

describe('parseEnv', () => {
  it('has working defaults for a fresh machine', () => {
    const env = parseEnv({}, '/srv/app');
    expect(env).toMatchObject({ PORT: 3000, DATA_DIR: './data', SESSION_DAYS: 30 });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.dataDirAbsolute).toBe('/srv/app/data');
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL: must be a postgres/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL/],
    [{ ADMIN_EMAIL: 'root@example.com' }, /ADMIN_PASSWORD/],
    [{ SESSION_DAYS: '0' }, /SESSION_DAYS/],
    [{ APP_ORIGIN: 'not a url' }, /APP_ORIGIN/],
  ])('stops on a bad value and names the variable (%o)', (source, message) => {
    expect(() => parseEnv(source as Record<string, string>)).toThrow(message);
  });

  it('treats empty strings as unset', () => {
    const env = parseEnv({ DATABASE_URL: '', REDIS_URL: ' ', SMTP_URL: '' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.SMTP_URL).toBeUndefined();
  });
});
