import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from './env.ts';

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

  it('reconciliation: off without a key, OpenAI by default, 5 % unless set', () => {
    const env = parseEnv({ RECONCILE_ALERT_PERCENT: '' });
    expect(env.OPENAI_ADMIN_KEY).toBeUndefined();
    expect(env.OPENAI_ADMIN_BASE_URL).toBe('https://api.openai.com/v1');
    expect(env.RECONCILE_ALERT_PERCENT).toBe(5);
    expect(env.RECONCILE_PROJECT_IDS).toEqual([]);
    const set = parseEnv({
      OPENAI_ADMIN_KEY: 'sk-admin-x',
      OPENAI_ADMIN_BASE_URL: 'http://127.0.0.1:9/v1',
      RECONCILE_ALERT_PERCENT: '2.5',
      RECONCILE_PROJECT_IDS: 'proj_a, proj_b',
    });
    expect(set).toMatchObject({
      OPENAI_ADMIN_KEY: 'sk-admin-x',
      OPENAI_ADMIN_BASE_URL: 'http://127.0.0.1:9/v1',
      RECONCILE_ALERT_PERCENT: 2.5,
      RECONCILE_PROJECT_IDS: ['proj_a', 'proj_b'],
    });
    expect(() => parseEnv({ RECONCILE_ALERT_PERCENT: 'five' })).toThrow(/RECONCILE_ALERT_PERCENT/);
    expect(() => parseEnv({ RECONCILE_ALERT_PERCENT: '-1' })).toThrow(/RECONCILE_ALERT_PERCENT/);
    expect(() => parseEnv({ OPENAI_ADMIN_BASE_URL: 'ftp://x' })).toThrow(/OPENAI_ADMIN_BASE_URL/);
    expect(() => parseEnv({ RECONCILE_PROJECT_IDS: 'proj a' })).toThrow(/RECONCILE_PROJECT_IDS/);
  });

  it('allows 3 new accounts a day per network by default, 0 turns the daily limit off, and names a bad value', () => {
    expect(parseEnv({}).SIGNUPS_PER_IP_PER_DAY).toBe(3);
    expect(parseEnv({ SIGNUPS_PER_IP_PER_DAY: '' }).SIGNUPS_PER_IP_PER_DAY).toBe(3);
    expect(parseEnv({ SIGNUPS_PER_IP_PER_DAY: '0' }).SIGNUPS_PER_IP_PER_DAY).toBe(0);
    expect(parseEnv({ SIGNUPS_PER_IP_PER_DAY: '25' }).SIGNUPS_PER_IP_PER_DAY).toBe(25);
    for (const bad of ['-1', 'three', '1.5']) {
      expect(() => parseEnv({ SIGNUPS_PER_IP_PER_DAY: bad })).toThrow(/SIGNUPS_PER_IP_PER_DAY/);
    }
  });
});

describe('TTS engines', () => {
  it('defaults to the built-in espeak-ng worker', () => {
    expect(parseEnv({})).toMatchObject({ TTS_ENGINE: 'espeak-ng', TTS_VOICES: [] });
  });

  it('openai-compatible needs TTS_BASE_URL and TTS_MODEL, and reads TTS_VOICES with optional languages', () => {
    expect(() => parseEnv({ TTS_ENGINE: 'openai-compatible', TTS_MODEL: 'tts-1' })).toThrow(/TTS_BASE_URL: required when TTS_ENGINE=openai-compatible/);
    expect(() => parseEnv({ TTS_ENGINE: 'openai-compatible', TTS_BASE_URL: 'https://api.openai.com/v1' })).toThrow(/TTS_MODEL: required/);
    const env = parseEnv({
      TTS_ENGINE: 'openai-compatible',
      TTS_BASE_URL: 'http://localhost:8880/v1',
      TTS_MODEL: 'kokoro',
      TTS_VOICES: 'af_bella, ff_siwis:fr',
    });
    expect(env.TTS_VOICES).toEqual([
      { id: 'af_bella', language: undefined },
      { id: 'ff_siwis', language: 'fr' },
    ]);
    expect(() => parseEnv({ TTS_VOICES: 'alloy,bad voice' })).toThrow(/TTS_VOICES: must be a comma-separated list of voice ids/);
    expect(() => parseEnv({ TTS_ENGINE: 'piper' })).toThrow(/TTS_ENGINE/);
    expect(() => parseEnv({ TTS_BASE_URL: 'ftp://x' })).toThrow(/TTS_BASE_URL/);
  });
});

describe('TRUST_PROXY in production', () => {
  // Trusting every X-Forwarded-For lets any client pick its own address, which turns every per-IP limit off.
  it.each(['true', 'TRUE', ' true ', '0.0.0.0/0', '::/0', 'loopback, 0.0.0.0/0'])('refuses %o (trust any sender) and says what to set instead', (value) => {
    let error: unknown;
    try {
      parseEnv({ NODE_ENV: 'production', TRUST_PROXY: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EnvError);
    const message = (error as Error).message;
    expect(message).toMatch(/TRUST_PROXY:/);
    expect(message).toMatch(/hop count/);
    expect(message).toMatch(/addresses/);
    expect(message).toMatch(/TRUST_PROXY_ALLOW_ANY=1/);
  });

  it('accepts it with TRUST_PROXY_ALLOW_ANY=1, and outside production', () => {
    expect(parseEnv({ NODE_ENV: 'production', TRUST_PROXY: 'true', TRUST_PROXY_ALLOW_ANY: '1' }).TRUST_PROXY).toBe('true');
    expect(parseEnv({ NODE_ENV: 'development', TRUST_PROXY: 'true' }).TRUST_PROXY).toBe('true');
    expect(parseEnv({ NODE_ENV: 'test', TRUST_PROXY: 'true' }).TRUST_PROXY).toBe('true');
  });

  it.each(['1', '2', 'loopback', 'loopback, 10.0.0.0/8', '10.0.0.5, 10.0.0.6', 'uniquelocal', 'fd00::/8'])(
    'accepts a hop count or the proxy addresses (%o)',
    (value) => {
      expect(parseEnv({ NODE_ENV: 'production', TRUST_PROXY: value }).TRUST_PROXY).toBe(value);
    },
  );
});
