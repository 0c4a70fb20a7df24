// The captcha against a real database: challenges are solved here with
// altcha-lib's own solver and sent back in the widget's payload format.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createChallenge, solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { createTestDatabase, type TestDatabase } from '@chatmeter/db/testing';
import type { PrismaClient } from '@chatmeter/db/client';
import { CAPTCHA_ALGORITHM, CAPTCHA_COST, CAPTCHA_COUNTER_RANGE, CAPTCHA_TTL_MS, createCaptcha, type Captcha } from './captcha.ts';

const HMAC_KEY = 'test-captcha-hmac-key-0123456789abcdef';

let tdb: TestDatabase;
let prisma: PrismaClient;
let captcha: Captcha;

beforeAll(async () => {
  tdb = await createTestDatabase();
  prisma = tdb.db.prisma;
  captcha = createCaptcha({ enabled: true, hmacKey: HMAC_KEY, prisma });
});
afterAll(async () => {
  await tdb?.cleanup();
});

/** What the altcha widget (3.x, v2 challenges) reports as `payload`. */
function widgetPayload(challenge: Challenge, solution: unknown): string {
  return btoa(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution }));
}

async function solve(challenge: Challenge) {
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('no solution found');
  return solution;
}

async function solvedPayload(c: Captcha = captcha): Promise<{ challenge: Challenge; payload: string }> {
  // Through JSON, as tRPC and the widget see it.
  const challenge = JSON.parse(JSON.stringify(await c.challenge())) as Challenge;
  return { challenge, payload: widgetPayload(challenge, await solve(challenge)) };
}

const decode = (payload: string) => JSON.parse(atob(payload)) as { challenge: Challenge; solution: { counter: number; derivedKey: string } };

