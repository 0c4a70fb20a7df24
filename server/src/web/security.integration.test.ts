// Security sweeps over the whole API surface, enumerated from the router so a new
// procedure is covered (or makes a test fail until it is):
// - generated malformed input for every procedure and HTTP route: never a 5xx,
//   always a contract reason;
// - another user's ids: NOT_FOUND; support/admin procedures without the role:
//   FORBIDDEN;
// - a foreign Origin on every mutation: FORBIDDEN csrf;
// - session cookies in production (Secure, HttpOnly, SameSite=Lax, Path=/), no
//   fixation through a magic link.
// Cases are sampled with fast-check from a fixed seed (SECURITY_SEED to change it)
// and run with bounded concurrency to keep the file fast.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_REASONS } from '@chatmeter/shared/errors';
import { appRouter } from '../routers/_app.ts';
import type { TtsWorkerProcess } from '../tts/worker-process.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { buildWorker, startRealWorker, tempDataDir } from '../../test/helpers/tts.ts';

const SEED = Number(process.env.SECURITY_SEED ?? 7_2026);
const CASES_PER_PROCEDURE = Number(process.env.SECURITY_CASES ?? 45);
const REASONS = new Set(Object.keys(ERROR_REASONS).filter((r) => r !== 'internal'));
const unlimited = { points: 1e9, duration: 60 };

type ProcType = 'query' | 'mutation';
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string; inputs: unknown[] } }>).map(([path, p]) => ({
  path,
  type: p._def.type as ProcType,
  keys: inputKeys(p._def.inputs),
}));

/** The top-level keys of a procedure's zod input (unwrapping optional and unions). */
function inputKeys(inputs: unknown[]): string[] {
  const keys = new Set<string>();
  const walk = (schema: any): void => {
    let s = schema;
    while (s?.def?.innerType) s = s.def.innerType;
    if (s?.shape) for (const k of Object.keys(s.shape)) keys.add(k);
    for (const option of s?.def?.options ?? []) walk(option);
  };
  inputs.forEach(walk);
  return [...keys];
}

let build: Awaited<ReturnType<typeof buildWorker>>;
let worker: TtsWorkerProcess;
let server: TestServer;
let adminB: TestBrowser;
let supportB: TestBrowser;
let alice: { b: TestBrowser; id: string };
let bob: { b: TestBrowser; id: string };
let guest: { b: TestBrowser; id: string };
let ipCounter = 0;

async function account(label: string): Promise<{ b: TestBrowser; id: string }> {
  const b = server.browser({ ip: `10.60.${ipCounter >> 8}.${ipCounter++ & 255}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `${label}-${ipCounter}@example.com`, password: 'correct horse battery' });
  return { b, id: user.id };
}

beforeAll(async () => {
  build = await buildWorker();
  worker = await startRealWorker(build.script);
  server = await startTestServer(
    { BILLING_SIMULATOR: '1', DATA_DIR: await tempDataDir(), TTS_WORKER_URL: worker.target()!.url, TTS_WORKER_SECRET: worker.secret },
    {
      limits: Object.fromEntries(
        [
          'chat',
          'chatIp',
          'ttsSpeak',
          'billingCheckout',
          'signUpIp',
          'guestIp',
          'signInIp',
          'signInEmail',
          'magicLinkIp',
          'magicLinkEmail',
          'magicLinkEmailNetwork',
          'planner',
          'usageExport',
        ].map((n) => [n, unlimited]),
      ),
    },
  );
  await server.deps.auth.ensureAdmin('sec-admin@example.com', 'correct horse battery');
  adminB = server.browser({ ip: '10.61.0.1' });
  await adminB.trpc.auth.signIn.mutate({ email: 'sec-admin@example.com', password: 'correct horse battery' });
  const s = await account('sec-support');
  await server.deps.prisma.user.update({ where: { id: s.id }, data: { role: 'support' }, select: { id: true } });
  supportB = s.b;
  alice = await account('alice');
  bob = await account('bob');
  const g = server.browser({ ip: '10.62.0.1' });
  await g.trpc.auth.guest.mutate();
  guest = { b: g, id: (await g.trpc.auth.me.query())!.id };
}, 120_000);

afterAll(async () => {
  await server?.close();
  await worker?.stop();
  await build?.cleanup();
});

interface Answer {
  status: number;
  reason: string | undefined;
  body: string;
}

/** One tRPC call over raw HTTP, the way a hostile client would send it. */
async function call(
  b: TestBrowser | null,
  path: string,
  type: ProcType,
  input: unknown,
  options: { raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const encoded = options.raw ?? (input === undefined ? undefined : JSON.stringify({ json: input }));
  const init: RequestInit =
    type === 'query'
      ? { headers: options.headers ?? {} }
      : { method: 'POST', headers: { 'content-type': 'application/json', ...(options.headers ?? {}) }, ...(encoded !== undefined ? { body: encoded } : {}) };
  const url = type === 'query' && encoded !== undefined ? `/trpc/${path}?input=${encodeURIComponent(encoded)}` : `/trpc/${path}`;
  const res = b
    ? await b.fetch(url, init)
    : await fetch(`${server.url}${url}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...(type === 'mutation' ? { origin: server.url } : {}) },
      });
  const body = await res.text();
  let reason: string | undefined;
  try {
    const parsed = JSON.parse(body);
    reason = parsed?.error?.json?.data?.reason ?? parsed?.error?.data?.reason ?? parsed?.error?.reason;
  } catch {
    // A streamed chat answer is not one JSON document; a 2xx needs no reason.
  }
  return { status: res.status, reason, body };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

