// Sign-up, sign-in, magic links, e-mail verification, guests and the first
// admin. Every path that signs someone in ends in a brand-new session (no
// fixation); sign-in failures are counted per IP and per e-mail.
import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '@chatmeter/db/client';
import { normaliseEmail, type TMagicLinkInfo } from '@chatmeter/shared/auth';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailVerificationMode } from '../plans/plan-resolver.ts';
import { maskEmail } from './mask-email.ts';
import { clientNetwork } from '../rate-limit/client-network.ts';
import { rateLimited, SIGN_IN_EMAIL_LOCK_AFTER, type LimiterName, type Limiters } from '../rate-limit/limiters.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './password.ts';
import type { SessionMeta, SessionService, SessionUser } from './session.ts';

export const MAGIC_LINK_TTL_MS = 15 * 60 * 1000;
export const EMAIL_VERIFICATION_TTL_MS = 24 * 60 * 60 * 1000;
const INVALID_CREDENTIALS = 'Incorrect e-mail or password.';
const INVALID_MAGIC_LINK = 'This sign-in link is invalid, expired or already used. Request a new one.';

export const userSelect = {
  id: true,
  email: true,
  role: true,
  planId: true,
  isGuest: true,
  blockedAt: true,
  emailVerifiedAt: true,
} as const;

export interface RequestInfo extends SessionMeta {
  ip: string;
  /** The session the request came with, if any (a guest signing up keeps what it owns). */
  current?: { sessionId: string; user: SessionUser } | null;
}

