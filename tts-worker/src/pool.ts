import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { AudioFormat } from './audio.ts';
import { JobCancelledError, PoolClosedError, QueueFullError, QueueTimeoutError, TaskFailedError, TaskTimeoutError } from './errors.ts';
import { errorFields, type Logger } from './logger.ts';
import { PriorityQueue } from './priority-queue.ts';
import type { StreamMessage, SynthTask, SynthTaskResult, WorkerOptions } from './synth-task.ts';

/** Highest first: when the queue is contended, paid jobs run before free before guest. */
export const PRIORITIES = ['paid', 'free', 'guest'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface SynthJob {
  chunks: string[];
  voice: string;
  rate: number;
  format: AudioFormat;
}

export interface RunOptions {
  priority?: Priority;
  /** Cancels the job while it waits in the queue. A job already running is left to finish. */
  signal?: AbortSignal;
  /** Streaming: receives encoded bytes as each chunk is ready; the result's `audio` is then empty. */
  onData?: (bytes: Uint8Array) => void;
}

export interface SynthRunResult extends SynthTaskResult {
  priority: Priority;
  /** Time spent queued before a thread took the job. */
  waitMs: number;
  /** Time from a thread taking the job to its result. */
  runMs: number;
}

export interface SynthPoolOptions {
  threads: number;
  /** Jobs that may wait for a thread; beyond this, `run()` rejects with QueueFullError. */
  maxQueue: number;
  /** Longest a job may run; its thread is then destroyed and replaced. */
  taskTimeoutMs: number;
  /** Longest a job may wait in the queue for a thread (default: taskTimeoutMs). */
  maxQueueWaitMs?: number;
  logger?: Logger;
  /** Tests only: lets texts trigger failures inside the worker (see synth.worker.ts). */
  faultInjection?: boolean;
  /** Defaults to the worker next to this module (built or source). */
  workerFile?: string | URL;
}

export interface PoolStats {
  poolSize: number;
  threadsAlive: number;
  /** Threads that finished loading their engine and take work. */
  threadsReady: number;
  busy: number;
  queueDepth: number;
  queueByPriority: Record<Priority, number>;
  maxQueue: number;
  /** Busy threads / pool size, right now. */
  utilisation: number;
  /** Share of the pool's capacity spent running tasks since start (piscina's measure). */
  utilisationSinceStart: number;
  completed: number;
  failed: number;
  timedOut: number;
  rejected: number;
  evicted: number;
  queueTimeouts: number;
  cancelled: number;
  threadRestarts: number;
  avgRunMs: number;
  avgWaitMs: number;
}

/** What piscina passes to its workerCreate/workerDestroy listeners (the part we read). */
interface PiscinaWorkerView {
  readonly destroyed: boolean;
}

interface QueuedJob {
  job: SynthJob;
  priority: Priority;
  options: RunOptions;
  enqueuedAt: number;
  resolve: (result: SynthRunResult) => void;
  reject: (err: Error) => void;
  /** Detaches the queue-wait timer and the abort listener. */
  detach: () => void;
}

/**
 * Running from the TypeScript sources (vitest, tsx) the worker is loaded through a small
 * .mjs that registers tsx in the thread; a bundle (dist/server.js) has dist/synth.worker.js
 * next to it.
 */
export function defaultWorkerFile(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('./synth.worker.dev.mjs', here) : new URL('./synth.worker.js', here);
}

/**
 * A piscina pool with a priority queue in front of it. Piscina's own queue is FIFO, so
 * jobs are handed to piscina only when a thread is free; until then they wait here, where
 * the order (priority, then arrival), the bound, eviction and cancellation are ours.
 */
export class SynthPool {
  readonly threads: number;
  readonly maxQueue: number;
  readonly taskTimeoutMs: number;
  readonly maxQueueWaitMs: number;
  private readonly piscina: Piscina<SynthTask, SynthTaskResult>;
  private readonly queue = new PriorityQueue<Priority, QueuedJob>(PRIORITIES);
  private readonly logger: Logger | undefined;
  private running = 0;
  private closed = false;
  /**
   * Threads that have loaded their engine. A replacement thread joins only once ready,
   * so a job is never handed to piscina just to wait for a thread to start while its
   * timeout runs: it waits in our queue instead.
   */
  private readonly readyWorkers = new Set<PiscinaWorkerView>();
  private readonly counters = {
    completed: 0,
    failed: 0,
    timedOut: 0,
    rejected: 0,
    evicted: 0,
    queueTimeouts: 0,
    cancelled: 0,
    threadRestarts: 0,
  };
  private readonly recentRunMs: number[] = [];
  private readonly recentWaitMs: number[] = [];

  constructor(options: SynthPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError('threads must be >= 1');
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) throw new RangeError('maxQueue must be >= 0');
    this.threads = options.threads;
    this.maxQueue = options.maxQueue;
    this.taskTimeoutMs = options.taskTimeoutMs;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? options.taskTimeoutMs;
    this.logger = options.logger;
    const file = options.workerFile ?? defaultWorkerFile();
    const workerData: WorkerOptions = { faultInjection: options.faultInjection === true };
    this.piscina = new Piscina<SynthTask, SynthTaskResult>({
      filename: file instanceof URL ? fileURLToPath(file) : file,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      workerData,
      // A runaway thread dies (and is replaced) instead of growing without bound; the
      // WASM memory of the engine is outside this limit.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    // Without a listener, an 'error' event (a worker failing outside a task) would
    // throw and take the process down.
    this.piscina.on('error', (err: unknown) => this.logger?.error('pool error', errorFields(err)));
    // Piscina hands out a fresh view object per event, so a destroyed worker is found by
    // its live `destroyed` flag rather than by identity.
    this.piscina.on('workerCreate', (worker: PiscinaWorkerView) => {
      this.readyWorkers.add(worker);
      this.dispatch();
    });
    this.piscina.on('workerDestroy', () => {
      this.pruneDestroyedWorkers();
      if (!this.closed) {
        this.counters.threadRestarts++;
        this.logger?.warn('worker thread destroyed; piscina starts a replacement');
      }
    });
  }

  /** Resolves once every thread has loaded its engine and run a first synthesis. */
  async ready(): Promise<void> {
    const job: SynthTask = { chunks: ['Ready.'], voice: 'en-us', rate: 175, format: 'mp3' };
    await Promise.all(Array.from({ length: this.threads }, () => this.piscina.run(job)));
  }

  run(job: SynthJob, options: RunOptions = {}): Promise<SynthRunResult> {
    const priority = options.priority ?? 'free';
    if (!PRIORITIES.includes(priority)) return Promise.reject(new RangeError(`unknown priority "${priority}"`));
    if (this.closed) return Promise.reject(new PoolClosedError('the synthesis pool is shutting down'));
    if (options.signal?.aborted) return Promise.reject(new JobCancelledError('cancelled before queueing'));

    return new Promise<SynthRunResult>((resolve, reject) => {
      const entry: QueuedJob = {
        job,
        priority,
        options,
        enqueuedAt: performance.now(),
        resolve,
        reject,
        detach: () => {},
      };

      this.pruneDestroyedWorkers();
      if (this.running < this.readyWorkers.size && this.queue.size === 0) {
        this.start(entry);
        return;
      }

      if (this.queue.size >= this.maxQueue) {
        const victim = this.queue.evictBelow(priority);
        if (!victim) {
          this.counters.rejected++;
          reject(new QueueFullError(`synthesis queue is full (${this.maxQueue} waiting)`, this.retryAfterSeconds()));
          return;
        }
        this.counters.evicted++;
        victim.item.detach();
        victim.item.reject(new QueueFullError(`pushed out of a full queue by a ${priority} job`, this.retryAfterSeconds()));
      }

      const waitTimer = setTimeout(() => {
        if (!this.queue.remove(entry)) return;
        entry.detach();
        this.counters.queueTimeouts++;
        reject(new QueueTimeoutError(`no thread became free within ${this.maxQueueWaitMs} ms`, this.retryAfterSeconds()));
      }, this.maxQueueWaitMs);
      const onAbort = () => {
        if (!this.queue.remove(entry)) return;
        entry.detach();
        this.counters.cancelled++;
        reject(new JobCancelledError('cancelled while queued'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      entry.detach = () => {
        clearTimeout(waitTimer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      this.queue.push(priority, entry);
      this.dispatch();
    });
  }

  stats(): PoolStats {
    return {
      poolSize: this.threads,
      threadsAlive: this.piscina.threads.length,
      threadsReady: [...this.readyWorkers].filter((worker) => !worker.destroyed).length,
      busy: this.running,
      queueDepth: this.queue.size,
      queueByPriority: this.queue.depths(),
      maxQueue: this.maxQueue,
      utilisation: round(this.running / this.threads, 3),
      utilisationSinceStart: round(this.piscina.utilization, 3),
      ...this.counters,
      avgRunMs: round(average(this.recentRunMs), 1),
      avgWaitMs: round(average(this.recentWaitMs), 1),
    };
  }

  /** Suggested wait before retrying when the queue is full: the time to work through it. */
  retryAfterSeconds(): number {
    const perJobMs = average(this.recentRunMs) || 1000;
    const seconds = Math.ceil(((this.queue.size / this.threads + 1) * perJobMs) / 1000);
    return Math.min(60, Math.max(1, seconds));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Refuses new jobs, fails the queued ones, lets running ones finish, stops the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.queue.drain()) {
      entry.detach();
      entry.reject(new PoolClosedError('the synthesis pool is shutting down'));
    }
    await this.piscina.close();
  }

  /** Stops at once, failing whatever is running (tests). */
  async destroy(): Promise<void> {
    this.closed = true;
    for (const entry of this.queue.drain()) {
      entry.detach();
      entry.reject(new PoolClosedError('the synthesis pool was destroyed'));
    }
    await this.piscina.destroy();
  }

  private pruneDestroyedWorkers(): void {
    for (const worker of this.readyWorkers) if (worker.destroyed) this.readyWorkers.delete(worker);
  }

  private dispatch(): void {
    this.pruneDestroyedWorkers();
    while (this.running < this.readyWorkers.size && this.queue.size > 0) {
      const next = this.queue.shift();
      if (next) this.start(next.item);
    }
  }

  private start(entry: QueuedJob): void {
    entry.detach();
    this.running++;
    const startedAt = performance.now();
    const waitMs = startedAt - entry.enqueuedAt;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.taskTimeoutMs);

    const task: SynthTask = { ...entry.job };
    const { onData } = entry.options;
    let channel: MessageChannel | undefined;
    let streamEnded: Promise<void> = Promise.resolve();
    if (onData) {
      channel = new MessageChannel();
      task.port = channel.port2;
      const port = channel.port1;
      // Bytes and the end marker travel on their own channel, which is not ordered with
      // piscina's result message: the job is done when both have arrived.
      streamEnded = new Promise<void>((resolveEnd) => {
        port.on('message', (message: StreamMessage) => {
          if (message.type !== 'data') return resolveEnd();
          try {
            onData(message.bytes);
          } catch (err) {
            this.logger?.error('stream consumer failed', errorFields(err));
          }
        });
        port.once('close', () => resolveEnd());
      });
    }

    // Bookkeeping happens before the caller hears back, so stats and the next dispatch
    // already see this thread as free.
    const settle = () => {
      clearTimeout(timer);
      channel?.port1.close();
      this.running--;
      this.dispatch();
    };
    this.piscina.run(task, { signal: timeout.signal, ...(channel ? { transferList: [channel.port2] } : {}) }).then(
      async (result) => {
        await streamEnded;
        const runMs = performance.now() - startedAt;
        this.counters.completed++;
        remember(this.recentRunMs, runMs);
        remember(this.recentWaitMs, waitMs);
        settle();
        entry.resolve({ ...result, priority: entry.priority, waitMs, runMs });
      },
      (err: unknown) => {
        this.counters.failed++;
        settle();
        if (timeout.signal.aborted) {
          this.counters.timedOut++;
          this.logger?.warn('synthesis timed out; thread destroyed', { timeoutMs: this.taskTimeoutMs });
          entry.reject(new TaskTimeoutError(`synthesis did not finish within ${this.taskTimeoutMs} ms`));
        } else {
          this.logger?.warn('synthesis failed', errorFields(err));
          const message = err instanceof Error ? err.message : String(err);
          entry.reject(new TaskFailedError(`synthesis failed: ${message}`));
        }
      },
    );
  }
}

const WINDOW = 50;

function remember(window: number[], value: number): void {
  window.push(value);
  if (window.length > WINDOW) window.shift();
}

function average(values: readonly number[]): number {
  return values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : 0;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
