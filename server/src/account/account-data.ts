// A person's data (GDPR): export everything we hold about an account as JSON,
// and delete it. Deletion removes the personal data (e-mail, password,
// sessions, conversations and messages, spoken audio, magic links, outgoing mail) in one
// transaction and keeps what billing needs without a person attached: usage
// events lose their user id (and hashed IP), their daily roll-ups move to the
// anonymous key, and the users row stays as a tombstone so payments and the
// append-only credit ledger still point at a valid id.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';
import type { Tx } from '../metering/counters.ts';
import { appendAudit, type Actor } from '../audit/audit-log.ts';
import type { AudioCache } from '../tts/audio-cache.ts';
import { forgetSpokenAudio } from '../tts/spoken-audio.ts';

/** Subscriptions that still bill: the account must cancel them first. */
const BILLING_STATUSES = ['active', 'trialing', 'past_due', 'unpaid', 'incomplete'];

export interface DeletionSummary {
  conversations: number;
  messages: number;
  sessions: number;
  usageEventsAnonymised: number;
}

export interface AccountDataOptions {
  /** Called after a deletion moved past roll-ups (the overview's cache of closed days). */
  onDeleted?: () => void;
  /** Where spoken audio lives: the files of the account's clips go after the deletion commits. */
  audio?: Pick<AudioCache, 'removeFiles'>;
  /**
   * Stops the account's replies streaming on this instance and resolves once they are
   * settled (ChatService.inflight). Replies on other instances settle anonymised on their own.
   */
  stopStreams?: (userId: string) => Promise<unknown>;
}

/** The meter batches' advisory lock (migration 20261123090000_meter_batch). */
const METER_LOCK_KEY = 72707370;

