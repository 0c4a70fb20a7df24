// Accounting invariants under a seeded random workload: ~20 accounts and a few
// guests do chats, aborted chats, voice, credit packs and refunds (the billing
// simulator's signed events through the real webhook handler), support
// adjustments, plan changes and conversation deletions, with bounded
// concurrency. One op in ten goes over real HTTP (cookies, Origin, the
// streaming link); the others call the same router in-process with a context
// built from the caller's session cookie (validated per op, as HTTP does), which
// is ~5x cheaper. INVARIANT_BUDGET_MS (default 90 s) caps the wall clock: on a
// busy machine fewer ops run, and the log line says how many. Afterwards the
// database must add up: balances = ledger, counters = usage events, roll-ups =
// raw events, dollar counters = the cost of their events, no limit or dollar cap
// above the plan's (or the user's own), nothing left reserved.
//
// Reproduce a failure with INVARIANT_SEED=<seed printed> (and INVARIANT_OPS).
// The op list is a pure function of the seed; with concurrency the interleaving
// is not, so a failure names the seed and the ops around it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TRPCClientError } from '@trpc/client';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { signUp } from '../../test/helpers/billing.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { buildWorker, startRealWorker, tempDataDir } from '../../test/helpers/tts.ts';
import type { TtsWorkerProcess } from '../tts/worker-process.ts';
import { isAppError } from '../lib/app-error.ts';
import { createCaller } from '../routers/_app.ts';
import { createContextInner } from '../trpc/context.ts';

const SEED = Number(process.env.INVARIANT_SEED ?? 20261123);
const OPS = Number(process.env.INVARIANT_OPS ?? 10_000);
/** Wall-clock cap on the workload: a loaded machine runs fewer ops (the log says how many) rather than blowing the suite's time. */
// In CI the whole workload must run (a 4-minute budget, ~4x what it needs); on a
// developer's busy machine 90 s, and the log says how many ops fitted.
const BUDGET_MS = Number(process.env.INVARIANT_BUDGET_MS ?? (process.env.CI ? 240_000 : 90_000));
const CONCURRENCY = 12;
const ACCOUNTS = 20;
const GUESTS = 4;

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Small limits so the workload runs into every one of them many times.
const limitsOf: Record<string, Partial<TPlan['limits']>> = {
  guest: { requestsPerMinute: 10_000, messagesPerHour: 30, messagesPerDay: 40, tokensPerMonth: 15_000, ttsCharsPerDay: 2_000 },
  free: { requestsPerMinute: 10_000, messagesPerHour: 60, messagesPerDay: 90, tokensPerMonth: 20_000, ttsCharsPerDay: 3_000, maxConversationMessages: 12 },
  pro: { requestsPerMinute: 10_000, messagesPerHour: 150, messagesPerDay: 220, tokensPerMonth: 60_000, ttsCharsPerDay: 8_000 },
  enterprise: { requestsPerMinute: 10_000, messagesPerHour: 400, messagesPerDay: 400, tokensPerMonth: 150_000, ttsCharsPerDay: 20_000 },
};
// Dollar caps (micro-USD, the demo model is priced like gpt-4o-mini) that bind before the tokens do for
// free accounts and guests; enterprise has none. Every fourth account sets its own spending limit below them.
const costCaps: Record<string, number | null> = { guest: 2_000, free: 3_000, pro: 12_000, enterprise: null };
const PERSONAL_LIMIT = 1_500;
const plans: TPlan[] = DEFAULT_PLANS.map((p) => ({ ...p, limits: { ...p.limits, ...limitsOf[p.id], costPerMonthMicroUsd: costCaps[p.id] ?? null } }));
const planById = new Map(plans.map((p) => [p.id, p]));
const plansFile = path.join(mkdtempSync(path.join(tmpdir(), 'chatmeter-inv-')), 'plans.json');
writeFileSync(plansFile, JSON.stringify(plans));

const unlimited = { points: 1e9, duration: 60 };

