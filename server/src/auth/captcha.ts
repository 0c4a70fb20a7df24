// Proof-of-work captcha (ALTCHA, self-hosted): guests must solve a challenge
// before a guest session is created when CAPTCHA=on. A solved challenge is
// accepted once (its signature is recorded in captcha_uses).
//
// Challenges are ALTCHA v2 ("deterministic mode"): the server picks a secret
// counter N, derives PBKDF2(nonce || N) and publishes half of that key as the
// prefix to find plus an HMAC of the whole key (keySignature). The browser
// (the `altcha` widget, in Web Workers) tries counters 0, 1, 2, ... until the
// prefix matches, so the work is N + 1 key derivations, bounded, and the same
// on average wherever a solver starts (see CAPTCHA_COUNTER_RANGE). Verifying costs two HMACs and no key derivation, so forged
// payloads cannot make the server burn CPU.
//
// The payload the widget reports is base64(JSON.stringify({ challenge:
// { parameters, signature }, solution: { counter, derivedKey, time } })).
import { createHmac } from 'node:crypto';
import { createChallenge, randomInt, verifySolution, type Challenge, type Solution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { PrismaClient } from '@chatmeter/db/client';

export interface Captcha {
  readonly enabled: boolean;
  /** A fresh challenge for the altcha widget. */
  challenge(): Promise<unknown>;
  /** True when the widget's payload solves one of our unexpired challenges and was not used before. */
  verify(payload: string | undefined): Promise<boolean>;
}

/** Built into the widget (WebCrypto in a Worker) and into Node: no extra worker files needed. */
export const CAPTCHA_ALGORITHM = 'PBKDF2/SHA-256';
/**
 * Difficulty. The solver runs COST PBKDF2-SHA-256 iterations per counter and
 * tries counters 0, 1, 2, ... until it reaches the secret one, N. N is uniform
 * over the whole range [0, CAPTCHA_COUNTER_RANGE), with no floor: a floor
 * would add no work, because a solver that knows it (from this file, or from
 * the smallest counter it has ever seen) simply starts there. So the work is
 * N + 1 counters, CAPTCHA_COUNTER_RANGE / 2 = 800 on average, 0.8 million
 * iterations, and that average holds wherever a solver starts.
 * Measured: headless Chromium on a 2-core server VM (2 workers) needs about
 * 0.4 ms of CPU per counter, so about a third of a CPU-second on average and
 * under two-thirds at worst; Node's own solver is about as fast. A slow phone
 * core is several times slower but the widget uses every core
 * (navigator.hardwareConcurrency workers). Each solve costs a bot the same
 * average work, which makes creating guest sessions in bulk expensive without
 * annoying people. Raise COST to make every counter dearer, or the range for
 * more work on average.
 */
export const CAPTCHA_COST = 1_000;
export const CAPTCHA_COUNTER_RANGE = 1_600;
/** How long a challenge may be solved and submitted. */
export const CAPTCHA_TTL_MS = 10 * 60_000;
/**
 * captcha_uses rows must outlive the challenge they record (a challenge is used
 * before it expires, so at most TTL later); twice the TTL leaves room for clock
 * differences between instances and the database.
 */
const USE_RETENTION_MS = 2 * CAPTCHA_TTL_MS;
/** Delete old captcha_uses rows at most this often per process. */
const CLEANUP_INTERVAL_MS = 60_000;
/** Larger than any payload of ours (about 700 characters). */
const MAX_PAYLOAD_LENGTH = 8_192;

export function createCaptcha(options: { enabled: boolean; hmacKey: string; prisma: PrismaClient }): Captcha {
  if (!options.enabled) {
    return { enabled: false, challenge: async () => null, verify: async () => true };
  }
  if (typeof options.hmacKey !== 'string' || options.hmacKey.length === 0) {
    throw new Error('CAPTCHA=on needs a non-empty CAPTCHA_HMAC_KEY');
  }
  const { prisma } = options;
  // Separate keys for the challenge signature and the key signature, both from the one configured key.
  const hmacSignatureSecret = subKey(options.hmacKey, 'chatmeter captcha challenge signature');
  const hmacKeySignatureSecret = subKey(options.hmacKey, 'chatmeter captcha key signature');
  let nextCleanupAt = 0;

  async function cleanup(): Promise<void> {
    const now = Date.now();
    if (now < nextCleanupAt) return;
    nextCleanupAt = now + CLEANUP_INTERVAL_MS;
    try {
      await prisma.captchaUse.deleteMany({ where: { createdAt: { lt: new Date(now - USE_RETENTION_MS) } } });
    } catch {
      // Opportunistic: the next successful verification tries again.
    }
  }

  return {
    enabled: true,

    async challenge() {
      const challenge = await createChallenge({
        algorithm: CAPTCHA_ALGORITHM,
        cost: CAPTCHA_COST,
        // Uniform over [0, RANGE - 1] (randomInt's bounds are inclusive).
        counter: randomInt(CAPTCHA_COUNTER_RANGE - 1, 0),
        deriveKey,
        expiresAt: new Date(Date.now() + CAPTCHA_TTL_MS),
        hmacSignatureSecret,
        hmacKeySignatureSecret,
      });
      return { parameters: challenge.parameters, signature: challenge.signature };
    },

    async verify(payload) {
      const decoded = decodePayload(payload);
      if (!decoded) return false;
      let verified: boolean;
      try {
        const result = await verifySolution({
          challenge: decoded.challenge,
          solution: decoded.solution,
          deriveKey,
          hmacSignatureSecret,
          hmacKeySignatureSecret,
        });
        verified = result.verified;
      } catch {
        return false;
      }
      if (!verified) return false;
      // Single use: the first insert of this challenge's signature wins, also between concurrent requests
      // and across instances. Database errors propagate (they are not the payload's fault).
      const { count } = await prisma.captchaUse.createMany({
        data: [{ signature: decoded.challenge.signature }],
        skipDuplicates: true,
      });
      await cleanup();
      return count === 1;
    },
  };
}

function subKey(key: string, purpose: string): string {
  return createHmac('sha256', key).update(purpose).digest('hex');
}

type SignedChallenge = Challenge & { signature: string };

/**
 * Parses the widget's payload, or null when it is not one of ours: only
 * signed, expiring, deterministic PBKDF2/SHA-256 challenges are accepted, so
 * verification never has to derive a key.
 */
function decodePayload(payload: unknown): { challenge: SignedChallenge; solution: Solution } | null {
  if (typeof payload !== 'string' || payload.length === 0 || payload.length > MAX_PAYLOAD_LENGTH) return null;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(payload)) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  if (!isRecord(value) || !isRecord(value.challenge) || !isRecord(value.solution)) return null;
  const { parameters, signature } = value.challenge;
  const { counter, derivedKey, time } = value.solution;
  if (!isRecord(parameters) || typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return null;
  if (
    parameters.algorithm !== CAPTCHA_ALGORITHM ||
    typeof parameters.keySignature !== 'string' ||
    typeof parameters.expiresAt !== 'number' ||
    typeof parameters.nonce !== 'string' ||
    typeof parameters.salt !== 'string' ||
    typeof parameters.keyPrefix !== 'string' ||
    typeof parameters.cost !== 'number' ||
    typeof parameters.keyLength !== 'number'
  ) {
    return null;
  }
  if (typeof counter !== 'number' || typeof derivedKey !== 'string') return null;
  const solution: Solution = { counter, derivedKey };
  if (typeof time === 'number') solution.time = time;
  return {
    challenge: { parameters: parameters as unknown as Challenge['parameters'], signature },
    solution,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
