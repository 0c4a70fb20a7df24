/**
 * Benchmark of the TTS worker, run with `npm run bench -w @chatmeter/tts-worker`.
 *
 * Measures, in one run on this machine: real-time factor per thread, characters per
 * second with 1 and 2 threads, time to first audio for a 200-character reply (streamed
 * over HTTP), and behaviour at 4x overload. Ratios matter more than absolute times:
 * every machine of the project has 2 cores.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { createApp } from '../src/app.ts';
import { EspeakEngine } from '../src/engines/espeak.ts';
import { createLogger } from '../src/logger.ts';
import { SynthPool, type SynthJob } from '../src/pool.ts';
import { prepareForSpeech } from '@chatmeter/shared/speech-text';

const logger = createLogger('silent');
const engine = new EspeakEngine();

const SENTENCES = [
  'Sure, here is a short summary of what changed in your account this month.',
  'The Pro plan costs $4.50 per month and includes 100,000 tokens of chat.',
  'You can cancel at any time from the billing page, and nothing else changes.',
  'Unused tokens roll over for one month, then they expire on the 1st.',
  'If you need more, a token pack adds 50,000 tokens for $2.00 without a subscription.',
  'Voice replies are counted by characters, so a long answer costs a little more to read aloud.',
  'Most people stay well inside the free tier, which resets every day at midnight UTC.',
  'Let me know if you would like a breakdown by conversation or by model.',
];

/** A reply of about `chars` characters made of the sentences above, starting at `offset`. */
function reply(chars: number, offset = 0): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = offset; length < chars; i++) {
    const sentence = SENTENCES[i % SENTENCES.length] as string;
    parts.push(sentence);
    length += sentence.length + 1;
  }
  return parts.join(' ');
}

function jobFor(text: string): SynthJob {
  return { chunks: prepareForSpeech(text, { language: 'en' }), voice: 'en-us', rate: 175, format: 'mp3' };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? 0;
}

const fmt = (value: number, digits = 1) => value.toFixed(digits);