export class AccountDataService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: AccountDataOptions = {},
  ) {}

  /** Everything about one account, as JSON-safe values (ids and amounts as strings/numbers). */
  async exportData(userId: string) {
    const prisma = this.prisma;
    const user = await prisma.user.findUnique({
      where: { id: userId },
      select: { id: true, email: true, role: true, planId: true, isGuest: true, blockedAt: true, createdAt: true, deletedAt: true },
    });
    if (!user || user.deletedAt) throw new AppError('not_found', 'That account does not exist.');
    const [conversations, messages, usageEvents, ledger, sessions, payments, balance, preferences] = await Promise.all([
      prisma.conversation.findMany({
        where: { userId },
        orderBy: { createdAt: 'asc' },
        select: { id: true, title: true, model: true, createdAt: true, updatedAt: true, deletedAt: true, activeLeafId: true },
      }),
      prisma.message.findMany({
        where: { userId },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        // parentId: the message tree (versions), so an export keeps every version and where it belongs.
        select: { id: true, conversationId: true, role: true, content: true, model: true, status: true, createdAt: true, parentId: true },
      }),
      prisma.usageEvent.findMany({
        where: { userId },
        orderBy: { id: 'asc' },
        select: {
          id: true,
          createdAt: true,
          kind: true,
          model: true,
          promptTokens: true,
          completionTokens: true,
          cachedTokens: true,
          costMicroUsd: true,
          creditTokens: true,
          ttsChars: true,
          status: true,
          estimated: true,
          conversationId: true,
        },
      }),
      prisma.creditLedgerEntry.findMany({
        where: { userId },
        orderBy: { id: 'asc' },
        select: { id: true, createdAt: true, deltaTokens: true, balanceAfter: true, kind: true, reason: true },
      }),
      prisma.session.findMany({
        where: { userId },
        select: { createdAt: true, lastSeenAt: true, expiresAt: true, ip: true, userAgent: true },
      }),
      prisma.payment.findMany({
        where: { userId },
        orderBy: { id: 'asc' },
        select: { createdAt: true, kind: true, status: true, amountMicroUsd: true, refundedMicroUsd: true, currency: true, description: true },
      }),
      prisma.creditAccount.findUnique({ where: { userId }, select: { balanceTokens: true } }),
      prisma.userPreference.findUnique({
        where: { userId },
        select: { alertEmails: true, theme: true, defaultModel: true, voice: true, autoPlay: true, updatedAt: true },
      }),
    ]);
    const byConversation = new Map<string, typeof messages>();
    for (const m of messages) {
      const list = byConversation.get(m.conversationId) ?? [];
      list.push(m);
      byConversation.set(m.conversationId, list);
    }
    return {
      exportedAt: new Date(),
      profile: {
        id: user.id,
        email: user.email,
        role: user.role,
        plan: user.planId,
        isGuest: user.isGuest,
        blocked: user.blockedAt !== null,
        createdAt: user.createdAt,
      },
      conversations: conversations.map((c) => ({
        ...c,
        messages: (byConversation.get(c.id) ?? []).map(({ conversationId: _c, ...m }) => m),
      })),
      usageEvents: usageEvents.map((e) => ({ ...e, id: e.id.toString(), costMicroUsd: Number(e.costMicroUsd), creditTokens: Number(e.creditTokens) })),
      credits: {
        balanceTokens: Number(balance?.balanceTokens ?? 0n),
        ledger: ledger.map((l) => ({ ...l, id: l.id.toString(), deltaTokens: Number(l.deltaTokens), balanceAfter: Number(l.balanceAfter) })),
      },
      sessions,
      payments: payments.map((p) => ({ ...p, amountMicroUsd: Number(p.amountMicroUsd), refundedMicroUsd: Number(p.refundedMicroUsd) })),
      /** null: never saved (the defaults apply). */
      preferences,
    };
  }

  /** The same export for an admin; the access is audited before anything is handed out. */
  async exportForAdmin(userId: string, actor: Actor) {
    const data = await this.exportData(userId);
    await this.prisma.$transaction((tx) =>
      appendAudit(tx, actor, {
        action: 'user.export',
        targetUserId: userId,
        after: { conversations: data.conversations.length, usageEvents: data.usageEvents.length, ledgerEntries: data.credits.ledger.length },
      }),
    );
    return data;
  }

  /**
   * Deletes the account's personal data in one transaction, with the audit row
   * (actor: the person themselves, or the admin who did it).
   */
  async deleteAccount(userId: string, actor: Actor, now = new Date()): Promise<DeletionSummary> {
    const { summary, clips } = await this.prisma.$transaction(
      async (tx) => {
        // No meter batch runs while the account goes: one that committed before is
        // anonymised below with the rest, one that runs after sees the deletion (its
        // settlements land anonymised, its reservations are refused). Taken first, before
        // any row lock a batch could be waiting behind.
        await tx.$executeRaw(Prisma.sql`SELECT pg_advisory_xact_lock(${METER_LOCK_KEY}::bigint)`);
        // Lock the row: two deletions of one account run one after the other.
        const users = await tx.$queryRaw<{ email: string | null; deleted_at: Date | null; role: string; plan_id: string; is_guest: boolean }[]>(Prisma.sql`
          SELECT email, deleted_at, role::text AS role, plan_id, is_guest FROM users WHERE id = ${userId}::uuid FOR UPDATE`);
        const user = users[0];
        if (!user || user.deleted_at) throw new AppError('not_found', 'That account does not exist.');
        const live = await tx.$queryRaw<{ n: bigint }[]>(Prisma.sql`
          SELECT count(*)::bigint AS n FROM subscriptions
           WHERE user_id = ${userId}::uuid AND status IN (${Prisma.join(BILLING_STATUSES)}) AND NOT cancel_at_period_end`);
        if (Number(live[0]?.n ?? 0) > 0) {
          throw new AppError('conflict', 'This account has a subscription that is still billing. Cancel it in Billing first, then delete the account.');
        }
        // Before the messages go: their cascade would take the grants without saying which clips they held.
        const clips = await forgetSpokenAudio(tx, { userId });
        const summary = await anonymise(tx, userId, user.email);
        await tx.$executeRaw(Prisma.sql`
          UPDATE users SET email = NULL, password_hash = NULL, deleted_at = ${now}::timestamptz,
                           blocked_at = COALESCE(blocked_at, ${now}::timestamptz), role = 'user'
           WHERE id = ${userId}::uuid`);
        await appendAudit(tx, actor, {
          action: actor.id === userId ? 'account.delete' : 'user.delete',
          targetUserId: userId,
          before: { role: user.role, plan: user.plan_id, isGuest: user.is_guest, ...summary },
          after: { deleted: true, deletedAt: now.toISOString(), usageEventsKept: summary.usageEventsAnonymised },
        });
        return { summary, clips };
      },
      { timeout: 120_000, maxWait: 10_000 },
    );
    this.options.onDeleted?.();
    await this.options.audio?.removeFiles(clips);
    // Replies still streaming here stop now and are metered (anonymised) before we answer.
    await this.options.stopStreams?.(userId);
    return summary;
  }
}