describe('captcha (enabled)', () => {
  it('issues signed, expiring PBKDF2 challenges of the documented difficulty', async () => {
    const before = Date.now();
    const challenge = (await captcha.challenge()) as Challenge;
    expect(challenge.signature).toMatch(/^[0-9a-f]{64}$/);
    const p = challenge.parameters;
    expect(p).toMatchObject({ algorithm: CAPTCHA_ALGORITHM, cost: CAPTCHA_COST, keyLength: 32 });
    expect(p.keySignature).toMatch(/^[0-9a-f]{64}$/);
    expect(p.expiresAt! * 1000).toBeGreaterThanOrEqual(Math.floor((before + CAPTCHA_TTL_MS) / 1000) * 1000);
    expect(p.expiresAt! * 1000).toBeLessThanOrEqual(Date.now() + CAPTCHA_TTL_MS);
    const solution = await solve(challenge);
    expect(solution.counter).toBeGreaterThanOrEqual(0);
    expect(solution.counter).toBeLessThan(CAPTCHA_COUNTER_RANGE);
  });

  it('accepts a solved challenge once, and records its signature', async () => {
    const { challenge, payload } = await solvedPayload();
    expect(payload.length).toBeLessThan(4096); // the auth.signUp input allows 4096 characters
    expect(await captcha.verify(payload)).toBe(true);
    expect(await captcha.verify(payload)).toBe(false);
    expect(await prisma.captchaUse.findUnique({ where: { signature: challenge.signature! } })).not.toBeNull();
  });

  it('accepts a payload only once under concurrent submissions', async () => {
    const { payload } = await solvedPayload();
    const results = await Promise.all([captcha.verify(payload), captcha.verify(payload), captcha.verify(payload)]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('keeps each challenge separate: two solved challenges both pass', async () => {
    const a = await solvedPayload();
    const b = await solvedPayload();
    expect(await captcha.verify(b.payload)).toBe(true);
    expect(await captcha.verify(a.payload)).toBe(true);
  });

  it('refuses undefined, empty and garbage payloads', async () => {
    for (const garbage of [
      undefined,
      '',
      'not base64 !!!',
      'aGVsbG8=', // "hello"
      btoa('null'),
      btoa('[]'),
      btoa('{}'),
      btoa(JSON.stringify({ challenge: null, solution: null, test: true })), // the widget's test mode
      btoa(JSON.stringify({ challenge: { parameters: {}, signature: 'x' }, solution: { counter: 1, derivedKey: 'ab' } })),
      btoa(JSON.stringify({ algorithm: 'SHA-256', challenge: 'ab', number: 1, salt: 's', signature: 'x' })), // v1 shape
      btoa(JSON.stringify({ algorithm: 'SHA-256', signature: 'x', verificationData: 'verified=true', verified: true })), // server signature shape
      'x'.repeat(10_000),
    ]) {
      expect(await captcha.verify(garbage), String(garbage).slice(0, 40)).toBe(false);
    }
    // Non-string values that could arrive if a caller skipped input validation.
    expect(await captcha.verify(42 as unknown as string)).toBe(false);
    expect(await captcha.verify({} as unknown as string)).toBe(false);
  });

  it('refuses a wrong solution and tampered challenges', async () => {
    const { challenge, payload } = await solvedPayload();
    const { solution } = decode(payload);

    // Wrong derived key / counter for an unchanged challenge.
    const wrongKey = solution.derivedKey.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(await captcha.verify(widgetPayload(challenge, { ...solution, derivedKey: wrongKey }))).toBe(false);
    expect(await captcha.verify(widgetPayload(challenge, { ...solution, counter: solution.counter + 1, derivedKey: wrongKey }))).toBe(false);
    expect(await captcha.verify(widgetPayload(challenge, { counter: solution.counter }))).toBe(false);
    expect(await captcha.verify(widgetPayload(challenge, { ...solution, derivedKey: 'ZZ' }))).toBe(false);

    // Parameters changed after signing (cheaper challenge, later expiry, other algorithm).
    const tampered: Array<Partial<Challenge['parameters']>> = [
      { cost: 1 },
      { expiresAt: challenge.parameters.expiresAt! + 3600 },
      { algorithm: 'SHA-256' },
      { keyPrefix: '00' },
      { keySignature: 'ab'.repeat(32) },
    ];
    for (const change of tampered) {
      const forged = { ...challenge, parameters: { ...challenge.parameters, ...change } };
      expect(await captcha.verify(widgetPayload(forged, solution)), JSON.stringify(change)).toBe(false);
    }
    // Signature removed or replaced.
    expect(await captcha.verify(widgetPayload({ parameters: challenge.parameters }, solution))).toBe(false);
    expect(await captcha.verify(widgetPayload({ ...challenge, signature: 'ab'.repeat(32) }, solution))).toBe(false);

    // None of the refusals used the challenge up.
    expect(await captcha.verify(payload)).toBe(true);
  });

  it('refuses challenges signed with another HMAC key, and our challenges under another key', async () => {
    const other = createCaptcha({ enabled: true, hmacKey: 'some-other-key-entirely', prisma });
    const foreign = await solvedPayload(other);
    expect(await captcha.verify(foreign.payload)).toBe(false);

    const ours = await solvedPayload();
    expect(await other.verify(ours.payload)).toBe(false);
    expect(await captcha.verify(ours.payload)).toBe(true);
  });

  it('refuses an unsigned challenge and one a client made with its own key', async () => {
    const counter = 1;
    const unsigned = await createChallenge({ algorithm: CAPTCHA_ALGORITHM, cost: 1, counter, deriveKey });
    expect(await captcha.verify(widgetPayload(unsigned, await solve(unsigned)))).toBe(false);
    const selfSigned = await createChallenge({
      algorithm: CAPTCHA_ALGORITHM,
      cost: 1,
      counter,
      deriveKey,
      expiresAt: new Date(Date.now() + 60_000),
      hmacSignatureSecret: HMAC_KEY, // even the raw configured key is not what signs challenges
      hmacKeySignatureSecret: HMAC_KEY,
    });
    expect(await captcha.verify(widgetPayload(selfSigned, await solve(selfSigned)))).toBe(false);
  });

  it('refuses a challenge solved after it expired', async () => {
    const { payload } = await solvedPayload();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + CAPTCHA_TTL_MS + 1_000);
    expect(await captcha.verify(payload)).toBe(false);
    vi.useRealTimers();
    // Not expired (and not used) a moment earlier.
    expect(await captcha.verify(payload)).toBe(true);
  });

  it('deletes old captcha_uses rows opportunistically, never fresh ones', async () => {
    const old = new Date(Date.now() - 3 * CAPTCHA_TTL_MS);
    await prisma.captchaUse.create({ data: { signature: 'old-row', createdAt: old } });
    await prisma.captchaUse.create({ data: { signature: 'recent-row', createdAt: new Date(Date.now() - CAPTCHA_TTL_MS) } });
    // A fresh instance has not cleaned up yet, so its first successful verification does.
    const fresh = createCaptcha({ enabled: true, hmacKey: HMAC_KEY, prisma });
    const { payload } = await solvedPayload(fresh);
    expect(await fresh.verify(payload)).toBe(true);
    expect(await prisma.captchaUse.findUnique({ where: { signature: 'old-row' } })).toBeNull();
    expect(await prisma.captchaUse.findUnique({ where: { signature: 'recent-row' } })).not.toBeNull();
  });

  it('refuses to start without an HMAC key', () => {
    expect(() => createCaptcha({ enabled: true, hmacKey: '', prisma })).toThrow(/CAPTCHA_HMAC_KEY/);
  });
});

describe('captcha (disabled)', () => {
  it('has no challenge and lets everything through', async () => {
    const off = createCaptcha({ enabled: false, hmacKey: '', prisma });
    expect(off.enabled).toBe(false);
    expect(await off.challenge()).toBeNull();
    expect(await off.verify(undefined)).toBe(true);
    expect(await off.verify('garbage')).toBe(true);
  });
});