interface Actor {
  label: string;
  b: TestBrowser;
  ip: string;
  userId?: string;
  guest: boolean;
  /** Every plan this subject held during the run (a limit check takes the largest). */
  plans: Set<string>;
  conversations: string[];
  deleted: Set<string>;
  answers: { messageId: string; conversationId: string }[];
  /** The spending limit the account set at the start (micro-USD), if any. */
  personalLimit?: number;
}

type OpKind = 'chat' | 'chatNew' | 'abort' | 'voice' | 'pack' | 'refund' | 'adjust' | 'setPlan' | 'subscribe' | 'delete' | 'read';
interface Op {
  i: number;
  kind: OpKind;
  actor: number;
  n: number;
}

const MIX: [OpKind, number][] = [
  ['chat', 34],
  ['chatNew', 12],
  ['abort', 7],
  ['voice', 1],
  ['pack', 3],
  ['refund', 1.5],
  ['adjust', 8],
  ['setPlan', 2],
  ['subscribe', 1.5],
  ['delete', 5],
  ['read', 4],
];

function generate(seed: number, count: number, actors: number, accounts: number): Op[] {
  const rand = prng(seed);
  const total = MIX.reduce((s, [, w]) => s + w, 0);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    let r = rand() * total;
    let kind: OpKind = 'read';
    for (const [k, w] of MIX) {
      if ((r -= w) < 0) {
        kind = k;
        break;
      }
    }
    const accountOnly = kind === 'pack' || kind === 'refund' || kind === 'adjust' || kind === 'setPlan' || kind === 'subscribe';
    const actor = Math.floor(rand() * (accountOnly ? accounts : actors));
    ops.push({ i, kind, actor, n: Math.floor(rand() * 1_000_000) });
  }
  return ops;
}

let build: Awaited<ReturnType<typeof buildWorker>> | undefined;
let worker: TtsWorkerProcess | undefined;
let server: TestServer;
let admin: TestBrowser;
let support: TestBrowser;

beforeAll(async () => {
  build = await buildWorker();
  worker = await startRealWorker(build.script, { TTS_MAX_QUEUE: '64' });
  // The workload's support account adjusts far more than a day's support cap (admin-support-limits tests that cap).
  server = await startTestServer(
    {
      BILLING_SIMULATOR: '1',
      SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY: '1000000000000',
      PLANS_FILE: plansFile,
      DEMO_DELAY_MS: '1',
      DATA_DIR: await tempDataDir(),
      TTS_WORKER_URL: worker.target()!.url,
      TTS_WORKER_SECRET: worker.secret,
      DATABASE_POOL_MAX: '16',
    },
    { limits: { chat: unlimited, chatIp: unlimited, ttsSpeak: unlimited, billingCheckout: unlimited, signUpIp: unlimited, guestIp: unlimited } },
  );
  await server.deps.auth.ensureAdmin('inv-admin@example.com', 'correct horse battery');
  admin = server.browser({ ip: '10.90.0.1' });
  await admin.trpc.auth.signIn.mutate({ email: 'inv-admin@example.com', password: 'correct horse battery' });
  const s = await signUp(server, 'inv-support');
  await server.deps.prisma.user.update({ where: { id: s.userId }, data: { role: 'support' }, select: { id: true } });
  support = s.b;
}, 120_000);

afterAll(async () => {
  await server?.close();
  await worker?.stop();
  await build?.cleanup();
});

const contractReasons = new Set([
  'invalid_input',
  'input_too_long',
  'conversation_too_long',
  'unauthenticated',
  'forbidden_role',
  'blocked',
  'model_not_in_plan',
  'csrf',
  'not_found',
  'conflict',
  'captcha_required',
  'rate_limited',
  'tts_busy',
  'quota_exhausted',
  'credits_exhausted',
  'global_cap',
  'kill_switch',
  'billing_not_configured',
  'provider_unavailable',
]);

