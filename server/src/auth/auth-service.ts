// Sign-up, sign-in, magic links, guests and the first admin. Every path that
// signs someone in ends in a brand-new session (no fixation); sign-in failures
// are counted per IP and per e-mail.
import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '@chatmeter/db/client';
import { normaliseEmail } from '@chatmeter/shared/auth';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { clientNetwork } from '../rate-limit/client-network.ts';
import { rateLimited, SIGN_IN_EMAIL_LOCK_AFTER, type LimiterName, type Limiters } from '../rate-limit/limiters.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './password.ts';
import type { SessionMeta, SessionService, SessionUser } from './session.ts';

export const MAGIC_LINK_TTL_MS = 15 * 60 * 1000;
const INVALID_CREDENTIALS = 'Incorrect e-mail or password.';

export const userSelect = {
  id: true,
  email: true,
  role: true,
  planId: true,
  isGuest: true,
  blockedAt: true,
} as const;

export interface RequestInfo extends SessionMeta {
  ip: string;
  /** The session the request came with, if any (a guest signing up keeps what it owns). */
  current?: { sessionId: string; user: SessionUser } | null;
}

export interface SignedIn {
  user: SessionUser;
  token: string;
  expiresAt: Date;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2002';
}

export class AuthService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sessions: SessionService,
    private readonly limiters: Limiters,
    private readonly mailer: Mailer,
    private readonly logger: Logger,
    private readonly appOrigin: string,
  ) {}

  private async startSession(user: SessionUser, info: RequestInfo): Promise<SignedIn> {
    if (info.current) await this.sessions.invalidate(info.current.sessionId);
    const { token, session } = await this.sessions.create(user.id, info);
    return { user, token, expiresAt: session.expiresAt };
  }

  /** The captcha (CAPTCHA=on) is checked by the caller, before this. */
  async signUp(input: { email: string; password: string }, info: RequestInfo): Promise<SignedIn> {
    const network = clientNetwork(info.ip);
    await this.limiters.consume('signUpIp', network, { message: 'Too many sign-ups from your network. Please try again later.' });
    // The daily limit counts accounts made, not attempts (the hourly one bounds those), so failures cannot
    // lock a shared network out for a day. Its point is taken now, so a burst cannot overshoot, and given
    // back if no account comes of it.
    const daily = this.limiters.spec('signUpIpDay').points > 0;
    if (daily) await this.limiters.consume('signUpIpDay', network, { message: 'Too many new accounts from your network today. Please try again tomorrow.' });
    let created = false;
    try {
      const signedIn = await this.createAccount(input, info);
      created = true;
      return signedIn;
    } finally {
      if (daily && !created) await this.limiters.refund('signUpIpDay', network);
    }
  }

  private async createAccount(input: { email: string; password: string }, info: RequestInfo): Promise<SignedIn> {
    const email = normaliseEmail(input.email);
    const passwordHash = await hashPassword(input.password);
    const taken = () => new AppError('conflict', 'An account with this e-mail already exists. Sign in instead.');
    try {
      const guest = info.current?.user.isGuest ? info.current.user : null;
      let user: SessionUser;
      if (guest) {
        // Upgrade the guest in place, so its conversations and usage stay its own.
        const { count } = await this.prisma.user.updateMany({
          where: { id: guest.id, isGuest: true },
          data: { email, passwordHash, isGuest: false, planId: 'free' },
        });
        if (count !== 1) throw new AppError('conflict', 'This guest session was already converted. Sign in instead.');
        user = await this.prisma.user.findUniqueOrThrow({ where: { id: guest.id }, select: userSelect });
      } else {
        user = await this.prisma.user.create({ data: { email, passwordHash }, select: userSelect });
      }
      return await this.startSession(user, info);
    } catch (error) {
      if (isUniqueViolation(error)) throw taken();
      throw error;
    }
  }

  async signIn(input: { email: string; password: string }, info: RequestInfo): Promise<SignedIn> {
    const email = normaliseEmail(input.email);
    const attempt = await this.takeSignInAttempt(email, clientNetwork(info.ip));
    let found: (SessionUser & { passwordHash: string | null }) | null;
    let ok: boolean;
    try {
      found = await this.prisma.user.findUnique({ where: { email }, select: { ...userSelect, passwordHash: true } });
      ok = found?.passwordHash ? await verifyPassword(found.passwordHash, input.password) : await verifyAgainstDummy(input.password);
    } catch (error) {
      await attempt.giveBack(); // no answer about the password: not a guess
      throw error;
    }
    // A wrong password keeps its points: they are the failure counts.
    if (!found || !ok) throw new AppError('unauthenticated', INVALID_CREDENTIALS);
    await attempt.succeeded();
    if (found.blockedAt) throw new AppError('blocked', 'This account has been blocked. Contact support.');
    const { passwordHash: _omit, ...user } = found;
    return this.startSession(user, info);
  }

  /**
   * Takes this attempt's points before the password is verified, so parallel guesses cannot pass a limit
   * between the check and the count: per network, per e-mail (the ceiling) and per (e-mail, network).
   * Past SIGN_IN_EMAIL_LOCK_AFTER failures for the e-mail, only a network that has not failed against it
   * may try, so guessers cannot lock its owner out (docs/architecture.md, "Brute force").
   */
  private async takeSignInAttempt(email: string, network: string): Promise<{ giveBack(): Promise<void>; succeeded(): Promise<void> }> {
    const message = 'Too many failed sign-in attempts. You can still get in with a sign-in link sent to your e-mail.';
    const pairKey = `${network} ${email}`;
    const taken: Array<[LimiterName, string]> = [];
    const giveBack = async () => {
      await Promise.all(taken.map(([name, key]) => this.limiters.refund(name, key)));
    };
    try {
      await this.limiters.consume('signInIp', network, { message });
      taken.push(['signInIp', network]);
      const perEmail = await this.limiters.consume('signInEmail', email, { message });
      taken.push(['signInEmail', email]);
      const perPair = await this.limiters.consume('signInEmailNetwork', pairKey, { message });
      taken.push(['signInEmailNetwork', pairKey]);
      // consumedPoints include this attempt: more than one on the pair means this network failed before (or is trying now).
      if (perEmail.consumedPoints > SIGN_IN_EMAIL_LOCK_AFTER && perPair.consumedPoints > 1) {
        throw rateLimited(perEmail.msBeforeNext < perPair.msBeforeNext ? perEmail : perPair, message);
      }
    } catch (error) {
      await giveBack();
      throw error;
    }
    return {
      giveBack,
      // A right password: the attempt was no failure, and this network's failures for the e-mail are forgiven.
      succeeded: async () => {
        await Promise.all([this.limiters.refund('signInIp', network), this.limiters.refund('signInEmail', email), this.limiters.reset('signInEmailNetwork', pairKey)]);
      },
    };
  }

  /** Always answers the same way, whether or not the address has an account. */
  async requestMagicLink(input: { email: string }, info: RequestInfo): Promise<void> {
    const email = normaliseEmail(input.email);
    const message = 'Too many sign-in links requested. Please wait and try again.';
    await this.limiters.consume('magicLinkIp', clientNetwork(info.ip), { message });
    await this.limiters.consume('magicLinkEmail', email, { message });
    const token = randomBytes(32).toString('base64url');
    await this.prisma.magicLinkToken.create({
      data: { tokenHash: hashToken(token), email, expiresAt: new Date(Date.now() + MAGIC_LINK_TTL_MS) },
      select: { tokenHash: true },
    });
    const link = `${this.appOrigin}/magic-link?token=${encodeURIComponent(token)}`;
    await this.mailer.send({
      to: email,
      subject: 'Your ChatMeter sign-in link',
      body: `Sign in to ChatMeter with this link (valid for 15 minutes, once):\n\n${link}\n\nIf you did not ask for it, ignore this e-mail.`,
    });
  }

  async verifyMagicLink(input: { token: string }, info: RequestInfo): Promise<SignedIn> {
    const tokenHash = hashToken(input.token);
    // Single use: only the request that flips used_at gets to sign in.
    const { count } = await this.prisma.magicLinkToken.updateMany({
      where: { tokenHash, usedAt: null, expiresAt: { gt: new Date() } },
      data: { usedAt: new Date() },
    });
    if (count !== 1) throw new AppError('unauthenticated', 'This sign-in link is invalid, expired or already used. Request a new one.');
    const { email } = await this.prisma.magicLinkToken.findUniqueOrThrow({ where: { tokenHash }, select: { email: true } });
    let user = await this.prisma.user.findUnique({ where: { email }, select: userSelect });
    if (!user) {
      const guest = info.current?.user.isGuest ? info.current.user : null;
      try {
        if (guest) {
          await this.prisma.user.updateMany({ where: { id: guest.id, isGuest: true }, data: { email, isGuest: false, planId: 'free' } });
          user = await this.prisma.user.findUniqueOrThrow({ where: { id: guest.id }, select: userSelect });
        } else {
          user = await this.prisma.user.create({ data: { email }, select: userSelect });
        }
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        user = await this.prisma.user.findUniqueOrThrow({ where: { email }, select: userSelect });
      }
    }
    if (user.blockedAt) throw new AppError('blocked', 'This account has been blocked. Contact support.');
    return this.startSession(user, info);
  }

  async createGuest(info: RequestInfo): Promise<SignedIn> {
    await this.limiters.consume('guestIp', clientNetwork(info.ip), { message: 'Too many guest sessions from your network. Please sign up or try later.' });
    const user = await this.prisma.user.create({ data: { isGuest: true, planId: 'guest' }, select: userSelect });
    return this.startSession(user, info);
  }

  /** ADMIN_EMAIL + ADMIN_PASSWORD: create that admin, or promote an existing account (its password is kept). */
  async ensureAdmin(emailInput: string, password: string): Promise<void> {
    const email = normaliseEmail(emailInput);
    const existing = await this.prisma.user.findUnique({ where: { email }, select: { id: true, role: true, passwordHash: true } });
    if (!existing) {
      try {
        await this.prisma.user.create({ data: { email, passwordHash: await hashPassword(password), role: 'admin' }, select: { id: true } });
        this.logger.info({ email }, 'created the admin account from ADMIN_EMAIL');
        return;
      } catch (error) {
        // Another instance created it at the same moment: fall through to promotion.
        if (!isUniqueViolation(error)) throw error;
      }
    }
    await this.prisma.user.updateMany({ where: { email, role: { not: 'admin' } }, data: { role: 'admin' } });
    if (existing && !existing.passwordHash) {
      await this.prisma.user.updateMany({ where: { email, passwordHash: null }, data: { passwordHash: await hashPassword(password) } });
    }
  }
}
