import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMp3 } from '../test/audio-inspect.ts';
import { concatBytes } from './audio.ts';
import { JobCancelledError, PoolClosedError, QueueFullError, QueueTimeoutError, TaskFailedError, TaskTimeoutError } from './errors.ts';
import { SynthPool, type Priority, type SynthJob } from './pool.ts';

const job = (...chunks: string[]): SynthJob => ({ chunks, voice: 'en-us', rate: 175, format: 'mp3' });

describe('SynthPool (real worker threads)', () => {
  // One thread makes the order of work observable; fault injection lets texts throw,
  // hang, crash or sleep inside the worker.
  let pool: SynthPool;
  beforeAll(async () => {
    // The long queue wait lets a job wait out a hung job plus the start of its replacement.
    pool = new SynthPool({ threads: 1, maxQueue: 6, taskTimeoutMs: 3000, maxQueueWaitMs: 20_000, faultInjection: true });
    await pool.ready();
  });
  afterAll(() => pool.destroy());

  it('synthesizes a job into decodable MP3 with its metadata', async () => {
    const result = await pool.run(job('Hello from the pool.', 'This is a second chunk.'));
    expect(result.engine).toMatch(/^espeak-ng@/);
    expect(result.sampleRate).toBe(22_050);
    expect(result.durationMs).toBeGreaterThan(1500);
    expect(result.synthesisMs).toBeGreaterThan(0);
    const decoded = await decodeMp3(result.audio);
    expect(decoded.errors).toBe(0);
    expect(Math.abs(decoded.durationMs - result.durationMs)).toBeLessThan(200);
    expect(pool.stats()).toMatchObject({ poolSize: 1, busy: 0, queueDepth: 0 });
  });

  it('streams bytes before the job completes', async () => {
    const parts: Uint8Array[] = [];
    let resolvedAt = 0;
    let firstDataAt = 0;
    const result = await pool
      .run(job('First sentence arrives early.', 'ttsfaultsleep300 Then a second one.', 'And a third.'), {
        onData: (bytes) => {
          firstDataAt ||= performance.now();
          parts.push(bytes);
        },
      })
      .then((r) => {
        resolvedAt = performance.now();
        return r;
      });
    expect(result.audio.length).toBe(0);
    expect(parts.length).toBeGreaterThan(1);
    // The first chunk was on its way while the worker still slept before the second.
    expect(resolvedAt - firstDataAt).toBeGreaterThanOrEqual(250);
    expect(result.firstAudioMs).toBeLessThan(result.runMs);
    const decoded = await decodeMp3(concatBytes(parts));
    expect(decoded.errors).toBe(0);
    expect(Math.abs(decoded.durationMs - result.durationMs)).toBeLessThan(200);
  });

  it('runs a contended queue paid first, then free, then guest, FIFO within each', async () => {
    const blocker = pool.run(job('ttsfaultsleep500 Hold the only thread.'), { priority: 'guest' });
    const order: string[] = [];
    const submit = (name: string, priority: Priority) =>
      pool.run(job(`${name}.`), { priority }).then(() => {
        order.push(name);
      });
    const queued = [submit('g1', 'guest'), submit('f1', 'free'), submit('p1', 'paid'), submit('g2', 'guest'), submit('p2', 'paid'), submit('f2', 'free')];
    expect(pool.stats().queueByPriority).toEqual({ paid: 2, free: 2, guest: 2 });
    expect(pool.stats().busy).toBe(1);
    await Promise.all([blocker, ...queued]);
    expect(order).toEqual(['p1', 'p2', 'f1', 'f2', 'g1', 'g2']);
  });

  it('a job that throws fails alone; the thread keeps working', async () => {
    const restartsBefore = pool.stats().threadRestarts;
    await expect(pool.run(job('ttsfaultthrow'))).rejects.toThrow(TaskFailedError);
    const after = await pool.run(job('Still here.'));
    expect(after.durationMs).toBeGreaterThan(300);
    expect(pool.stats().threadRestarts).toBe(restartsBefore);
  });

  it('a job that kills its thread fails alone; a new thread takes over', async () => {
    const before = await pool.run(job('Before.'));
    const restartsBefore = pool.stats().threadRestarts;
    await expect(pool.run(job('ttsfaultcrash'))).rejects.toThrow(TaskFailedError);
    const after = await pool.run(job('After the crash.'));
    expect(after.durationMs).toBeGreaterThan(300);
    expect(after.threadId).not.toBe(before.threadId);
    expect(pool.stats().threadRestarts).toBe(restartsBefore + 1);
  });

  it('a hung job times out, its thread is replaced, and the job queued behind it still runs', async () => {
    const before = await pool.run(job('Before.'));
    const started = performance.now();
    const hung = pool.run(job('ttsfaulthang'));
    const behind = pool.run(job('Queued behind the hang.'), { priority: 'paid' });
    await expect(hung).rejects.toThrow(TaskTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(2900);
    const result = await behind;
    expect(result.durationMs).toBeGreaterThan(500);
    expect(result.threadId).not.toBe(before.threadId);
    expect(pool.stats()).toMatchObject({ timedOut: 1, busy: 0, threadsAlive: 1, threadsReady: 1 });
  });

  it('a caller that gives up frees its place in the queue', async () => {
    const blocker = pool.run(job('ttsfaultsleep300 Hold.'));
    const controller = new AbortController();
    const cancelled = pool.run(job('Never mind.'), { signal: controller.signal });
    expect(pool.stats().queueDepth).toBe(1);
    controller.abort();
    await expect(cancelled).rejects.toThrow(JobCancelledError);
    expect(pool.stats().queueDepth).toBe(0);
    await blocker;
  });
});

describe('SynthPool queue bounds', () => {
  let pool: SynthPool;
  beforeAll(async () => {
    pool = new SynthPool({ threads: 1, maxQueue: 1, taskTimeoutMs: 5000, maxQueueWaitMs: 400, faultInjection: true });
    await pool.ready();
  });
  afterAll(() => pool.destroy());

  it('rejects when full, lets paid push out guest, and bounds the wait', async () => {
    const blocker = pool.run(job('ttsfaultsleep1500 Hold the thread.'));
    const guest = pool.run(job('Guest.'), { priority: 'guest' });
    const paid = pool.run(job('Paid.'), { priority: 'paid' });
    // The guest job was pushed out to make room for the paid one.
    await expect(guest).rejects.toThrow(QueueFullError);
    // A free job cannot push out a paid one: the queue is simply full.
    const free = pool.run(job('Free.'), { priority: 'free' });
    const error = await free.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // The paid job waits longer than maxQueueWaitMs behind the 1.5 s blocker.
    await expect(paid).rejects.toThrow(QueueTimeoutError);
    expect(pool.stats()).toMatchObject({ rejected: 1, evicted: 1, queueTimeouts: 1 });
    await blocker;
  });

  it('on close, fails queued jobs, finishes the running one, then refuses work', async () => {
    const running = pool.run(job('ttsfaultsleep300 Finishing.'));
    const queued = pool.run(job('Queued.'));
    const closing = pool.close();
    await expect(queued).rejects.toThrow(PoolClosedError);
    await expect(pool.run(job('Too late.'))).rejects.toThrow(PoolClosedError);
    expect((await running).durationMs).toBeGreaterThan(300);
    await closing;
    expect(pool.isClosed).toBe(true);
  });
});

describe('SynthPool without fault injection', () => {
  it('speaks the fault words instead of obeying them', async () => {
    const pool = new SynthPool({ threads: 1, maxQueue: 1, taskTimeoutMs: 5000 });
    try {
      const result = await pool.run(job('ttsfaultthrow ttsfaultcrash'));
      expect(result.durationMs).toBeGreaterThan(500);
    } finally {
      await pool.destroy();
    }
  });
});