describe(`accounting invariants under a random workload (seed ${SEED}, ${OPS} ops)`, () => {
  it(
    'every balance, counter and roll-up adds up afterwards',
    async () => {
      const actors: Actor[] = [];
      for (let i = 0; i < ACCOUNTS; i++) {
        const { b, userId } = await signUp(server, `inv${i}`);
        actors.push({
          label: `account ${i}`,
          b,
          ip: `10.77.0.${i}`,
          userId,
          guest: false,
          plans: new Set(['free']),
          conversations: [],
          deleted: new Set(),
          answers: [],
        });
        if (i % 4 === 3) {
          await b.trpc.preferences.update.mutate({ monthlySpendLimitMicroUsd: PERSONAL_LIMIT });
          actors.at(-1)!.personalLimit = PERSONAL_LIMIT;
        }
      }
      for (let i = 0; i < GUESTS; i++) {
        const b = server.browser({ ip: `10.91.0.${i + 1}` });
        await b.trpc.auth.guest.mutate();
        const me = await b.trpc.auth.me.query();
        actors.push({
          label: `guest ${i}`,
          b,
          ip: `10.91.0.${i + 1}`,
          userId: me!.id,
          guest: true,
          plans: new Set(['guest']),
          conversations: [],
          deleted: new Set(),
          answers: [],
        });
      }

      const ops = generate(SEED, OPS, actors.length, ACCOUNTS);
      const outcomes = new Map<string, number>();
      const failures: string[] = [];
      const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);

      // An op may be refused with a contract reason it can legitimately meet; anything else is a failure.
      async function attempt(op: Op, allowed: string[], fn: () => Promise<unknown>): Promise<void> {
        try {
          await fn();
          count(`${op.kind}:ok`);
        } catch (error) {
          const { reason, status } = reasonOf(error);
          count(`${op.kind}:${reason}`);
          if (!allowed.includes(reason) || !contractReasons.has(reason) || status >= 500) {
            failures.push(
              `op #${op.i} ${op.kind} by ${actors[op.actor]!.label}: ${reason} (${status}) ${error instanceof Error ? error.message : String(error)}`,
            );
          }
        }
      }

      const chatRefusals = ['quota_exhausted', 'credits_exhausted', 'conversation_too_long', 'not_found'];

      /** The same router in-process, with the context HTTP would build from this browser's cookie. */
      async function inProcess(b: TestBrowser, ip: string, signal?: AbortSignal) {
        const token = [...b.cookies.values()][0]?.value;
        const found = token ? await server.deps.sessions.validate(token) : null;
        if (!found) throw new Error('the session of a workload browser ended');
        return createCaller(
          createContextInner({ deps: server.deps, user: found.user, session: found.session, meta: { ip, requestId: `inv-${Math.random()}` } }),
          signal ? { signal } : {},
        );
      }

      /** Chat over HTTP (the helper) or in-process, collecting the same facts. */
      async function chat(a: Actor, http: boolean, input: { content: string; conversationId?: string }, stopAfterDeltas?: number) {
        if (http) return send(a.b, input, stopAfterDeltas === undefined ? {} : { stopAfterDeltas });
        const controller = new AbortController();
        const caller = await inProcess(a.b, a.ip, controller.signal);
        const stream = (await caller.chat.send(input)) as AsyncIterable<{ type: string; conversationId?: string; messageId?: string }>;
        let start: { conversationId: string; messageId: string } | undefined;
        let done = false;
        let deltas = 0;
        for await (const event of stream) {
          if (event.type === 'start') start = { conversationId: event.conversationId!, messageId: event.messageId! };
          if (event.type === 'done') done = true;
          if (event.type === 'delta' && stopAfterDeltas !== undefined && ++deltas >= stopAfterDeltas) {
            controller.abort();
            break;
          }
        }
        return { start, done: done || undefined };
      }

      async function run(op: Op): Promise<void> {
        const a = actors[op.actor]!;
        const http = op.n % 10 === 0;
        const api = async (b: TestBrowser, ip: string) => (http ? null : await inProcess(b, ip));
        const live = a.conversations.filter((c) => !a.deleted.has(c));
        switch (op.kind) {
          case 'chat':
          case 'chatNew':
          case 'abort': {
            // Mostly an existing conversation, sometimes one this actor deleted (must be not_found).
            const conversationId = op.kind === 'chatNew' || a.conversations.length === 0 ? undefined : a.conversations[op.n % a.conversations.length];
            const deletedBefore = conversationId !== undefined && a.deleted.has(conversationId);
            await attempt(op, chatRefusals, async () => {
              const result = await chat(
                a,
                http,
                {
                  content: `Question ${op.i}: tell me about ${['tea', 'rivers', 'clocks', 'owls'][op.n % 4]} ${'and more '.repeat(op.n % 6)}`,
                  ...(conversationId ? { conversationId } : {}),
                },
                op.kind === 'abort' ? 1 + (op.n % 3) : undefined,
              );
              if (result.start) {
                if (!a.conversations.includes(result.start.conversationId)) a.conversations.push(result.start.conversationId);
                if (result.done) a.answers.push({ messageId: result.start.messageId, conversationId: result.start.conversationId });
              }
              if (deletedBefore && result.start) throw new Error('a deleted conversation accepted a message');
            });
            return;
          }
          case 'voice': {
            const answer = a.answers[op.n % Math.max(1, a.answers.length)];
            if (!answer) return void count('voice:skipped');
            await attempt(op, ['quota_exhausted', 'tts_busy', 'not_found', 'invalid_input'], async () => {
              const c = await api(a.b, a.ip);
              await (c ? c.tts.speak({ messageId: answer.messageId }) : a.b.trpc.tts.speak.mutate({ messageId: answer.messageId }));
            });
            return;
          }
          case 'pack':
            await attempt(op, [], async () => {
              const c = await api(a.b, a.ip);
              const pack = op.n % 2 ? 'pack_100k' : 'pack_1m';
              const { url } = await (c ? c.billing.checkout({ pack }) : a.b.trpc.billing.checkout.mutate({ pack }));
              const sessionId = new URL(url, 'http://x').searchParams.get('simulated_checkout')!;
              await (c
                ? c.billing.simulate({ action: 'complete_checkout', sessionId })
                : a.b.trpc.billing.simulate.mutate({ action: 'complete_checkout', sessionId }));
            });
            return;
          case 'refund':
            await attempt(op, ['not_found', 'invalid_input', 'conflict'], async () => {
              const c = await api(a.b, a.ip);
              await (c ? c.billing.simulate({ action: 'refund_last_pack' }) : a.b.trpc.billing.simulate.mutate({ action: 'refund_last_pack' }));
            });
            return;
          case 'adjust': {
            const tokens = (op.n % 2 ? 1 : -1) * (1 + (op.n % 60_000));
            const input = { userId: a.userId!, tokens, reason: `workload op ${op.i} adjustment` };
            await attempt(op, [], async () => {
              const c = await api(support, '10.90.0.2');
              await (c ? c.admin.adjustCredits(input) : support.trpc.admin.adjustCredits.mutate(input));
            });
            return;
          }
          case 'setPlan': {
            const plan = (['free', 'pro', 'enterprise'] as const)[op.n % 3]!;
            a.plans.add(plan);
            await attempt(op, [], async () => {
              const c = await api(admin, '10.90.0.1');
              await (c ? c.admin.setPlan({ userId: a.userId!, plan }) : admin.trpc.admin.setPlan.mutate({ userId: a.userId!, plan }));
            });
            return;
          }
          case 'subscribe': {
            // A Stripe subscription through the simulator (checkout, or a plan change through the
            // portal when one exists), or its immediate cancellation: plan and billing period move.
            const plan = (['pro', 'enterprise'] as const)[op.n % 2]!;
            a.plans.add(plan);
            a.plans.add('free');
            await attempt(op, ['invalid_input', 'not_found', 'conflict'], async () => {
              const c = await api(a.b, a.ip);
              if (op.n % 4 === 0) {
                await (c ? c.billing.simulate({ action: 'cancel_now' }) : a.b.trpc.billing.simulate.mutate({ action: 'cancel_now' }));
                return;
              }
              const { url } = await (c ? c.billing.checkout({ plan }) : a.b.trpc.billing.checkout.mutate({ plan }));
              const sessionId = new URL(url, 'http://x').searchParams.get('simulated_checkout');
              if (sessionId)
                await (c
                  ? c.billing.simulate({ action: 'complete_checkout', sessionId })
                  : a.b.trpc.billing.simulate.mutate({ action: 'complete_checkout', sessionId }));
            });
            return;
          }
          case 'delete': {
            const target = live[op.n % Math.max(1, live.length)];
            if (!target) return void count('delete:skipped');
            await attempt(op, ['not_found'], async () => {
              const c = await api(a.b, a.ip);
              await (c ? c.chat.deleteConversation({ conversationId: target }) : a.b.trpc.chat.deleteConversation.mutate({ conversationId: target }));
              a.deleted.add(target);
            });
            return;
          }
          case 'read':
            await attempt(op, [], async () => {
              const c = await api(a.b, a.ip);
              if (op.n % 3 === 0) await (c ? c.usage.summary() : a.b.trpc.usage.summary.query());
              else if (op.n % 3 === 1) await (c ? c.chat.conversations({}) : a.b.trpc.chat.conversations.query({}));
              else await (c ? c.usage.history({}) : a.b.trpc.usage.history.query({}));
            });
            return;
        }
      }

      const timeByKind = new Map<string, number>();
      const started = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < ops.length && failures.length < 20 && Date.now() - started < BUDGET_MS) {
            const op = ops[next++]!;
            const t0 = performance.now();
            await run(op);
            timeByKind.set(op.kind, (timeByKind.get(op.kind) ?? 0) + performance.now() - t0);
          }
        }),
      );
      const elapsed = Date.now() - started;
      console.info(
        `[invariants] seed ${SEED}: ${next} of ${ops.length} ops in ${elapsed} ms (budget ${BUDGET_MS} ms)`,
        Object.fromEntries([...outcomes].sort()),
        'ms by kind',
        Object.fromEntries([...timeByKind].map(([k, v]) => [k, Math.round(v)])),
      );
      expect(failures, `seed ${SEED}: unexpected outcomes`).toEqual([]);
      if (process.env.CI) expect(next, `seed ${SEED}: every op must run in CI`).toBe(ops.length);

      // Aborted streams settle on the server's time.
      const prisma = server.deps.prisma;
      await eventually(async () => expect(await prisma.reservation.count({ where: { status: 'held' } })).toBe(0), 10_000);

      const problems = await checkInvariants(server, actors);
      if (problems.length) console.info(`[invariants] FAILED with seed ${SEED} (INVARIANT_SEED=${SEED} INVARIANT_OPS=${OPS} to reproduce)`);
      expect(problems, `seed ${SEED}`).toEqual([]);
      // The workload really exercised the paths it claims to.
      for (const key of ['chat:ok', 'chatNew:ok', 'abort:ok', 'pack:ok', 'refund:ok', 'adjust:ok', 'setPlan:ok', 'subscribe:ok', 'delete:ok', 'voice:ok']) {
        if (next >= 1_500) expect(outcomes.get(key) ?? 0, key).toBeGreaterThan(0);
      }
      if (next >= 1_500)
        expect((outcomes.get('chat:quota_exhausted') ?? 0) + (outcomes.get('chatNew:quota_exhausted') ?? 0), 'limits were reached').toBeGreaterThan(0);
    },
    process.env.CI ? 330_000 : 170_000,
  );
});

