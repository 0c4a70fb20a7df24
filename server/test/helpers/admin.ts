// Staff and users for the admin tests: accounts created straight in the
// database with a session cookie put in a test browser's jar (no password
// hashing, no sign-in limits), and raw usage events written with SQL.
import { randomUUID } from 'node:crypto';
import { Prisma } from '@chatmeter/db/client';
import type { TRole } from '@chatmeter/shared/auth';
import { SESSION_COOKIE } from '../../src/auth/session.ts';
import type { TestBrowser, TestServer } from './server.ts';

export interface Person {
  id: string;
  email: string;
  b: TestBrowser;
}

let counter = 0;

export async function person(server: TestServer, role: TRole = 'user', data: { plan?: string; email?: string } = {}): Promise<Person> {
  const email = data.email ?? `${role}-${++counter}-${randomUUID().slice(0, 8)}@example.com`;
  const user = await server.deps.prisma.user.create({ data: { email, role, planId: data.plan ?? 'free' }, select: { id: true } });
  const { token } = await server.deps.sessions.create(user.id);
  const b = server.browser({ ip: `10.77.${Math.floor(counter / 250)}.${counter % 250}` });
  b.cookies.set(SESSION_COOKIE, { value: token, attributes: '' });
  return { id: user.id, email, b };
}

export interface RawEvent {
  userId: string | null;
  isGuest?: boolean;
  kind?: string;
  model?: string | null;
  status?: string;
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  costMicroUsd?: number;
  creditTokens?: number;
  ttsChars?: number;
  estimated?: boolean;
  latencyMs?: number | null;
  createdAt: Date;
}

/** One multi-row INSERT (so one trigger run for the whole batch). */
export async function insertEvents(server: TestServer, events: RawEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map(
    (e) => Prisma.sql`(${e.userId}::uuid, ${e.isGuest ?? false}, ${e.kind ?? 'chat'}, ${e.model === undefined ? 'gpt-4o-mini' : e.model},
      ${e.promptTokens ?? 0}::int, ${e.completionTokens ?? 0}::int, ${e.cachedTokens ?? 0}::int, ${e.costMicroUsd ?? 0}::bigint,
      ${e.creditTokens ?? 0}::bigint, ${e.ttsChars ?? 0}::int, ${e.status ?? 'ok'}, ${e.estimated ?? false}, ${e.latencyMs ?? null}::int, ${e.createdAt}::timestamptz)`,
  );
  await server.deps.prisma.$executeRaw(Prisma.sql`
    INSERT INTO usage_events (user_id, is_guest, kind, model, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd,
                              credit_tokens, tts_chars, status, estimated, latency_ms, created_at)
    VALUES ${Prisma.join(rows)}`);
}

/** The raw events grouped exactly as usage_daily is keyed, and the roll-up itself, in the same order. */
export async function rawAndRollUp(server: TestServer) {
  const select = (from: Prisma.Sql) => Prisma.sql`
    SELECT to_char(day, 'YYYY-MM-DD') AS day, user_id::text AS user_id, is_guest, model, provider, kind, status,
           requests::text AS requests, prompt_tokens::text AS prompt_tokens, completion_tokens::text AS completion_tokens,
           cached_tokens::text AS cached_tokens, cost_micro_usd::text AS cost_micro_usd, credit_tokens::text AS credit_tokens,
           tts_chars::text AS tts_chars, estimated_requests::text AS estimated_requests, latency_ms::text AS latency_ms
      FROM ${from} x
     ORDER BY day, user_id, is_guest, model, provider, kind, status`;
  const raw = await server.deps.prisma.$queryRaw<Record<string, unknown>[]>(
    select(Prisma.sql`(
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, COALESCE(user_id, '00000000-0000-0000-0000-000000000000'::uuid) AS user_id,
           is_guest, COALESCE(model, '') AS model, COALESCE(provider, '') AS provider, kind, status, count(*) AS requests, sum(prompt_tokens) AS prompt_tokens,
           sum(completion_tokens) AS completion_tokens, sum(cached_tokens) AS cached_tokens, sum(cost_micro_usd) AS cost_micro_usd,
           sum(credit_tokens) AS credit_tokens, sum(tts_chars) AS tts_chars, count(*) FILTER (WHERE estimated) AS estimated_requests,
           COALESCE(sum(latency_ms), 0) AS latency_ms
      FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6, 7)`),
  );
  const rolled = await server.deps.prisma.$queryRaw<Record<string, unknown>[]>(select(Prisma.sql`usage_daily`));
  return { raw, rolled };
}

export const DAY_MS = 24 * 60 * 60 * 1000;