/** Busy and total jiffies of the whole machine (Linux /proc/stat), to see competing load. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function machineCoresBusy(before: ReturnType<typeof machineCpu>, after: ReturnType<typeof machineCpu>): number | undefined {
  if (!before || !after || after.total === before.total) return undefined;
  return ((after.busy - before.busy) / (after.total - before.total)) * os.availableParallelism();
}
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

async function warmPool(threads: number, maxQueue: number): Promise<SynthPool> {
  const pool = new SynthPool({ threads, maxQueue, taskTimeoutMs: 60_000, logger });
  await pool.ready();
  // A few jobs per thread so every thread is past its JIT warm-up.
  await Promise.all(Array.from({ length: threads * 4 }, (_, i) => pool.run(jobFor(reply(300, i)))));
  return pool;
}

async function withPool<T>(threads: number, maxQueue: number, fn: (pool: SynthPool) => Promise<T>): Promise<T> {
  const pool = await warmPool(threads, maxQueue);
  try {
    return await fn(pool);
  } finally {
    await pool.destroy();
  }
}

async function startServer(pool: SynthPool): Promise<{ url: string; close: () => Promise<void> }> {
  const app = createApp({ config: { secret: undefined, maxTextChars: 5000 }, pool, engine, logger });
  const server = http.createServer(app);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

/** POSTs a JSON body; resolves with the status, time to the first body byte, and total time. */
function request(url: string, body: unknown): Promise<{ status: number; firstByteMs: number; totalMs: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByteMs = -1;
    let bytes = 0;
    const req = http.request(`${url}/synthesize`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      res.on('data', (part: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - started;
        bytes += part.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, firstByteMs, totalMs: performance.now() - started, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

interface Row {
  metric: string;
  value: string;
  goal: string;
  verdict: string;
}
const rows: Row[] = [];
function record(metric: string, value: string, goal = '', pass?: boolean): void {
  rows.push({ metric, value, goal, verdict: pass === undefined ? '' : pass ? 'PASS' : 'MISS' });
  console.log(`  ${metric}: ${value}${goal ? `  (goal ${goal})` : ''}`);
}

/**
 * Wall time for `threads` threads each running the same fixed arithmetic loop: how well
 * this machine runs two CPU-bound threads at once right now, as a yardstick for [2].
 */
async function arithmeticWallMs(threads: number): Promise<number> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    let x = 0;
    for (let i = 0; i < 400_000_000; i++) x = (x + i * 7) | 0;
    parentPort.postMessage(x);`;
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(code, { eval: true });
          worker.once('message', () => void worker.terminate().then(() => resolve()));
          worker.once('error', reject);
        }),
    ),
  );
  return performance.now() - started;
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const runs = (section: string) => only === undefined || only === section;

async function machineCheck(): Promise<void> {
  console.log('\n[0] machine check: the same arithmetic loop on 1 and on 2 threads at once');
  const ratios: number[] = [];
  for (let round = 0; round < 3; round++) {
    const one = await arithmeticWallMs(1);
    const two = await arithmeticWallMs(2);
    ratios.push((2 * one) / two);
  }
  record('plain arithmetic, 2 threads / 1 thread (median of 3)', `${fmt(percentile(ratios, 50), 2)}x (2.00x = two full cores)`);
}

/** [1] Real-time factor of one thread, jobs one after the other. */
async function realTimeFactor(): Promise<void> {
  console.log('\n[1] real-time factor, 1 thread, 30 sequential replies of ~400 characters');
  await withPool(1, 64, async (pool) => {
    let audio = 0;
    let synth = 0;
    let encode = 0;
    let run = 0;
    for (let i = 0; i < 30; i++) {
      const result = await pool.run(jobFor(reply(400, i)));
      audio += result.durationMs;
      synth += result.synthesisMs;
      encode += result.encodeMs;
      run += result.runMs;
    }
    record('RTF engine only (synthesis / audio)', fmt(synth / audio, 4));
    record('RTF engine + MP3 encode', fmt((synth + encode) / audio, 4));
    record('RTF per thread, whole task (task time / audio)', fmt(run / audio, 4), '<= 0.05', run / audio <= 0.05);
    record('audio produced', `${fmt(audio / 1000)} s in ${fmt(run / 1000, 2)} s of thread time`);
  });
}

/**
 * [2] Throughput with 1 and 2 threads: the same 40 jobs submitted at once. Rounds
 * alternate between the two pools so that other load on the machine hits both alike.
 * Returns the best characters/s of each.
 */
async function throughputScaling(): Promise<Record<1 | 2, number>> {
  console.log('\n[2] throughput, 40 replies of ~600 characters submitted at once, 3 alternating rounds');
  const texts = Array.from({ length: 40 }, (_, i) => reply(600, i));
  const totalChars = texts.reduce((sum, text) => sum + text.length, 0);
  const single = await warmPool(1, 64);
  const double = await warmPool(2, 64);
  const best: Record<1 | 2, number> = { 1: 0, 2: 0 };
  const ratios: number[] = [];
  // Besides chars/s, each measurement reports how many threads were busy on average
  // (is the pool keeping every thread fed?), how many cores this process got, and how
  // many the rest of the machine used meanwhile (is someone else competing?).
  const measure = async (pool: SynthPool) => {
    const busy: number[] = [];
    const sampler = setInterval(() => busy.push(pool.stats().busy), 10);
    const cpuBefore = process.cpuUsage();
    const machineBefore = machineCpu();
    const started = performance.now();
    await Promise.all(texts.map((text) => pool.run(jobFor(text))));
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpuBefore);
    const ownCores = (cpu.user + cpu.system) / 1000 / wallMs;
    const machineCores = machineCoresBusy(machineBefore, machineCpu());
    return {
      charsPerSecond: totalChars / (wallMs / 1000),
      avgBusy: busy.reduce((sum, value) => sum + value, 0) / Math.max(1, busy.length),
      ownCores,
      otherCores: machineCores === undefined ? undefined : Math.max(0, machineCores - ownCores),
    };
  };
  const describe = (m: Awaited<ReturnType<typeof measure>>) =>
    `${fmt(m.charsPerSecond, 0)} chars/s (threads busy ${fmt(m.avgBusy, 2)}, cores used ${fmt(m.ownCores, 2)}` +
    `${m.otherCores === undefined ? '' : `, other processes ${fmt(m.otherCores, 2)}`})`;
  try {
    for (let round = 0; round < 3; round++) {
      const one = await measure(single);
      const two = await measure(double);
      best[1] = Math.max(best[1], one.charsPerSecond);
      best[2] = Math.max(best[2], two.charsPerSecond);
      ratios.push(two.charsPerSecond / one.charsPerSecond);
      console.log(`  round ${round + 1}: 1 thread  ${describe(one)}`);
      console.log(`           2 threads ${describe(two)}: ${fmt(two.charsPerSecond / one.charsPerSecond, 2)}x`);
    }
  } finally {
    await Promise.all([single.destroy(), double.destroy()]);
  }
  record('characters/s with 1 thread (best round)', fmt(best[1], 0));
  record('characters/s with 2 threads (best round)', fmt(best[2], 0));
  const scaling = percentile(ratios, 50);
  record('speed-up 2 threads / 1 thread (median of rounds)', `${fmt(scaling, 2)}x`, '>= 1.8x', scaling >= 1.8);
  return best;
}

/** [3] Time to first audio for a 200-character reply, streamed over HTTP, idle server. */
async function firstAudio(): Promise<void> {
  console.log('\n[3] time to first audio, 200-character reply, HTTP streaming, 2 threads, 60 requests');
  const short = reply(200);
  await withPool(2, 64, async (pool) => {
    const server = await startServer(pool);
    try {
      const first: number[] = [];
      const whole: number[] = [];
      for (let i = 0; i < 60; i++) {
        const streamed = await request(server.url, { text: short, voice: 'en-us', stream: true });
        if (streamed.status !== 200) throw new Error(`status ${streamed.status}`);
        first.push(streamed.firstByteMs);
        const buffered = await request(server.url, { text: short, voice: 'en-us' });
        whole.push(buffered.totalMs);
      }
      const firstChunk = jobFor(short).chunks[0] ?? '';
      record('reply / first chunk', `${short.length} / ${firstChunk.length} characters`);
      record('first audio p50 (stream)', `${fmt(percentile(first, 50))} ms`);
      const p95 = percentile(first, 95);
      record('first audio p95 (stream)', `${fmt(p95)} ms`, '<= 300 ms', p95 <= 300);
      record('whole file p50 / p95 (no stream)', `${fmt(percentile(whole, 50))} / ${fmt(percentile(whole, 95))} ms`);
    } finally {
      await server.close();
    }
  });
}

/** [4] Requests arrive at four times the measured 2-thread throughput for 5 s. */
async function overload(charsPerSecond: number): Promise<void> {
  console.log('\n[4] overload: 4x the 2-thread throughput for 5 s, default queue of 32');
  await withPool(2, 32, async (pool) => {
    const server = await startServer(pool);
    try {
      const text = reply(400, 3);
      const capacityPerSecond = charsPerSecond / text.length;
      const rate = capacityPerSecond * 4;
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 50);
      const pending: Array<Promise<{ status: number; totalMs: number }>> = [];
      const started = performance.now();
      // Open loop: send on schedule whatever the answers, as real traffic does.
      for (let sent = 0; ; sent++) {
        const due = started + (sent / rate) * 1000;
        if (due - started > 5000) break;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        pending.push(request(server.url, { text, voice: 'en-us', priority: sent % 3 === 0 ? 'paid' : 'free' }));
      }
      const results = await Promise.all(pending);
      clearInterval(sampler);
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
      const rssAfter = process.memoryUsage().rss;
      const ok = results.filter((r) => r.status === 200).map((r) => r.totalMs);
      const refused = results.filter((r) => r.status === 503).map((r) => r.totalMs);
      const other = results.length - ok.length - refused.length;
      record('offered load', `${fmt(rate, 1)} req/s (capacity ~${fmt(capacityPerSecond, 1)} req/s), ${results.length} requests`);
      record('answered 200 / 503 tts_busy / other', `${ok.length} / ${refused.length} / ${other}`, 'no other', other === 0);
      record('latency of 200s p50 / p95', `${fmt(percentile(ok, 50), 0)} / ${fmt(percentile(ok, 95), 0)} ms`);
      record(
        '503s: refused at once / pushed out by paid',
        `${String(health.rejected)} / ${String(health.evicted)}; p50 ${fmt(percentile(refused, 50), 1)} ms, p95 ${fmt(percentile(refused, 95), 0)} ms (pushed-out ones had waited)`,
      );
      record(
        'process after overload',
        `healthz ok=${String(health.ok)}, queue ${String(health.queueDepth)}, restarts ${String(health.threadRestarts)}`,
        'alive',
        health.ok === true,
      );
      record('RSS before / peak / after', `${mb(rssBefore)} / ${mb(rssPeak)} / ${mb(rssAfter)}`);
    } finally {
      await server.close();
    }
  });
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = () =>
    os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  console.log(`tts-worker benchmark: ${engine.id}@${engine.version}, Node ${process.version}, ${os.availableParallelism()} cores (${cpu})`);
  console.log(`load average before: ${load()} (anything else running on the machine skews these figures)`);

  if (runs('machine')) await machineCheck();
  if (runs('rtf')) await realTimeFactor();
  let best: Record<1 | 2, number> | undefined;
  if (runs('throughput') || runs('overload')) best = await throughputScaling();
  if (runs('first-audio')) await firstAudio();
  if (runs('overload') && best) await overload(best[2]);

  agent.destroy();
  console.log(`\nload average after: ${load()}`);
  console.log('\n| metric | measured | goal | |');
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) console.log(`| ${row.metric} | ${row.value} | ${row.goal} | ${row.verdict} |`);
}

await main();
