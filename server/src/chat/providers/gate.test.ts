import { describe, expect, it } from 'vitest';
import { isAppError } from '../../lib/app-error.ts';
import { gatePriority, parseResetDuration, ProviderGate, type GateLease } from './gate.ts';
import { MemoryGateStore, type GateLimits } from './gate-store.ts';

const PRIORITY = { enterprise: 9_900, pro: 1_500, free: 0, guest: -1 } as const;
type Tier = keyof typeof PRIORITY;

function gate(limits: GateLimits, options: { queueSize?: number; queueTimeoutMs?: number; store?: MemoryGateStore; maxHoldMs?: number } = {}) {
  return new ProviderGate({
    provider: 'p',
    limits,
    store: options.store ?? new MemoryGateStore(),
    queueSize: options.queueSize ?? 50,
    queueTimeoutMs: options.queueTimeoutMs ?? 10_000,
    ...(options.maxHoldMs ? { maxHoldMs: options.maxHoldMs } : {}),
  });
}
const req = (tier: Tier, extra: { tokens?: number; signal?: AbortSignal; deadline?: number } = {}) => ({
  priority: PRIORITY[tier],
  plan: tier,
  tokens: extra.tokens ?? 10,
  ...extra,
});

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return { reason: error.reason, retryAfterSeconds: error.details.retryAfterSeconds };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('admission gate (memory)', () => {
  it('orders plans by price, guests last', () => {
    expect(gatePriority({ priceMonthlyCents: 9_900 }, false)).toBeGreaterThan(gatePriority({ priceMonthlyCents: 1_500 }, false));
    expect(gatePriority({ priceMonthlyCents: 0 }, false)).toBeGreaterThan(gatePriority({ priceMonthlyCents: 0 }, true));
    // An account held to the guest plan waits with the guests.
    expect(gatePriority({ priceMonthlyCents: 1_500 }, true)).toBe(-1);
  });

  it('admits up to maxConcurrent, then serves the queue by plan as slots free up', async () => {
    const g = gate({ maxConcurrent: 1 });
    const first = await g.admit(req('guest'));
    const order: Tier[] = [];
    // Each is released a moment after it is admitted, so they go one at a time.
    const waiting = (['guest', 'free', 'enterprise', 'pro', 'free'] as Tier[]).map((tier) =>
      g.admit(req(tier)).then((lease) => {
        order.push(tier);
        setImmediate(() => lease.release());
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(g.stats()).toMatchObject({ inFlight: 1, queued: 5 });
    first.release();
    await Promise.all(waiting);
    expect(order).toEqual(['enterprise', 'pro', 'free', 'free', 'guest']);
    await new Promise((r) => setImmediate(r));
    expect(g.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('sheds the lowest tier when the queue overflows, and counts shed requests by plan', async () => {
    const g = gate({ maxConcurrent: 1 }, { queueSize: 2 });
    const held = await g.admit(req('pro'));
    const pro = g.admit(req('pro'));
    const free = g.admit(req('free'));
    // Full: a guest arriving is refused at once.
    expect(await refusal(g.admit(req('guest')))).toEqual({ reason: 'provider_busy', retryAfterSeconds: 1 });
    // An enterprise request takes the place of the lowest waiter (the free one).
    const enterprise = g.admit(req('enterprise'));
    expect(await refusal(free)).toMatchObject({ reason: 'provider_busy' });
    expect(Object.fromEntries(g.stats().shed)).toEqual({ guest: 1, free: 1 });
    held.release();
    const e = await enterprise;
    e.release();
    (await pro).release();
  });

  it('refuses a waiter at its deadline, and a request whose signal aborts leaves the queue', async () => {
    const g = gate({ maxConcurrent: 1 }, { queueTimeoutMs: 30 });
    const held = await g.admit(req('pro'));
    expect(await refusal(g.admit(req('free')))).toMatchObject({ reason: 'provider_busy' });
    const controller = new AbortController();
    const aborted = g.admit(req('enterprise', { signal: controller.signal, deadline: Date.now() + 60_000 }));
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    expect(g.stats().queued).toBe(0);
    held.release();
  });

  it('after a provider 429 closes for Retry-After, caps concurrency at what was in flight, and refuses those who cannot wait that long', async () => {
    const g = gate({}, { queueTimeoutMs: 60_000 });
    const a = await g.admit(req('pro'));
    const b = await g.admit(req('pro'));
    const c = await g.admit(req('pro'));
    await g.rateLimited(c, 5_000);
    expect(g.stats()).toMatchObject({ inFlight: 2, closed: true });
    // Reopens in 5 s: a guest allowed 1 s is told now, with the wait.
    expect(await refusal(g.admit(req('guest', { deadline: Date.now() + 1_000 })))).toEqual({ reason: 'provider_busy', retryAfterSeconds: 5 });
    a.release();
    b.release();
  });

  it('learns a concurrency cap from a 429 (what was still in flight, at least one)', async () => {
    const store = new MemoryGateStore();
    const g = gate({}, { store });
    const a = await g.admit(req('pro'));
    const b = await g.admit(req('pro'));
    await g.rateLimited(b, 1);
    await new Promise((r) => setTimeout(r, 5));
    // One still in flight: the cap is 1, so a second waits until it is released.
    let second: GateLease | undefined;
    const pending = g.admit(req('pro')).then((l) => (second = l));
    await new Promise((r) => setTimeout(r, 80));
    expect(second).toBeUndefined();
    a.release();
    await pending;
    second!.release();
  });

  it('closes on x-ratelimit-remaining-requests|tokens: 0 until the reset the headers give', async () => {
    const g = gate({});
    g.observe(200, new Headers({ 'x-ratelimit-remaining-requests': '10', 'x-ratelimit-remaining-tokens': '5000' }));
    expect(g.stats().closed).toBe(false);
    g.observe(200, new Headers({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '6m0s' }));
    expect(g.stats().closed).toBe(true);
    expect(await refusal(g.admit(req('enterprise', { deadline: Date.now() + 1_000 })))).toEqual({ reason: 'provider_busy', retryAfterSeconds: 360 });
  });

  it('releases a lease held past maxHoldMs (a stream never consumed), so its slot comes back', async () => {
    const g = gate({ maxConcurrent: 1 }, { maxHoldMs: 40 });
    await g.admit(req('pro'));
    // Never released by its holder: the gate frees the slot and the next request gets it.
    const next = await g.admit(req('free'));
    expect(g.stats().inFlight).toBe(1);
    next.release();
  });

  it('parses the reset durations providers send', () => {
    expect(parseResetDuration('1s')).toBe(1_000);
    expect(parseResetDuration('6m0s')).toBe(360_000);
    expect(parseResetDuration('20ms')).toBe(20);
    expect(parseResetDuration('2m59.56s')).toBe(179_560);
    expect(parseResetDuration('1h2m3s')).toBe(3_723_000);
    expect(parseResetDuration('7.66')).toBe(7_660);
    expect(parseResetDuration('soon')).toBeUndefined();
    expect(parseResetDuration('1s and more')).toBeUndefined();
    expect(parseResetDuration(null)).toBeUndefined();
  });

  it('holds tokensPerMinute per minute, corrects it with the tokens really used, and lets one big request through an empty minute', async () => {
    let clock = Date.UTC(2026, 11, 5, 9, 0, 0);
    const store = new MemoryGateStore(() => clock);
    const limits = { tokensPerMinute: 1_000 };
    expect((await store.acquire('p', 'a', 600, limits, 30_000)).ok).toBe(true);
    expect(await store.acquire('p', 'b', 600, limits, 30_000)).toEqual({ ok: false, retryAfterMs: 60_000, why: 'tokens' });
    await store.release('p', 'a', Math.floor(clock / 60_000), 100 - 600);
    expect((await store.acquire('p', 'b', 600, limits, 30_000)).ok).toBe(true);
    clock += 60_000;
    expect((await store.acquire('p', 'big', 5_000, limits, 30_000)).ok).toBe(true);
    expect((await store.acquire('p', 'c', 1, limits, 30_000)).ok).toBe(false);
  });

  it('a lease that is not renewed expires: a dead holder cannot keep its slot', async () => {
    let clock = 1_000_000;
    const store = new MemoryGateStore(() => clock);
    expect((await store.acquire('p', 'dead', 1, { maxConcurrent: 1 }, 1_000)).ok).toBe(true);
    expect((await store.acquire('p', 'x', 1, { maxConcurrent: 1 }, 1_000)).ok).toBe(false);
    clock += 500;
    await store.renew('p', 'dead', 1_000);
    clock += 900;
    expect((await store.acquire('p', 'x', 1, { maxConcurrent: 1 }, 1_000)).ok).toBe(false);
    clock += 200;
    expect((await store.acquire('p', 'x', 1, { maxConcurrent: 1 }, 1_000)).ok).toBe(true);
    expect(await store.inFlight('p')).toBe(1);
  });
});
