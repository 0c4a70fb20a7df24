// Surge protection: a per-provider admission gate in front of the provider's own
// rate limit (docs/providers.md, ADR 014). A request is admitted while the
// provider has a free slot (`maxConcurrent`), tokens left this minute
// (`tokensPerMinute`) and has not told us to back off (a 429 with Retry-After, or
// `x-ratelimit-remaining-requests|tokens: 0`). Otherwise it waits in a short
// queue ordered by plan (the highest price first, guests last), at most
// PROVIDER_QUEUE_SIZE long and PROVIDER_QUEUE_TIMEOUT_MS deep; when the queue
// overflows the lowest tier is shed first, and a waiter that cannot be served in
// time is refused at once: TOO_MANY_REQUESTS `provider_busy` with
// `retryAfterSeconds`. The provider's own 429 never reaches a user: the request
// goes back to the queue (ChatService) and the gate closes for the provider's
// Retry-After, with concurrency capped at what the provider accepted.
import { randomUUID } from 'node:crypto';
import { AppError } from '../../lib/app-error.ts';
import type { Logger } from '../../lib/logger.ts';
import { MemoryGateStore, type AcquireResult, type GateLimits, type GateStore } from './gate-store.ts';
import { parseRetryAfter } from './openai.ts';

export interface GateRequest {
  /** Higher goes first: the plan's monthly price in cents, -1 for guests (see `gatePriority`). */
  priority: number;
  /** Plan id, for the shed counter. */
  plan: string;
  /** Tokens the request may use (prompt estimate + completion cap), against tokensPerMinute. */
  tokens: number;
  signal?: AbortSignal | undefined;
  /** Epoch ms after which the request is refused rather than kept waiting (default: now + queue timeout). */
  deadline?: number;
}

export interface GateLease {
  readonly provider: string;
  /** When it had to wait, in ms. */
  readonly waitedMs: number;
  /** Frees the slot; `usedTokens` corrects the minute's token count to what the provider really used. */
  release(usedTokens?: number): void;
}

export interface GateStats {
  provider: string;
  inFlight: number;
  queued: number;
  shed: ReadonlyMap<string, number>;
  closed: boolean;
}

export interface ProviderGateOptions {
  provider: string;
  limits: GateLimits;
  store: GateStore;
  queueSize: number;
  queueTimeoutMs: number;
  logger?: Logger | undefined;
  /** Lease lifetime; renewed every third of it while the request runs (default 30 s). */
  leaseMs?: number;
  /** How long a concurrency cap learned from a 429 lasts (default 30 s). */
  learnedCapMs?: number;
  /**
   * A lease still held after this long is released by the gate itself (default 15 min,
   * past the reservation's expiry): a request whose stream was never consumed must not
   * hold a slot for ever.
   */
  maxHoldMs?: number;
  now?: () => number;
}

/** Queue order: the dearer the plan, the earlier; guests (and unverified accounts held to the guest plan) last. */
export function gatePriority(plan: { priceMonthlyCents: number }, heldToGuestPlan: boolean): number {
  return heldToGuestPlan ? -1 : plan.priceMonthlyCents;
}

/** Durations as rate-limit headers write them: "1s", "6m0s", "20ms", "2m59.56s", or plain seconds. */
export function parseResetDuration(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
  return Math.ceil(parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0));
}

interface Waiter {
  request: GateRequest;
  seq: number;
  enqueuedAt: number;
  deadline: number;
  resolve(lease: GateLease): void;
  reject(error: unknown): void;
  cleanup(): void;
}

/** After a 429 without Retry-After. */
const DEFAULT_BACKOFF_MS = 1_000;
/** A waiter looks again at least this often (a slot freed on another instance is not signalled here). */
const MAX_POLL_MS = 250;

export class ProviderGate {
  private readonly waiters: Waiter[] = [];
  private seq = 0;
  private local = 0;
  private readonly shed = new Map<string, number>();
  private pumping = false;
  private pumpAgain = false;
  private pumpTimer: NodeJS.Timeout | undefined;
  private closedUntil = 0;
  private readonly fallback = new MemoryGateStore();
  private warnedFallback = false;
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ProviderGateOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  get provider(): string {
    return this.options.provider;
  }

  stats(): GateStats {
    return { provider: this.options.provider, inFlight: this.local, queued: this.waiters.length, shed: this.shed, closed: this.closedUntil > this.now() };
  }

