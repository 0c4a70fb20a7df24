// The built web client carries no server secret: the client is built with known
// fake secrets in the environment (as a careless CI or `npm start` on a configured
// host would have them) and every emitted file is scanned for them. Vite exposes
// only VITE_* variables; a server variable must not appear, nor a `process.env`
// lookup that a bundler could fill in.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_DIR } from '../../test/helpers/browser.ts';

const SECRETS: Record<string, string> = {
  OPENAI_API_KEY: 'sk-fake-SECRET-123',
  OPENAI_ADMIN_KEY: 'sk-admin-FAKE-SECRET-9a8b',
  STRIPE_SECRET_KEY: 'sk_test_FAKE_SECRET_456',
  STRIPE_WEBHOOK_SECRET: 'whsec_FAKE_SECRET_789',
  CAPTCHA_HMAC_KEY: 'captcha-FAKE-hmac-0a1b2c',
  TTS_WORKER_SECRET: 'tts-FAKE-worker-secret-3d4e',
  IP_HASH_SALT: 'salt-FAKE-5f6a7b',
  METRICS_TOKEN: 'metrics-FAKE-token-8c9d',
  ADMIN_PASSWORD: 'admin-FAKE-password-0e1f',
  DATABASE_URL: 'postgres://chatmeter:db-FAKE-pass-2a3b@db.internal:5432/chatmeter',
  REDIS_URL: 'redis://:redis-FAKE-pass-4c5d@cache.internal:6379',
  SMTP_URL: 'smtp://mailer:smtp-FAKE-pass-6e7f@mail.internal:587',
};
/** What must not appear: each value, and for URLs the password alone. */
const NEEDLES = Object.entries(SECRETS).flatMap(([name, value]) => {
  const password = /:\/\/[^:]*:([^@]+)@/.exec(value)?.[1];
  return [[name, value], ...(password ? [[`${name} password`, password]] : [])] as [string, string][];
});

let outDir: string;
let files: { name: string; text: string }[] = [];

beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), 'chatmeter-bundle-'));
  await promisify(execFile)('npx', ['--no-install', 'vite', 'build', '--outDir', outDir, '--emptyOutDir'], {
    cwd: CLIENT_DIR,
    env: { ...process.env, ...SECRETS, NODE_ENV: 'production', VITE_BUNDLE_PROBE: 'visible-probe-value' },
    timeout: 120_000,
  });
  const names = (await readdir(outDir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
  files = await Promise.all(names.map(async (name) => ({ name: path.relative(outDir, name), text: await readFile(name, 'latin1') })));
}, 150_000);

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('the built client bundle', () => {
  it('was built: an index.html and JavaScript assets (source maps included in the scan)', () => {
    expect(files.map((f) => f.name)).toContain('index.html');
    expect(files.filter((f) => f.name.endsWith('.js')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.name.endsWith('.map')).length).toBeGreaterThan(0);
  });

  it('contains none of the server secrets in any emitted file', () => {
    const leaks = files.flatMap((f) => NEEDLES.filter(([, needle]) => f.text.includes(needle)).map(([name]) => `${name} in ${f.name}`));
    expect(leaks).toEqual([]);
  });

  it('has no process.env lookups left in the code it ships', () => {
    // Source maps carry the original sources (which may mention import.meta.env); the shipped code is what runs.
    const shipped = files.filter((f) => /\.(js|mjs|html|css)$/.test(f.name));
    expect(shipped.filter((f) => /process\.env\b/.test(f.text)).map((f) => f.name)).toEqual([]);
    // No server-only module was pulled into the browser bundle.
    for (const marker of ['@prisma/client', 'argon2', 'nodemailer', 'ioredis', 'pino-http', 'STRIPE_SECRET_KEY']) {
      expect(shipped.filter((f) => f.text.includes(marker)).map((f) => `${marker} in ${f.name}`)).toEqual([]);
    }
  });
});