// Values that break naive code: wrong types, huge and odd strings, ids of the wrong shape, deep nesting.
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    "' OR 1=1 --",
    '<script>alert(1)</script>',
    '%00',
    '\ud800',
    'x'.repeat(70_000),
    '-1',
    '1e309',
    'NaN',
    '__proto__',
    'constructor',
  ),
  fc.uuid(),
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e-9, 0.5),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.uuid(), fc.integer()), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

function junkFor(keys: string[]) {
  const known = [
    'userId',
    'conversationId',
    'messageId',
    'sessionId',
    'cursor',
    'limit',
    'content',
    'model',
    'tokens',
    'reason',
    'plan',
    'pack',
    'days',
    'query',
    'email',
    'password',
    'token',
    'ids',
    'all',
    'confirm',
    'users',
    'profile',
    'action',
    'voice',
    'blocked',
    'killSwitch',
    'maxTokensPerDay',
    'alertEmails',
    'captcha',
    'promptTokens',
    'completionTokens',
    'interactionsPerUserPerDay',
    'pricePer1kTokensUsd',
  ];
  const shaped = fc.record(Object.fromEntries([...new Set([...keys, ...known.slice(0, 6)])].map((k) => [k, nasty])), { requiredKeys: [] });
  return fc.oneof(
    { weight: 5, arbitrary: shaped.map((v) => ({ kind: 'json' as const, v })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ kind: 'json' as const, v })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'json' as const, v: undefined }) },
    // superjson meta claiming types the value does not have (BigInt, Date, Map, a prototype path...).
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...(keys.length ? keys : ['x'])),
          nasty,
          fc.constantFrom(['bigint'], ['Date'], ['map'], ['set'], ['regexp'], ['undefined'], ['custom', 'x'], ['class', 'Object']),
        )
        .map(([k, v, t]) => ({ kind: 'raw' as const, v: JSON.stringify({ json: { [k]: v }, meta: { values: { [k]: t } } }) })),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map((v) => ({ kind: 'raw' as const, v })) },
  );
}

/** Session-ending procedures would log the fuzzing caller out; they are fuzzed without a session. */
const SESSION_ENDING = new Set(['auth.signOut', 'auth.signOutEverywhere', 'account.deleteAccount']);