  /** Resolves with a lease once the provider may be called; rejects with `provider_busy` when it cannot be in time. */
  async admit(request: GateRequest): Promise<GateLease> {
    request.signal?.throwIfAborted();
    const enqueuedAt = this.now();
    const deadline = request.deadline ?? enqueuedAt + this.options.queueTimeoutMs;
    if (this.waiters.length === 0) {
      const leaseId = randomUUID();
      const [result, store] = await this.acquire(leaseId, request.tokens);
      if (result.ok) return this.lease(leaseId, result.window, store, request.tokens, enqueuedAt);
      if (result.retryAfterMs > deadline - this.now() && result.why !== 'concurrency') throw this.refuse(request, result.retryAfterMs);
      if (this.options.queueSize === 0 || deadline <= this.now()) throw this.refuse(request, result.retryAfterMs);
    }
    return new Promise<GateLease>((resolve, reject) => {
      const waiter: Waiter = {
        request,
        seq: this.seq++,
        enqueuedAt,
        deadline,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          request.signal?.removeEventListener('abort', onAbort);
        },
      };
      const onAbort = () => {
        if (this.remove(waiter)) reject(request.signal!.reason);
      };
      const timer = setTimeout(
        () => {
          if (this.remove(waiter)) reject(this.refuse(request, Math.max(0, this.closedUntil - this.now())));
        },
        Math.max(0, deadline - this.now()),
      );
      timer.unref?.();
      request.signal?.addEventListener('abort', onAbort, { once: true });
      this.insert(waiter);
      // Aborted while the first attempt was in flight.
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      if (this.waiters.length > Math.max(0, this.options.queueSize)) {
        // Full: the lowest tier (and among equals the latest) goes.
        const evicted = this.waiters.at(-1)!;
        this.remove(evicted);
        evicted.reject(this.refuse(evicted.request, Math.max(0, this.closedUntil - this.now())));
      }
      this.schedulePump(0);
    });
  }

  /**
   * The provider answered 429 to a request holding `lease`: the lease is released, the
   * gate closes for the provider's Retry-After (or a second) and concurrency is capped at
   * what is still in flight (at least 1) for a while. The caller re-queues the request.
   */
  async rateLimited(lease: GateLease, retryAfterMs: number | undefined): Promise<void> {
    lease.release();
    const wait = retryAfterMs ?? DEFAULT_BACKOFF_MS;
    this.closedUntil = Math.max(this.closedUntil, this.now() + wait);
    await this.withStore(async (store) => {
      const inFlight = await store.inFlight(this.options.provider);
      await store.close(this.options.provider, wait, { limit: Math.max(1, inFlight), ms: this.options.learnedCapMs ?? 30_000 });
    });
    this.options.logger?.warn({ provider: this.options.provider, retryAfterMs: wait }, 'provider rate limit reached; admission gate closed for a while');
  }

  /** Rate-limit headers of any response: at zero remaining requests or tokens, close until the reset. */
  observe(status: number, headers: Headers): void {
    if (status === 429) return; // handled by rateLimited, with the request in hand
    let closeMs = 0;
    for (const kind of ['requests', 'tokens'] as const) {
      const remaining = headers.get(`x-ratelimit-remaining-${kind}`);
      if (remaining !== null && remaining.trim() !== '' && Number(remaining) <= 0) {
        closeMs = Math.max(closeMs, parseResetDuration(headers.get(`x-ratelimit-reset-${kind}`)) ?? parseRetryAfter(headers) ?? DEFAULT_BACKOFF_MS);
      }
    }
    if (closeMs > 0) {
      this.closedUntil = Math.max(this.closedUntil, this.now() + closeMs);
      void this.withStore((store) => store.close(this.options.provider, closeMs)).catch(() => {});
    }
  }

  private insert(waiter: Waiter): void {
    const before = (a: Waiter, b: Waiter) => a.request.priority > b.request.priority || (a.request.priority === b.request.priority && a.seq < b.seq);
    let i = this.waiters.length;
    while (i > 0 && before(waiter, this.waiters[i - 1]!)) i--;
    this.waiters.splice(i, 0, waiter);
  }

  private remove(waiter: Waiter): boolean {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    waiter.cleanup();
    return true;
  }

  private refuse(request: GateRequest, waitMs: number): AppError {
    this.shed.set(request.plan, (this.shed.get(request.plan) ?? 0) + 1);
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new AppError('provider_busy', 'The AI provider is at capacity right now. Please try again in a moment.', { retryAfterSeconds });
  }

  private schedulePump(delayMs: number): void {
    if (delayMs <= 0) {
      clearTimeout(this.pumpTimer);
      this.pumpTimer = undefined;
      void this.pump();
      return;
    }
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      void this.pump();
    }, delayMs);
    this.pumpTimer.unref?.();
  }

  /** Admits waiters from the head while the provider has room; strict order, so a paid request is never overtaken by a guest's. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (this.waiters.length > 0) {
          const head = this.waiters[0]!;
          const leaseId = randomUUID();
          let result: AcquireResult;
          let store: GateStore;
          try {
            [result, store] = await this.acquire(leaseId, head.request.tokens);
          } catch (error) {
            this.options.logger?.error({ err: (error as Error).message, provider: this.options.provider }, 'admission gate failed');
            result = { ok: false, retryAfterMs: MAX_POLL_MS, why: 'concurrency' };
            store = this.fallback;
          }
          if (result.ok) {
            if (this.remove(head)) head.resolve(this.lease(leaseId, result.window, store, head.request.tokens, head.enqueuedAt));
            else void store.release(this.options.provider, leaseId, result.window, -head.request.tokens).catch(() => {});
            continue;
          }
          if (result.why === 'closed') this.closedUntil = Math.max(this.closedUntil, this.now() + result.retryAfterMs);
          // Those who cannot be served before their deadline are told now, lowest tier first.
          if (result.why !== 'concurrency') {
            const opensAt = this.now() + result.retryAfterMs;
            for (const w of [...this.waiters].reverse()) {
              if (w.deadline < opensAt && this.remove(w)) w.reject(this.refuse(w.request, result.retryAfterMs));
            }
          }
          if (this.waiters.length > 0) this.schedulePump(Math.min(result.retryAfterMs, MAX_POLL_MS));
          break;
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private async acquire(leaseId: string, tokens: number): Promise<[AcquireResult, GateStore]> {
    try {
      return [await this.options.store.acquire(this.options.provider, leaseId, tokens, this.options.limits, this.leaseMs), this.options.store];
    } catch (error) {
      if (this.options.store === this.fallback) throw error;
      this.warnFallback(error);
      return [await this.fallback.acquire(this.options.provider, leaseId, tokens, this.options.limits, this.leaseMs), this.fallback];
    }
  }

  private async withStore(run: (store: GateStore) => Promise<void>): Promise<void> {
    try {
      await run(this.options.store);
    } catch (error) {
      if (this.options.store === this.fallback) throw error;
      this.warnFallback(error);
      await run(this.fallback);
    }
  }

  private warnFallback(error: unknown): void {
    if (this.warnedFallback) return;
    this.warnedFallback = true;
    this.options.logger?.warn(
      { err: (error as Error).message, provider: this.options.provider },
      'admission gate: Redis failed; this instance gates on its own until it answers',
    );
    setTimeout(() => (this.warnedFallback = false), 60_000).unref?.();
  }

  private lease(leaseId: string, window: number, store: GateStore, tokens: number, enqueuedAt: number): GateLease {
    this.local++;
    const provider = this.options.provider;
    const renew = setInterval(() => void store.renew(provider, leaseId, this.leaseMs).catch(() => {}), Math.max(1_000, Math.floor(this.leaseMs / 3)));
    renew.unref?.();
    const abandon = setTimeout(
      () => {
        this.options.logger?.warn({ provider }, 'admission gate: a lease was held past its limit and is released');
        lease.release();
      },
      this.options.maxHoldMs ?? 15 * 60_000,
    );
    abandon.unref?.();
    let released = false;
    const lease: GateLease = {
      provider,
      waitedMs: this.now() - enqueuedAt,
      release: (usedTokens?: number) => {
        if (released) return;
        released = true;
        clearInterval(renew);
        clearTimeout(abandon);
        this.local--;
        const correction = usedTokens === undefined ? 0 : usedTokens - tokens;
        void store
          .release(provider, leaseId, window, correction)
          .catch((error: Error) => this.options.logger?.warn({ err: error.message, provider }, 'admission gate: lease not released (it expires)'))
          .finally(() => this.schedulePump(0));
      },
    };
    return lease;
  }
}

/** One gate per provider. */
export class ProviderGates {
  private readonly gates = new Map<string, ProviderGate>();
  readonly queueTimeoutMs: number;

  constructor(
    providers: readonly { id: string; maxConcurrent?: number | undefined; tokensPerMinute?: number | undefined }[],
    options: { store: GateStore; queueSize: number; queueTimeoutMs: number; logger?: Logger | undefined; leaseMs?: number },
  ) {
    this.queueTimeoutMs = options.queueTimeoutMs;
    for (const p of providers) {
      this.gates.set(
        p.id,
        new ProviderGate({
          provider: p.id,
          limits: { maxConcurrent: p.maxConcurrent, tokensPerMinute: p.tokensPerMinute },
          store: options.store,
          queueSize: options.queueSize,
          queueTimeoutMs: options.queueTimeoutMs,
          logger: options.logger,
          ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
        }),
      );
    }
  }

  for(provider: string): ProviderGate {
    const gate = this.gates.get(provider);
    if (!gate) throw new Error(`no admission gate for provider ${provider}`);
    return gate;
  }

  stats(): GateStats[] {
    return [...this.gates.values()].map((g) => g.stats());
  }
}
