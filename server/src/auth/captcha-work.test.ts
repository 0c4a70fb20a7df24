// How much work a captcha solve really takes, counted in key derivations (not
// time), for a solver that knows everything public about the scheme: the
// challenge it receives and the smallest secret counter it has ever seen.
//
// The key derivation is PBKDF2 with one iteration instead of the challenge's
// `cost` (the same function for the server and the solver, so challenges stay
// solvable): the secret counter, and so the number of derivations a solver
// needs, does not depend on the cost, and thousands of solves then take seconds.
// captcha.test.ts covers the real PBKDF2 cost end to end.
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { solveChallenge, type Challenge, type ChallengeParameters } from 'altcha-lib';
import type { PrismaClient } from '@chatmeter/db/client';

const work = vi.hoisted(() => ({ evaluations: 0, budget: Infinity, controller: null as AbortController | null }));

vi.mock('altcha-lib/algorithms/pbkdf2', () => ({
  deriveKey: async (parameters: ChallengeParameters, salt: Uint8Array, password: Uint8Array) => {
    work.evaluations += 1;
    if (work.evaluations >= work.budget) work.controller?.abort();
    return { parameters: {}, derivedKey: new Uint8Array(pbkdf2Sync(password, salt, 1, parameters.keyLength, 'sha256')) };
  },
}));

const { CAPTCHA_COST, CAPTCHA_COUNTER_RANGE, createCaptcha } = await import('./captcha.ts');
const { deriveKey } = await import('altcha-lib/algorithms/pbkdf2');

/**
 * The work each guest session is meant to cost: 0.8 million PBKDF2-SHA-256
 * iterations on average (800 counters at cost 1,000), as docs/security.md and
 * the captcha's own notes have always stated it.
 */
const INTENDED_MEAN_ITERATIONS = 800_000;

// verify() is not used here, so no database.
const captcha = createCaptcha({ enabled: true, hmacKey: 'captcha-work-test-key', prisma: {} as PrismaClient });

async function freshChallenge(): Promise<Challenge> {
  const challenge = JSON.parse(JSON.stringify(await captcha.challenge())) as Challenge;
  work.evaluations = 0; // creating it derived one key on the server's side
  return challenge;
}

/**
 * Derivations a solver needs that believes the secret counter lies in [floor, ceiling]: it tries
 * those first, then the counters below the floor, then those above the ceiling.
 */
async function evaluationsFrom(challenge: Challenge, floor = 0, ceiling = Infinity): Promise<{ evaluations: number; counter: number }> {
  const unbounded = 100 * (INTENDED_MEAN_ITERATIONS / CAPTCHA_COST);
  const segments: Array<[start: number, length: number]> = [
    [floor, ceiling - floor + 1],
    [0, floor],
    [ceiling + 1, unbounded],
  ];
  work.evaluations = 0;
  try {
    for (const [start, length] of segments) {
      if (length <= 0 || !Number.isFinite(start)) continue;
      work.controller = new AbortController();
      work.budget = work.evaluations + Math.min(length, unbounded);
      // altcha-lib's solver, the loop the widget's workers run, from its counterStart.
      const solution = await solveChallenge({ challenge, deriveKey, counterStart: start, controller: work.controller, timeout: 0 });
      if (solution) return { evaluations: work.evaluations, counter: solution.counter };
    }
  } finally {
    work.budget = Infinity;
    work.controller = null;
  }
  throw new Error('no solution found');
}

describe('captcha work', () => {
  it('a solver that starts at the smallest counter it has seen still does the intended work on average', async () => {
    // What a bot learns by solving challenges: the smallest and largest secret counters the server uses.
    const seen: number[] = [];
    for (let i = 0; i < 250; i++) seen.push((await evaluationsFrom(await freshChallenge())).counter);
    const floor = Math.min(...seen);
    const ceiling = Math.max(...seen);

    // It then starts every solve at that floor (and tries the counters outside what it saw last).
    let total = 0;
    const solves = 600;
    for (let i = 0; i < solves; i++) total += (await evaluationsFrom(await freshChallenge(), floor, ceiling)).evaluations;
    const meanIterations = (total / solves) * CAPTCHA_COST;
    expect(meanIterations, `floor ${floor}`).toBeGreaterThan(0.9 * INTENDED_MEAN_ITERATIONS);
    expect(meanIterations, `floor ${floor}`).toBeLessThan(1.1 * INTENDED_MEAN_ITERATIONS);
    // And that is half the counter range: the secret counter is uniform over all of it.
    expect(total / solves).toBeGreaterThan(0.45 * CAPTCHA_COUNTER_RANGE);
    expect(total / solves).toBeLessThan(0.55 * CAPTCHA_COUNTER_RANGE);
  }, 120_000);

  it('the secret counter is uniform over [0, range): no floor, no counter at or past the range', async () => {
    const counters: number[] = [];
    for (let i = 0; i < 400; i++) counters.push((await evaluationsFrom(await freshChallenge())).counter);
    expect(Math.max(...counters)).toBeLessThan(CAPTCHA_COUNTER_RANGE);
    // Each quarter of the range holds about a quarter of the counters (expected 100 each; sd about 9).
    const quarters = [0, 0, 0, 0];
    for (const c of counters) quarters[Math.floor((4 * c) / CAPTCHA_COUNTER_RANGE)]! += 1;
    for (const q of quarters) expect(q, JSON.stringify(quarters)).toBeGreaterThan(60);
  }, 120_000);

  it('a challenge carries nothing about the counter but the prefix to find', async () => {
    const challenge = await freshChallenge();
    expect(Object.keys(challenge).sort()).toEqual(['parameters', 'signature']);
    expect(Object.keys(challenge.parameters).sort()).toEqual(['algorithm', 'cost', 'expiresAt', 'keyLength', 'keyPrefix', 'keySignature', 'nonce', 'salt']);
    expect(challenge.parameters.cost).toBe(CAPTCHA_COST);
  });
});