describe('malformed input to every procedure', () => {
  it('never answers 5xx, always with a contract reason (sampled per procedure and caller)', async () => {
    // Own browsers: a junk call must not end or switch their sessions (checked after each call).
    const fuzzUser = await account('fuzz-user');
    const fuzzGuest = server.browser({ ip: '10.62.0.9' });
    await fuzzGuest.trpc.auth.guest.mutate();
    const callers: [string, () => TestBrowser | null][] = [
      ['anonymous', () => null],
      ['guest', () => fuzzGuest],
      ['user', () => fuzzUser.b],
      ['admin', () => adminB],
    ];
    const tokenOf = (b: TestBrowser | null) => (b ? [...b.cookies.values()].map((c) => c.value).join() : '');
    const cases: { path: string; type: ProcType; who: string; b: TestBrowser | null; input: { kind: 'json' | 'raw'; v: unknown } }[] = [];
    for (const [i, p] of procedures.entries()) {
      const samples = fc.sample(junkFor(p.keys), { seed: SEED + i, numRuns: CASES_PER_PROCEDURE });
      samples.forEach((input, j) => {
        const [who, b] = SESSION_ENDING.has(p.path) ? callers[0]! : callers[j % callers.length]!;
        cases.push({ path: p.path, type: p.type, who, b: b(), input });
      });
    }
    const failures: string[] = [];
    await pool(cases, 10, async (c) => {
      const before = tokenOf(c.b);
      const answer = await call(
        c.b,
        c.path,
        c.type,
        c.input.kind === 'json' ? c.input.v : undefined,
        c.input.kind === 'raw' ? { raw: c.input.v as string } : {},
      );
      if (before !== tokenOf(c.b) && answer.status >= 400)
        failures.push(`${c.path} as ${c.who} changed the session cookie while refusing (${answer.status} ${answer.reason})`);
      // Node refuses a request line over its header limit (16 KiB) before the app sees it: 431, no body.
      const transport = answer.status === 431 && JSON.stringify(c.input.v ?? '').length > 8_000;
      const bad = !transport && (answer.status >= 500 || (answer.status >= 400 && !REASONS.has(answer.reason ?? '')));
      if (bad)
        failures.push(
          `${c.path} as ${c.who} -> ${answer.status} ${answer.reason} with ${JSON.stringify(c.input.v).slice(0, 200)}: ${answer.body.slice(0, 200)}`,
        );
    });
    expect(cases.length).toBeGreaterThan(1_500);
    expect(failures, `seed ${SEED}`).toEqual([]);
    // The sweep must not have logged the admin out; a generated input may have been a valid
    // admin.updateSettings, so the controls go back to their defaults for the tests after it.
    expect((await adminB.trpc.auth.me.query())?.role).toBe('admin');
    await adminB.trpc.admin.updateSettings.mutate({ killSwitch: false, maxTokensPerDay: null });
  }, 150_000);

  it('batches, wrong methods and unknown procedures answer 4xx with a contract reason', async () => {
    const samples = fc.sample(
      fc.tuple(fc.constantFrom(...procedures.map((p) => p.path)), fc.constantFrom(...procedures.map((p) => p.path)), fc.jsonValue({ maxDepth: 2 })),
      { seed: SEED, numRuns: 60 },
    );
    const failures: string[] = [];
    // A throwaway account: a batch may well contain auth.signOut.
    const { b: thrower } = await account('batcher');
    await pool(samples, 8, async ([a, b, junk]) => {
      const answers = [
        await thrower.fetch(`/trpc/${a},${b}?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { json: junk }, 1: junk }))}`),
        await thrower.fetch(`/trpc/${a},${b}?batch=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([junk]) }),
        await thrower.fetch(`/trpc/${a}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' }),
        await thrower.fetch(`/trpc/${a}.nope`),
      ];
      for (const res of answers) if (res.status >= 500) failures.push(`${a},${b} ${res.status} ${(await res.text()).slice(0, 200)}`);
    });
    const tooMany = await thrower.fetch(`/trpc/${Array(25).fill('plans.list').join(',')}?batch=1`);
    expect(tooMany.status).toBeLessThan(500);
    expect(failures).toEqual([]);
  });
});

describe('malformed input to every HTTP route', () => {
  it('never answers 5xx; refusals carry a contract reason', async () => {
    const segment = fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }), fc.constantFrom('..%2f..%2fetc%2fpasswd', '%00', '%ff', '%E0%A4%A', 'a'.repeat(2000)));
    const routes = fc.oneof(
      segment.map((s) => ({ method: 'GET', path: `/audio/${encodeURIComponent(s)}` })),
      segment.map((s) => ({ method: 'GET', path: `/audio/${s}` })),
      segment.map((s) => ({ method: 'GET', path: `/export/usage.csv?from=${encodeURIComponent(s)}&to=${s}` })),
      segment.map((s) => ({ method: 'GET', path: `/export/usage.json?days=${encodeURIComponent(s)}` })),
      fc.constantFrom(
        { method: 'GET', path: '/healthz' },
        { method: 'GET', path: '/metrics' },
        { method: 'POST', path: '/healthz' },
        { method: 'DELETE', path: '/audio/x' },
        { method: 'PATCH', path: '/webhooks/stripe' },
        { method: 'GET', path: '/webhooks/stripe' },
      ),
      fc
        .tuple(fc.string({ maxLength: 2000 }), fc.option(fc.string({ maxLength: 200 })))
        .map(([body, sig]) => ({ method: 'POST', path: '/webhooks/stripe', body, sig })),
      fc
        .jsonValue({ maxDepth: 3 })
        .map((v) => ({ method: 'POST', path: '/webhooks/stripe', body: JSON.stringify(v), sig: `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` })),
      segment.map((s) => ({ method: 'GET', path: `/${encodeURIComponent(s)}` })),
    );
    const samples = fc.sample(
      fc.tuple(routes, fc.constantFrom<'anon' | 'user' | 'guest'>('anon', 'user', 'guest'), fc.constantFrom('application/json', 'text/html', '*/*')),
      { seed: SEED, numRuns: 500 },
    );
    const failures: string[] = [];
    await pool(samples, 10, async ([route, who, accept]) => {
      const r = route as { method: string; path: string; body?: string; sig?: string | null };
      const headers: Record<string, string> = { accept, 'content-type': 'application/json' };
      if (r.sig) headers['stripe-signature'] = r.sig;
      const init: RequestInit = { method: r.method, headers, ...(r.body !== undefined ? { body: r.body } : {}) };
      const res = who === 'anon' ? await fetch(`${server.url}${r.path}`, init) : await (who === 'user' ? alice.b : guest.b).fetch(r.path, init);
      const text = await res.text();
      if (res.status >= 500) failures.push(`${r.method} ${r.path.slice(0, 100)} as ${who}: ${res.status} ${text.slice(0, 200)}`);
      else if (res.status >= 400 && r.path !== '/webhooks/stripe' && res.headers.get('content-type')?.includes('json')) {
        const reason = JSON.parse(text)?.error?.reason;
        if (!REASONS.has(reason)) failures.push(`${r.method} ${r.path.slice(0, 100)}: ${res.status} without a contract reason: ${text.slice(0, 200)}`);
      }
    });
    expect(failures, `seed ${SEED}`).toEqual([]);
  });
});