/** The contract reason and HTTP status of a refusal, over HTTP (TRPCClientError) or in-process (TRPCError / AppError). */
function reasonOf(error: unknown): { reason: string; status: number } {
  if (error instanceof TRPCClientError) {
    const data = (error.data ?? {}) as { reason?: unknown; httpStatus?: unknown };
    return { reason: String(data.reason), status: Number(data.httpStatus) };
  }
  if (isAppError(error)) return { reason: error.reason, status: 400 };
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error);
    if (isAppError(error.cause)) return { reason: error.cause.reason, status };
    return { reason: error.code === 'BAD_REQUEST' ? 'invalid_input' : `trpc:${error.code}`, status };
  }
  return { reason: 'thrown', status: 0 };
}

async function checkInvariants(server: TestServer, actors: Actor[]): Promise<string[]> {
  const q = <T>(sql: string) => server.deps.prisma.$queryRawUnsafe<T[]>(sql);
  const problems: string[] = [];
  const report = (title: string, rows: unknown[]) => {
    if (rows.length) problems.push(`${title}: ${JSON.stringify(rows.slice(0, 5), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  };

  // 1. Credits: balance = sum of the ledger, never negative, and each row's balance_after follows from the one before.
  report(
    'balance differs from the ledger sum',
    await q(`SELECT a.user_id, a.balance_tokens, COALESCE(l.total, 0) AS ledger
               FROM credit_accounts a FULL JOIN (SELECT user_id, sum(delta_tokens) AS total FROM credit_ledger GROUP BY user_id) l ON l.user_id = a.user_id
              WHERE COALESCE(a.balance_tokens, 0) <> COALESCE(l.total, 0)`),
  );
  report('negative balance', await q(`SELECT user_id, balance_tokens FROM credit_accounts WHERE balance_tokens < 0`));
  report('negative balance_after in the ledger', await q(`SELECT id, user_id, balance_after FROM credit_ledger WHERE balance_after < 0`));
  report(
    'ledger chain broken (balance_after <> previous + delta)',
    await q(`SELECT id, user_id, delta_tokens, balance_after, prev FROM (
               SELECT id, user_id, delta_tokens, balance_after, COALESCE(lag(balance_after) OVER (PARTITION BY user_id ORDER BY id), 0) AS prev FROM credit_ledger) x
              WHERE balance_after <> prev + delta_tokens`),
  );

  // 2. tokens_month counters = prompt + completion of the chat events the allowance paid for, per billing period.
  //    (A message paid from credits is on the ledger, not the counter: cm_reserve_chat / cm_settle_chat.)
  report(
    'tokens_month counter differs from its usage events',
    await q(`WITH ev AS (
               SELECT 'u:' || r.user_id::text AS subject, r.month_period_start AS period_start, sum(e.prompt_tokens + e.completion_tokens)::bigint AS tokens
                 FROM usage_events e JOIN reservations r ON r.id = e.reservation_id
                WHERE e.kind = 'chat' AND r.allowance_tokens > 0 GROUP BY 1, 2)
             SELECT COALESCE(c.subject, ev.subject) AS subject, COALESCE(c.period_start, ev.period_start) AS period, c.used, ev.tokens
               FROM (SELECT * FROM quota_counters WHERE kind = 'tokens_month') c FULL JOIN ev ON ev.subject = c.subject AND ev.period_start = c.period_start
              WHERE COALESCE(c.used, 0) <> COALESCE(ev.tokens, 0)`),
  );
  // Every settled chat has exactly one usage event, and each event's credit_tokens matches the ledger's net spend for it.
  report(
    'settled reservation without a usage event',
    await q(`SELECT r.id FROM reservations r LEFT JOIN usage_events e ON e.reservation_id = r.id WHERE r.kind = 'chat' AND e.id IS NULL`),
  );
  report(
    'credit-funded chat: ledger spend differs from the event',
    await q(`SELECT e.reservation_id, e.credit_tokens, -sum(l.delta_tokens) AS ledger
               FROM usage_events e JOIN credit_ledger l ON l.reservation_id = e.reservation_id
              GROUP BY e.reservation_id, e.credit_tokens HAVING -sum(l.delta_tokens) <> e.credit_tokens`),
  );
  // tts_chars_day counters = characters of the tts events of that UTC day.
  report(
    'tts_chars_day counter differs from its usage events',
    await q(`WITH ev AS (
               SELECT 'u:' || user_id::text AS subject, date_trunc('day', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS period_start, sum(tts_chars)::bigint AS chars
                 FROM usage_events WHERE kind = 'tts' GROUP BY 1, 2)
             SELECT COALESCE(c.subject, ev.subject) AS subject, c.used, ev.chars
               FROM (SELECT * FROM quota_counters WHERE kind = 'tts_chars_day') c FULL JOIN ev ON ev.subject = c.subject AND ev.period_start = c.period_start
              WHERE COALESCE(c.used, 0) <> COALESCE(ev.chars, 0)`),
  );
  // The global daily counter = all chat tokens of the day.
  report(
    'global_tokens_day differs from the chat events',
    await q(`WITH ev AS (SELECT r.day_period_start AS period_start, sum(e.prompt_tokens + e.completion_tokens)::bigint AS tokens
                          FROM usage_events e JOIN reservations r ON r.id = e.reservation_id WHERE e.kind = 'chat' GROUP BY 1)
             SELECT c.period_start, c.used, ev.tokens FROM (SELECT * FROM quota_counters WHERE kind = 'global_tokens_day') c FULL JOIN ev ON ev.period_start = c.period_start
              WHERE COALESCE(c.used, 0) <> COALESCE(ev.tokens, 0)`),
  );

  // The dollar counters, settled: cost_month = the cost of the chats the allowance paid for and of the paid clips
  // (voice spends the plan's dollars), spend_month = the cost of all of the user's chats and clips, per billing
  // period; global_cost_day / _month = all chat and voice costs of the day / month.
  report(
    'cost_month / spend_month counter differs from its usage events',
    await q(`WITH ev AS (
               SELECT 'u:' || r.user_id::text AS subject, r.month_period_start AS period_start,
                      sum(e.cost_micro_usd) FILTER (WHERE (e.kind = 'chat' AND r.allowance_tokens > 0) OR (e.kind = 'tts' AND r.plan_cost_micro_usd > 0))::bigint AS plan_cost,
                      sum(e.cost_micro_usd)::bigint AS spend
                 FROM usage_events e JOIN reservations r ON r.id = e.reservation_id WHERE e.kind IN ('chat', 'tts') GROUP BY 1, 2)
             SELECT COALESCE(c.subject, ev.subject) AS subject, c.kind, c.used, ev.plan_cost, ev.spend
               FROM (SELECT * FROM quota_counters WHERE kind IN ('cost_month', 'spend_month')) c
               FULL JOIN ev ON ev.subject = c.subject AND ev.period_start = c.period_start
              WHERE COALESCE(c.used, 0) <> COALESCE(CASE WHEN c.kind = 'spend_month' THEN ev.spend ELSE ev.plan_cost END, 0)
                 OR (c.kind IS NULL AND COALESCE(ev.spend, 0) <> 0)`),
  );
  report(
    'global_cost_day / global_cost_month differ from the chat and voice events',
    await q(`WITH ev AS (SELECT r.day_period_start AS day, r.global_month_start AS month, e.cost_micro_usd AS cost
                          FROM usage_events e JOIN reservations r ON r.id = e.reservation_id WHERE e.kind IN ('chat', 'tts')),
                  sums AS (SELECT 'global_cost_day' AS kind, day AS period_start, sum(cost)::bigint AS cost FROM ev GROUP BY 2
                           UNION ALL SELECT 'global_cost_month', month, sum(cost)::bigint FROM ev GROUP BY 2)
             SELECT COALESCE(c.kind, sums.kind) AS kind, COALESCE(c.period_start, sums.period_start) AS period, c.used, sums.cost
               FROM (SELECT * FROM quota_counters WHERE kind IN ('global_cost_day', 'global_cost_month')) c
               FULL JOIN sums ON sums.kind = c.kind AND sums.period_start = c.period_start
              WHERE COALESCE(c.used, 0) <> COALESCE(sums.cost, 0)`),
  );

  // 3. usage_daily (trigger-maintained) = raw usage_events grouped the same way.
  const rollupSql = `SELECT (created_at AT TIME ZONE 'UTC')::date AS day, COALESCE(user_id, '00000000-0000-0000-0000-000000000000'::uuid) AS user_id, is_guest,
                            COALESCE(model, '') AS model, COALESCE(provider, '') AS provider, kind, status, count(*)::bigint AS requests, sum(prompt_tokens)::bigint AS prompt_tokens,
                            sum(completion_tokens)::bigint AS completion_tokens, sum(cached_tokens)::bigint AS cached_tokens, sum(cost_micro_usd)::bigint AS cost_micro_usd,
                            sum(credit_tokens)::bigint AS credit_tokens, sum(tts_chars)::bigint AS tts_chars, (count(*) FILTER (WHERE estimated))::bigint AS estimated_requests,
                            COALESCE(sum(latency_ms), 0)::bigint AS latency_ms
                       FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6, 7`;
  const cols =
    'day, user_id, is_guest, model, provider, kind, status, requests, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd, credit_tokens, tts_chars, estimated_requests, latency_ms';
  report('usage_daily rows missing or different (raw side)', await q(`(${rollupSql}) EXCEPT (SELECT ${cols} FROM usage_daily)`));
  report('usage_daily rows missing or different (roll-up side)', await q(`(SELECT ${cols} FROM usage_daily) EXCEPT (${rollupSql})`));

  // 4. No counter above the largest limit the subject held in its period.
  const counters = await q<{ subject: string; kind: string; period_start: Date; used: bigint }>(
    `SELECT subject, kind, period_start, used FROM quota_counters WHERE kind IN ('messages_hour', 'messages_day', 'tokens_month', 'tts_chars_day')`,
  );
  const limitKey = {
    messages_hour: 'messagesPerHour',
    messages_day: 'messagesPerDay',
    tokens_month: 'tokensPerMonth',
    tts_chars_day: 'ttsCharsPerDay',
  } as const;
  const bySubject = new Map(actors.map((a) => [`u:${a.userId}`, a]));
  const guestPlan = planById.get('guest')!;
  for (const c of counters) {
    const key = limitKey[c.kind as keyof typeof limitKey];
    let max: number;
    if (c.subject.startsWith('ip:')) max = guestPlan.limits.messagesPerDay;
    else {
      const actor = bySubject.get(c.subject);
      if (!actor) continue; // admin / support accounts
      max = Math.max(...[...actor.plans].map((p) => planById.get(p)!.limits[key]));
    }
    if (c.used > BigInt(max)) problems.push(`${c.subject} ${c.kind} ${c.period_start.toISOString()}: ${c.used} > limit ${max}`);
  }
  // No dollar cap passed: the plan's (the largest the subject held; none if one of them had none) and the personal limit.
  const dollars = await q<{ subject: string; kind: string; period_start: Date; used: bigint }>(
    `SELECT subject, kind, period_start, used FROM quota_counters WHERE kind IN ('cost_month', 'spend_month')`,
  );
  for (const c of dollars) {
    const actor = bySubject.get(c.subject);
    if (!actor) continue;
    let max: number | null;
    if (c.kind === 'cost_month') {
      const caps = [...actor.plans].map((p) => planById.get(p)!.limits.costPerMonthMicroUsd ?? null);
      max = caps.includes(null) ? null : Math.max(...(caps as number[]));
    } else {
      max = actor.personalLimit ?? null;
    }
    if (max !== null && c.used > BigInt(max)) problems.push(`${c.subject} ${c.kind} ${c.period_start.toISOString()}: ${c.used} > cap ${max}`);
  }

  // 5. Every reservation settled, every usage event's status a known one.
  report('reservations still held', await q(`SELECT id, kind, user_id FROM reservations WHERE status <> 'settled' AND kind = 'chat'`));
  report('unknown usage status', await q(`SELECT DISTINCT kind, status FROM usage_events WHERE status NOT IN ('ok', 'aborted', 'error', 'cached', 'expired')`));
  return problems;
}
