// The audit log: every admin and support action, appended in the same
// transaction as the action itself (a failed action leaves no row; a row
// cannot exist without its action). The table refuses UPDATE, DELETE and
// TRUNCATE (migration 20261123050000_insight).
import { Prisma } from '@chatmeter/db/client';
import type { PrismaClient } from '@chatmeter/db/client';
import type { TAuditAction, TAuditLogInput } from '@chatmeter/shared/admin';
import type { TRole } from '@chatmeter/shared/auth';
import { AppError } from '../lib/app-error.ts';
import { keysetPage } from '../lib/cursor.ts';
import type { Tx } from '../metering/counters.ts';

export interface Actor {
  id: string;
  role: TRole;
  requestId?: string | undefined;
}

export interface AuditEntry {
  action: TAuditAction;
  targetUserId?: string | null;
  /** Ids and values only, never e-mail addresses: the log outlives account deletions. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  reason?: string | null;
}

/** JSON that survives BigInt and Date values. */
function toJson(value: Record<string, unknown> | null | undefined): string | null {
  if (value == null) return null;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

export async function appendAudit(tx: Tx, actor: Actor, entry: AuditEntry): Promise<bigint> {
  const rows = await tx.$queryRaw<{ id: bigint }[]>(Prisma.sql`
    INSERT INTO audit_log (actor_id, actor_role, action, target_user_id, before, after, reason, request_id)
    VALUES (${actor.id}::uuid, ${actor.role}, ${entry.action}, ${entry.targetUserId ?? null}::uuid,
            ${toJson(entry.before)}::jsonb, ${toJson(entry.after)}::jsonb, ${entry.reason ?? null}, ${actor.requestId || null})
    RETURNING id`);
  return rows[0]!.id;
}

export interface AuditRow {
  id: string;
  createdAt: Date;
  actorId: string | null;
  actorEmail: string | null;
  actorRole: string;
  action: string;
  targetUserId: string | null;
  targetEmail: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
}

const ID_CURSOR = /^\d{1,18}$/;

/** Newest first, keyset on id; filters by actor, target and action. */
export async function listAudit(prisma: PrismaClient, input: TAuditLogInput): Promise<{ items: AuditRow[]; nextCursor: string | null }> {
  if (input.cursor !== undefined && !ID_CURSOR.test(input.cursor)) throw new AppError('invalid_input', 'That page cursor is not valid.');
  const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
  if (input.cursor) conditions.push(Prisma.sql`a.id < ${BigInt(input.cursor)}::bigint`);
  if (input.actorId) conditions.push(Prisma.sql`a.actor_id = ${input.actorId}::uuid`);
  if (input.targetUserId) conditions.push(Prisma.sql`a.target_user_id = ${input.targetUserId}::uuid`);
  if (input.action) conditions.push(Prisma.sql`a.action = ${input.action}`);
  const rows = await prisma.$queryRaw<
    {
      id: bigint;
      created_at: Date;
      actor_id: string | null;
      actor_email: string | null;
      actor_role: string;
      action: string;
      target_user_id: string | null;
      target_email: string | null;
      before: unknown;
      after: unknown;
      reason: string | null;
    }[]
  >(Prisma.sql`
    SELECT a.id, a.created_at, a.actor_id::text AS actor_id, actor.email AS actor_email, a.actor_role, a.action,
           a.target_user_id::text AS target_user_id, target.email AS target_email, a.before, a.after, a.reason
      FROM audit_log a
      LEFT JOIN users actor ON actor.id = a.actor_id
      LEFT JOIN users target ON target.id = a.target_user_id
     WHERE ${Prisma.join(conditions, ' AND ')}
     ORDER BY a.id DESC
     LIMIT ${input.limit + 1}`);
  const { rows: page, nextCursor } = keysetPage(rows, input.limit, (last) => last.id.toString());
  const items = page.map((r) => ({
    id: r.id.toString(),
    createdAt: r.created_at,
    actorId: r.actor_id,
    actorEmail: r.actor_email,
    actorRole: r.actor_role,
    action: r.action,
    targetUserId: r.target_user_id,
    targetEmail: r.target_email,
    before: r.before,
    after: r.after,
    reason: r.reason,
  }));
  return { items, nextCursor };
}