describe("another user's ids", () => {
  const ID_KEYS = /(^|[a-z])(Id|Ids|ids)$/;
  // Every non-admin procedure that takes an id must be listed here, with how it is probed.
  const covered = new Set([
    'chat.send',
    'chat.messages',
    'chat.deleteConversation',
    'chat.renameConversation',
    'chat.regenerate',
    'chat.edit',
    'chat.selectVersion',
    'tts.speak',
    'billing.simulatedCheckout',
    'billing.simulate',
    'notifications.markRead',
  ]);

  it('the list of id-taking procedures is complete', () => {
    const takingIds = procedures.filter((p) => !p.path.startsWith('admin.') && p.keys.some((k) => ID_KEYS.test(k))).map((p) => p.path);
    expect(
      takingIds.filter((p) => !covered.has(p)),
      'a procedure takes an id: add an ownership probe for it',
    ).toEqual([]);
  });

  it('are NOT_FOUND (or change nothing) for every procedure and route that takes one', async () => {
    const first = await send(alice.b, { content: 'Say something I can hear.' });
    const conversationId = first.start!.conversationId;
    const messageId = first.start!.messageId;
    const spoken = await alice.b.trpc.tts.speak.mutate({ messageId });
    const audioId = spoken.audioUrl.split('/').pop()!;
    expect((await alice.b.fetch(spoken.audioUrl)).status).toBe(200);
    const { url } = await alice.b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
    const sessionId = new URL(url, 'http://x').searchParams.get('simulated_checkout')!;
    await server.deps.prisma.notification.create({
      data: { userId: alice.id, kind: 'messages_day', threshold: 80, periodKey: new Date().toISOString(), title: 't', body: 'b' },
      select: { id: true },
    });
    const note = await alice.b.trpc.notifications.list.query({});

    for (const thief of [bob, guest]) {
      const t = thief.b.trpc;
      const nf = async (label: string, promise: Promise<unknown>) => {
        try {
          await promise;
          throw new Error(`${label} succeeded for another user`);
        } catch (error) {
          expect((error as { data?: { code?: string; reason?: string } }).data, label).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
        }
      };
      await nf('chat.messages', t.chat.messages.query({ conversationId }));
      await nf('chat.send', send(thief.b, { content: 'mine now', conversationId }));
      await nf('chat.deleteConversation', t.chat.deleteConversation.mutate({ conversationId }));
      await nf('chat.renameConversation', t.chat.renameConversation.mutate({ conversationId, title: 'mine now' }));
      await nf('chat.regenerate', (async () => (await t.chat.regenerate.mutate({ messageId }))[Symbol.asyncIterator]().next())());
      await nf(
        'chat.edit',
        (async () => (await t.chat.edit.mutate({ messageId: first.start!.userMessageId, content: 'mine now' }))[Symbol.asyncIterator]().next())(),
      );
      await nf('chat.selectVersion', t.chat.selectVersion.mutate({ messageId }));
      // Search takes no id: it must simply find nothing of Alice's.
      expect((await t.chat.searchConversations.query({ query: 'hear' })).items.filter((hit) => hit.conversationId === conversationId)).toEqual([]);
      await nf('tts.speak', t.tts.speak.mutate({ messageId }));
      if (thief === bob) {
        await nf('billing.simulatedCheckout', t.billing.simulatedCheckout.query({ sessionId }));
        await nf('billing.simulate', t.billing.simulate.mutate({ action: 'complete_checkout', sessionId }));
      }
      const audio = await thief.b.fetch(`/audio/${audioId}`);
      expect(audio.status, '/audio/:id').toBe(404);
      expect(((await audio.json()) as { error: { reason: string } }).error.reason).toBe('not_found');
      if (thief === bob) expect(await t.notifications.markRead.mutate({ ids: note.items.map((n) => String(n.id)) })).toMatchObject({ updated: 0 });
    }
    // Nothing of Alice's changed.
    expect((await alice.b.trpc.chat.messages.query({ conversationId })).items).toHaveLength(2);
    expect((await alice.b.trpc.chat.conversations.query()).items.find((c) => c.id === conversationId)?.title).not.toBe('mine now');
    expect((await alice.b.trpc.chat.searchConversations.query({ query: 'hear' })).items.map((hit) => hit.conversationId)).toContain(conversationId);
    expect((await alice.b.trpc.notifications.unreadCount.query()).count).toBe(1);
    expect((await alice.b.trpc.billing.simulatedCheckout.query({ sessionId })).kind).toBe('payment');
  });
});