async function anonymise(tx: Tx, userId: string, email: string | null): Promise<DeletionSummary> {
  const counts = await tx.$queryRaw<{ conversations: bigint; messages: bigint }[]>(Prisma.sql`
    SELECT (SELECT count(*) FROM conversations WHERE user_id = ${userId}::uuid)::bigint AS conversations,
           (SELECT count(*) FROM messages WHERE user_id = ${userId}::uuid)::bigint AS messages`);
  const sessions = await tx.$executeRaw(Prisma.sql`DELETE FROM sessions WHERE user_id = ${userId}::uuid`);
  // Messages first (any spoken_messages left follow by cascade), then their conversations.
  await tx.$executeRaw(Prisma.sql`DELETE FROM messages WHERE user_id = ${userId}::uuid`);
  await tx.$executeRaw(Prisma.sql`DELETE FROM conversations WHERE user_id = ${userId}::uuid`);
  // A reply still streaming (here or on another instance) is still metered, without
  // the person: its reservation is marked and settles anonymised (migration
  // 20261204051000). Settled ones, and voice reservations, go.
  await tx.$executeRaw(Prisma.sql`
    UPDATE reservations SET anonymised = true, conversation_id = NULL, request_id = NULL, partial_content = NULL
     WHERE user_id = ${userId}::uuid AND kind = 'chat' AND status = 'held'`);
  await tx.$executeRaw(Prisma.sql`DELETE FROM reservations WHERE user_id = ${userId}::uuid AND NOT anonymised`);
  await tx.$executeRaw(Prisma.sql`DELETE FROM quota_counters WHERE subject = ${`u:${userId}`}`);
  await tx.$executeRaw(Prisma.sql`DELETE FROM email_verification_tokens WHERE user_id = ${userId}::uuid`);
  // Theme, default model, voice, alert e-mails: the person's choices, nothing billing needs.
  await tx.$executeRaw(Prisma.sql`DELETE FROM user_preferences WHERE user_id = ${userId}::uuid`);
  if (email) {
    await tx.$executeRaw(Prisma.sql`DELETE FROM magic_link_tokens WHERE email = ${email}`);
    await tx.$executeRaw(Prisma.sql`DELETE FROM email_outbox WHERE "to" = ${email}`);
  }
  // Usage stays for billing and the totals, without the person. The roll-up
  // rows move to the anonymous key, merged by the roll-up's own rule
  // (cm_usage_daily_anonymise), so the roll-ups still equal the raw events.
  const usageEventsAnonymised = await tx.$executeRaw(Prisma.sql`
    UPDATE usage_events SET user_id = NULL, ip_hash = NULL, conversation_id = NULL, request_id = NULL
     WHERE user_id = ${userId}::uuid`);
  await tx.$queryRaw(Prisma.sql`SELECT cm_usage_daily_anonymise(${userId}::uuid)`);
  return {
    conversations: Number(counts[0]?.conversations ?? 0),
    messages: Number(counts[0]?.messages ?? 0),
    sessions,
    usageEventsAnonymised,
  };
}