export interface SignedIn {
  user: SessionUser;
  sessionId: string;
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
    private readonly emailVerification: EmailVerificationMode = 'off',
  ) {}

  private async startSession(user: SessionUser, info: RequestInfo): Promise<SignedIn> {
    if (info.current) await this.sessions.invalidate(info.current.sessionId);
    const { token, session } = await this.sessions.create(user.id, info);
    return { user, sessionId: session.id, token, expiresAt: session.expiresAt };
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
      if (this.emailVerification === 'required') await this.sendVerification({ id: user.id, email });
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
    const { passwordHash, ...user } = found;
    const signedIn = await this.startSession(user, info);
    // The password may have been cleared or changed while it was being verified (a magic-link claim by the
    // mailbox's owner, a password change), and the sessions ended then may not have included this one yet.
    // Whoever changed it removed sessions after changing it; read it again after this session exists.
    const now = await this.prisma.user.findUnique({ where: { id: user.id }, select: { passwordHash: true } });
    if (now?.passwordHash !== passwordHash) {
      await this.sessions.invalidate(signedIn.sessionId);
      throw new AppError('unauthenticated', INVALID_CREDENTIALS);
    }
    return signedIn;
  }

  /** Whether the account has a password (one that only used sign-in links has none and may set one freely). */
  async passwordStatus(userId: string): Promise<{ hasPassword: boolean }> {
    const user = await this.prisma.user.findUnique({ where: { id: userId }, select: { passwordHash: true } });
    return { hasPassword: Boolean(user?.passwordHash) };
  }

  /**
   * Sets a new password (sign-up's rules, checked by the caller's schema). The current one must be
   * given and right when the account has one; wrong guesses are limited per account like sign-ins.
   * The hash is swapped only if it is still the one checked (two changes at once cannot both win),
   * and every other session of the account ends in the same transaction. The caller stays signed in
   * on a new session (returned, for the cookie): a stolen copy of its old cookie ends too.
   */
  async changePassword(
    input: { currentPassword?: string | undefined; newPassword: string },
    who: { userId: string; sessionId: string } & SessionMeta,
  ): Promise<{ sessionsEnded: number; token: string; expiresAt: Date }> {
    const user = await this.prisma.user.findUnique({ where: { id: who.userId }, select: { id: true, email: true, isGuest: true, passwordHash: true } });
    if (!user || user.isGuest || !user.email) throw new AppError('unauthenticated', 'Please sign up or sign in to do this.');
    if (user.passwordHash) {
      if (!input.currentPassword) {
        throw new AppError('invalid_input', 'Enter your current password.', { fieldErrors: { currentPassword: ['Enter your current password'] } });
      }
      // Taken before the check, so parallel guesses cannot pass the limit; given back when it was right.
      await this.limiters.consume('changePassword', user.id, {
        message: 'Too many wrong passwords. Please wait and try again, or sign out and use a sign-in link.',
      });
      let ok: boolean;
      try {
        ok = await verifyPassword(user.passwordHash, input.currentPassword);
      } catch (error) {
        await this.limiters.refund('changePassword', user.id);
        throw error;
      }
      if (!ok)
        throw new AppError('invalid_input', 'Your current password is not correct.', {
          fieldErrors: { currentPassword: ['This is not your current password'] },
        });
      await this.limiters.refund('changePassword', user.id);
    }
    const passwordHash = await hashPassword(input.newPassword);
    const sessionsEnded = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.user.updateMany({ where: { id: user.id, passwordHash: user.passwordHash }, data: { passwordHash } });
      if (count !== 1) throw new AppError('conflict', 'Your password was changed elsewhere at the same moment. Reload the page and try again.');
      const ended = await tx.session.deleteMany({ where: { userId: user.id, id: { not: who.sessionId } } });
      return ended.count;
    });
    // The caller's session is swapped for a new one (written before the old goes, so it is never signed out).
    const { token, session } = await this.sessions.create(user.id, { ip: who.ip, userAgent: who.userAgent });
    await this.sessions.invalidate(who.sessionId);
    this.logger.info({ userId: user.id, sessionsEnded, firstPassword: user.passwordHash === null }, 'password changed');
    try {
      await this.mailer.send({
        to: user.email,
        subject: user.passwordHash ? 'Your ChatMeter password was changed' : 'A password was set on your ChatMeter account',
        body:
          `${user.passwordHash ? 'The password of your ChatMeter account was just changed' : 'A password was just set on your ChatMeter account'}; ` +
          'every other session of the account was signed out.\n\nIf this was not you, sign in with a sign-in link sent to this address, ' +
          'choose a new password and use "Sign out everywhere" on the Account page.',
      });
    } catch (error) {
      // The change stands; a lost notice is logged, not shown as a failure.
      this.logger.warn({ userId: user.id, err: (error as Error).message }, 'password change notice not sent');
    }
    return { sessionsEnded, token, expiresAt: session.expiresAt };
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
        throw rateLimited(perEmail.msBeforeNext < perPair.msBeforeNext ? perEmail : perPair, message, 'signInEmail');
      }
    } catch (error) {
      await giveBack();
      throw error;
    }
    return {
      giveBack,
      // A right password: the attempt was no failure, and this network's failures for the e-mail are forgiven.
      succeeded: async () => {
        await Promise.all([
          this.limiters.refund('signInIp', network),
          this.limiters.refund('signInEmail', email),
          this.limiters.reset('signInEmailNetwork', pairKey),
        ]);
      },
    };
  }

  /** Always answers the same way, whether or not the address has an account. */
  async requestMagicLink(input: { email: string }, info: RequestInfo): Promise<void> {
    const email = normaliseEmail(input.email);
    const message = 'Too many sign-in links requested. Please wait and try again.';
    const network = clientNetwork(info.ip);
    await this.limiters.consume('magicLinkIp', network, { message });
    // One network may ask for few links for an address; all networks together for a bounded number more
    // (the mailbox's ceiling), so one stranger cannot use up the owner's links for the hour.
    await this.limiters.consume('magicLinkEmailNetwork', `${network} ${email}`, { message });
    await this.limiters.consume('magicLinkEmail', email, { message });
    const token = randomBytes(32).toString('base64url');
    await this.prisma.magicLinkToken.create({
      data: {
        tokenHash: hashToken(token),
        email,
        expiresAt: new Date(Date.now() + MAGIC_LINK_TTL_MS),
        // Only this session, if it is a guest's, may later become the new account (see mergeableGuest).
        requestedBySessionId: info.current?.sessionId ?? null,
      },
      select: { tokenHash: true },
    });
    const link = `${this.appOrigin}/magic-link?token=${encodeURIComponent(token)}`;
    await this.mailer.send({
      to: email,
      subject: 'Your ChatMeter sign-in link',
      body: `Sign in to ChatMeter with this link (valid for 15 minutes, once):\n\n${link}\n\nIf you did not ask for it, ignore this e-mail.`,
    });
  }

  /**
   * What the link's landing page shows before the visitor clicks: its address, masked. Reads
   * only, so opening the page (or a mail scanner fetching it) does not use the link up.
   */
  async magicLinkInfo(input: { token: string }, info: RequestInfo): Promise<TMagicLinkInfo> {
    const link = await this.prisma.magicLinkToken.findFirst({
      where: { tokenHash: hashToken(input.token), usedAt: null, expiresAt: { gt: new Date() } },
      select: { email: true, requestedBySessionId: true },
    });
    if (!link) throw new AppError('not_found', INVALID_MAGIC_LINK);
    const mergesGuest = this.mergeableGuest(info, link.requestedBySessionId) !== null && (await this.prisma.user.count({ where: { email: link.email } })) === 0;
    return { email: maskEmail(link.email), mergesGuest };
  }

  /**
   * The guest a magic link may turn into its new account: the caller's guest, and only if the link
   * was requested from this very session. Anyone can have a link sent to their own address and get
   * someone else to open it; that must not hand them the opener's guest conversations.
   */
  private mergeableGuest(info: RequestInfo, requestedBySessionId: string | null): SessionUser | null {
    const current = info.current;
    if (!current?.user.isGuest || requestedBySessionId === null) return null;
    return current.sessionId === requestedBySessionId ? current.user : null;
  }

  async verifyMagicLink(input: { token: string }, info: RequestInfo): Promise<SignedIn> {
    const tokenHash = hashToken(input.token);
    const link = await this.prisma.magicLinkToken.findFirst({
      where: { tokenHash, usedAt: null, expiresAt: { gt: new Date() } },
      select: { email: true, requestedBySessionId: true },
    });
    if (!link) throw new AppError('unauthenticated', INVALID_MAGIC_LINK);
    const { email, requestedBySessionId } = link;
    let user = await this.prisma.user.findUnique({ where: { email }, select: userSelect });
    // A link that makes a new account counts toward the network's accounts of the day, like a sign-up
    // (taken before the link is spent, so a refusal leaves the link usable; given back if no account comes of it).
    const network = clientNetwork(info.ip);
    const daily = !user && this.limiters.spec('signUpIpDay').points > 0;
    if (daily) await this.limiters.consume('signUpIpDay', network, { message: 'Too many new accounts from your network today. Please try again tomorrow.' });
    let created = false;
    try {
      // Single use: only the request that flips used_at gets to sign in.
      const { count } = await this.prisma.magicLinkToken.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: new Date() } },
        data: { usedAt: new Date() },
      });
      if (count !== 1) throw new AppError('unauthenticated', INVALID_MAGIC_LINK);
      if (!user) {
        // Any other guest session simply ends (startSession), and what it owns stays with its user.
        const guest = this.mergeableGuest(info, requestedBySessionId);
        try {
          if (guest) {
            const merged = await this.prisma.user.updateMany({ where: { id: guest.id, isGuest: true }, data: { email, isGuest: false, planId: 'free' } });
            created = merged.count === 1;
            user = await this.prisma.user.findUniqueOrThrow({ where: { id: guest.id }, select: userSelect });
          } else {
            user = await this.prisma.user.create({ data: { email }, select: userSelect });
            created = true;
          }
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          user = await this.prisma.user.findUniqueOrThrow({ where: { email }, select: userSelect });
        }
      }
    } finally {
      if (daily && !created) await this.limiters.refund('signUpIpDay', network);
    }
    if (user.blockedAt) throw new AppError('blocked', 'This account has been blocked. Contact support.');
    if (!user.emailVerifiedAt) user = await this.claimByMailbox(user);
    return this.startSession(user, info);
  }

  /**
   * A magic link proves the mailbox. An account whose address was never proven
   * may have been registered by someone else (with a password of their
   * choosing): the mailbox's owner wins. Its password is cleared, every session
   * of it ends, and it counts as verified from now on.
   */
  private async claimByMailbox(user: SessionUser): Promise<SessionUser> {
    const before = await this.prisma.user.findUnique({ where: { id: user.id }, select: { passwordHash: true } });
    const { count } = await this.prisma.user.updateMany({
      where: { id: user.id, emailVerifiedAt: null },
      data: { emailVerifiedAt: new Date(), passwordHash: null },
    });
    if (count === 1) {
      // Sessions opened with that password, whoever holds them (a guest's own session ends at sign-in anyway).
      const ended = await this.sessions.invalidateAllForUser(user.id);
      if (before?.passwordHash) {
        this.logger.warn(
          { userId: user.id, sessionsEnded: ended },
          'magic link to an unverified password account: the mailbox owner wins, its password was cleared and its sessions ended',
        );
      }
    }
    return this.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: userSelect });
  }

  /** Mails a verification link for `email` to that address (hashed at rest, single use, EMAIL_VERIFICATION_TTL_MS). */
  private async sendVerification(user: { id: string; email: string }): Promise<void> {
    const token = randomBytes(32).toString('base64url');
    await this.prisma.emailVerificationToken.create({
      data: { tokenHash: hashToken(token), userId: user.id, email: user.email, expiresAt: new Date(Date.now() + EMAIL_VERIFICATION_TTL_MS) },
      select: { tokenHash: true },
    });
    const link = `${this.appOrigin}/verify-email?token=${encodeURIComponent(token)}`;
    await this.mailer.send({
      to: user.email,
      subject: 'Confirm your ChatMeter e-mail address',
      body:
        `Open this link and press "Verify my e-mail" to confirm this address for your ChatMeter account (valid for 24 hours, once):\n\n${link}\n\n` +
        "Until then the account has the guest plan's limits. If you did not create a ChatMeter account, ignore this e-mail.",
    });
  }

  /** A new verification link for the signed-in account; rate limited per account. */
  async resendVerification(userId: string): Promise<{ sent: boolean; alreadyVerified: boolean }> {
    const user = await this.prisma.user.findUnique({ where: { id: userId }, select: { id: true, email: true, isGuest: true, emailVerifiedAt: true } });
    if (!user || user.isGuest || !user.email) throw new AppError('unauthenticated', 'Please sign up or sign in to do this.');
    if (user.emailVerifiedAt) return { sent: false, alreadyVerified: true };
    await this.limiters.consume('verifyEmailResend', user.id, { message: 'Too many verification e-mails requested. Please wait and try again.' });
    await this.sendVerification({ id: user.id, email: user.email });
    return { sent: true, alreadyVerified: false };
  }

  /**
   * Spends a verification link: the account it was sent for counts as verified
   * from now on. Works without a session (the link may be opened on another
   * device); it signs nobody in.
   */
  async verifyEmail(input: { token: string }, now = new Date()): Promise<{ email: string }> {
    const tokenHash = hashToken(input.token);
    return this.prisma.$transaction(async (tx) => {
      // Single use: only the request that flips used_at gets through.
      const { count } = await tx.emailVerificationToken.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      });
      const token = await tx.emailVerificationToken.findUnique({ where: { tokenHash }, select: { userId: true, email: true, usedAt: true, expiresAt: true } });
      if (count !== 1 || !token) {
        if (!token)
          throw new AppError(
            'invalid_input',
            'This verification link is not valid. Check that you opened the whole link from the e-mail, or ask for a new one.',
          );
        if (token.usedAt)
          throw new AppError(
            'invalid_input',
            'This verification link has already been used. Sign in to see whether your address is verified, or ask for a new link.',
          );
        throw new AppError('invalid_input', 'This verification link has expired. Sign in and ask for a new one.');
      }
      // The address must still be the account's (and the account not deleted).
      const verified = await tx.user.updateMany({
        where: { id: token.userId, email: token.email, deletedAt: null },
        data: { emailVerifiedAt: now },
      });
      if (verified.count !== 1) throw new AppError('invalid_input', 'This verification link is for an address the account no longer has.');
      // Other links of the account have nothing left to do.
      await tx.emailVerificationToken.deleteMany({ where: { userId: token.userId, tokenHash: { not: tokenHash } } });
      this.logger.info({ userId: token.userId }, 'e-mail address verified');
      return { email: token.email };
    });
  }

  async createGuest(info: RequestInfo): Promise<SignedIn> {
    await this.limiters.consume('guestIp', clientNetwork(info.ip), { message: 'Too many guest sessions from your network. Please sign up or try later.' });
    const user = await this.prisma.user.create({ data: { isGuest: true, planId: 'guest' }, select: userSelect });
    return this.startSession(user, info);
  }

  /**
   * ADMIN_EMAIL + ADMIN_PASSWORD, at every start: creates that admin, or takes
   * over the account that has the address. Anyone could have registered the
   * address first, with a password of their choosing, so unless the account is
   * already the admin and ADMIN_PASSWORD opens it, its password becomes
   * ADMIN_PASSWORD and every session of it ends. A restart with the same
   * settings changes nothing: the admin stays signed in.
   */
  async ensureAdmin(emailInput: string, password: string): Promise<void> {
    const email = normaliseEmail(emailInput);
    const select = { id: true, role: true, passwordHash: true, emailVerifiedAt: true } as const;
    let existing = await this.prisma.user.findUnique({ where: { email }, select });
    if (!existing) {
      try {
        await this.prisma.user.create({
          data: { email, passwordHash: await hashPassword(password), role: 'admin', emailVerifiedAt: new Date() },
          select: { id: true },
        });
        this.logger.info({ email }, 'created the admin account from ADMIN_EMAIL');
        return;
      } catch (error) {
        // Another instance created it at the same moment: check it like an existing account.
        if (!isUniqueViolation(error)) throw error;
        existing = await this.prisma.user.findUniqueOrThrow({ where: { email }, select });
      }
    }
    const opens = existing.passwordHash ? await verifyPassword(existing.passwordHash, password) : false;
    if (existing.role === 'admin' && opens) {
      // The operator chose the address: it counts as verified.
      if (!existing.emailVerifiedAt)
        await this.prisma.user.updateMany({ where: { id: existing.id, emailVerifiedAt: null }, data: { emailVerifiedAt: new Date() } });
      return;
    }
    await this.prisma.user.update({
      where: { id: existing.id },
      data: { role: 'admin', passwordHash: await hashPassword(password), emailVerifiedAt: existing.emailVerifiedAt ?? new Date() },
      select: { id: true },
    });
    const sessionsEnded = await this.sessions.invalidateAllForUser(existing.id);
    this.logger.warn(
      { email, wasAdmin: existing.role === 'admin', sessionsEnded },
      existing.role === 'admin'
        ? 'ADMIN_EMAIL: the admin account did not have ADMIN_PASSWORD; its password was set to ADMIN_PASSWORD and its sessions were ended'
        : 'ADMIN_EMAIL names an existing account (anyone could have registered it): it is now the admin, its password was replaced by ADMIN_PASSWORD and all its sessions were ended',
    );
  }
}