describe('roles', () => {
  const SUPPORT_ALLOWED = new Set([
    'admin.overview',
    'admin.reconciliation',
    'admin.users',
    'admin.user',
    'admin.settings',
    'admin.auditLog',
    'admin.adjustCredits',
  ]);
  const adminProcedures = procedures.filter((p) => p.path.startsWith('admin.'));

  it('every admin.* procedure is FORBIDDEN to users and guests, UNAUTHORIZED without a session', async () => {
    expect(adminProcedures.length).toBeGreaterThanOrEqual(11);
    for (const p of adminProcedures) {
      for (const [who, b] of [
        ['user', alice.b],
        ['guest', guest.b],
      ] as const) {
        const answer = await call(b, p.path, p.type, { userId: bob.id });
        expect([answer.status, answer.reason], `${p.path} as ${who}`).toEqual([403, 'forbidden_role']);
      }
      const anon = await call(null, p.path, p.type, { userId: bob.id });
      expect([anon.status, anon.reason], `${p.path} anonymous`).toEqual([401, 'unauthenticated']);
    }
  });

  it('admin-only procedures are FORBIDDEN to support; the support ones are not', async () => {
    for (const p of adminProcedures) {
      // Invalid input on purpose: a permitted caller gets invalid_input, never a change.
      const answer = await call(supportB, p.path, p.type, { userId: 'not-a-uuid', tokens: 0 });
      if (SUPPORT_ALLOWED.has(p.path)) expect(answer.reason, `${p.path} as support`).not.toBe('forbidden_role');
      else expect([answer.status, answer.reason], `${p.path} as support`).toEqual([403, 'forbidden_role']);
    }
  });
});

describe('CSRF', () => {
  const mutations = procedures.filter((p) => p.type === 'mutation');

  it('every mutation is refused from a foreign Origin, or cross-site without one, before it runs', async () => {
    const hostile: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { origin: `${server.url}.evil.example` },
      { origin: 'null' },
      { origin: server.url.replace('127.0.0.1', 'localhost') },
      { 'sec-fetch-site': 'cross-site' },
    ];
    const victim = server.browser({ origin: null, ip: '10.63.0.1' });
    await victim.fetch('/trpc/auth.signIn', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url },
      body: JSON.stringify({ json: { email: 'sec-admin@example.com', password: 'correct horse battery' } }),
    });
    expect(victim.cookies.size).toBe(1);
    for (const p of mutations) {
      for (const headers of hostile) {
        const answer = await call(victim, p.path, 'mutation', {}, { headers });
        expect([answer.status, answer.reason], `${p.path} ${JSON.stringify(headers)}`).toEqual([403, 'csrf']);
      }
    }
    // Still signed in, nothing switched: the refusals happened before any procedure ran.
    expect((await adminB.trpc.admin.settings.query()).killSwitch).toBe(false);
    expect(victim.cookies.size).toBe(1);
  });
});

