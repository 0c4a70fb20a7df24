// Solves the server's proof-of-work challenge the way the altcha widget does
// (same library, in Node), giving the payload a client sends as `captcha`.
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { TestBrowser } from './server.ts';

export async function solveCaptcha(b: TestBrowser): Promise<string> {
  const challenge = (await b.trpc.auth.captchaChallenge.query()) as { parameters: Record<string, unknown>; signature: string } | null;
  if (!challenge) throw new Error('the server has CAPTCHA=off');
  const solution = await solveChallenge({ challenge, deriveKey } as never);
  return Buffer.from(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution })).toString('base64');
}