describe('sessions in production', () => {
  let prod: TestServer;
  const origin = 'https://chat.example.test';
  beforeAll(async () => {
    prod = await startTestServer({ NODE_ENV: 'production', APP_ORIGIN: origin, SESSION_DAYS: '30' });
  });
  afterAll(async () => {
    await prod?.close();
  });

  it('sets HttpOnly; Secure; SameSite=Lax; Path=/ with the session expiry, and only APP_ORIGIN may mutate', async () => {
    const b = prod.browser({ origin, ip: '10.64.0.1' });
    const before = Date.now();
    const res = await b.fetch('/trpc/auth.signUp', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { email: 'prod@example.com', password: 'correct horse battery' } }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().find((c) => /^\w+=/.test(c))!;
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/; SameSite=Lax/i);
    expect(cookie).toMatch(/; Path=\/(;|$)/);
    expect(cookie).not.toMatch(/Domain=/i);
    const expires = Date.parse(/Expires=([^;]+)/i.exec(cookie)![1]!);
    expect(Math.abs(expires - (before + 30 * 24 * 3600 * 1000))).toBeLessThan(120_000);
    // The server's own http://127.0.0.1:port origin is not APP_ORIGIN: refused.
    const local = prod.browser({ ip: '10.64.0.2' });
    const refused = await call(local, 'auth.signIn', 'mutation', { email: 'prod@example.com', password: 'correct horse battery' });
    expect([refused.status, refused.reason]).toEqual([403, 'csrf']);
    // Sign-out clears the cookie with the same attributes.
    const out = await b.fetch('/trpc/auth.signOut', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const cleared = out.headers.getSetCookie()[0]!;
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect(cleared).toMatch(/; Secure/i);
    expect(cleared).toMatch(/; HttpOnly/i);
    // CSP upgrades insecure requests in production; HSTS is on.
    const page = await fetch(`${prod.url}/healthz`);
    expect(page.headers.get('content-security-policy')).toMatch(/upgrade-insecure-requests/);
    expect(page.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });

  it('with the default limits, guest sessions are throttled per IP (10 an hour) with retryAfterSeconds', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 11; i++) answers.push(await call(prod.browser({ origin, ip: '10.64.1.1' }), 'auth.guest', 'mutation', undefined));
    expect(answers.slice(0, 10).map((a) => a.status)).toEqual(Array(10).fill(200));
    expect([answers[10]!.status, answers[10]!.reason]).toEqual([429, 'rate_limited']);
    expect(JSON.parse(answers[10]!.body).error.json.data.retryAfterSeconds).toBeGreaterThan(0);
    // Another network is not affected.
    expect((await call(prod.browser({ origin, ip: '10.64.1.2' }), 'auth.guest', 'mutation', undefined)).status).toBe(200);
  });
});

describe('session fixation', () => {
  it('a magic link sign-in issues a new session id, whatever cookie the browser held', async () => {
    const b = server.browser({ ip: '10.65.0.1' });
    await b.trpc.auth.guest.mutate();
    const planted = b.cookies.values().next().value!.value;
    await b.trpc.auth.requestMagicLink.mutate({ email: 'fixation@example.com' });
    const mail = await server.deps.prisma.emailOutbox.findFirst({
      where: { to: 'fixation@example.com' },
      orderBy: { createdAt: 'desc' },
      select: { body: true },
    });
    const token = decodeURIComponent(/token=([^\s&"<]+)/.exec(mail!.body)![1]!);
    await b.trpc.auth.verifyMagicLink.mutate({ token });
    const after = b.cookies.values().next().value!.value;
    expect(after).not.toBe(planted);
    expect(after.split('.')[0]).not.toBe(planted.split('.')[0]);
    // The planted (guest) token no longer signs anyone in as the new account.
    const attacker = server.browser({ ip: '10.65.0.2' });
    attacker.cookies.set([...b.cookies.keys()][0]!, { value: planted, attributes: '' });
    const me = await attacker.trpc.auth.me.query();
    expect(me?.email ?? null).not.toBe('fixation@example.com');
  });
});
