// npx tsx bench/provider-fetch.bench.ts — CPU per streamed completion with the openai
// SDK's default fetch (Node's undici) and with nodeFetch (src/chat/providers/node-fetch.ts).
//
// The fake provider (bench/chat/fake-provider.ts) runs in its own process so that only
// the client's CPU is counted here (process.cpuUsage, user + system). Two paths: the bare
// SDK (`chat.completions.create` + iterate the chunks) and our OpenAI provider, which is
// what the server runs per chat (it adds an AbortController and an idle timer per
// attempt). Each combination runs BENCH_ROUNDS times, interleaved so that JIT warm-up
// and machine noise hit both fetches alike; the median round is printed.
//
// BENCH_REQUESTS (per round, default 3000), BENCH_LEVELS (default "1,20"), BENCH_ROUNDS (default 3).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { createNodeFetch, type FetchFunction } from '../src/chat/providers/node-fetch.ts';
import { createOpenAIProvider } from '../src/chat/providers/openai.ts';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,20').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = 300;

function startProvider(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/chat/fake-provider.ts'], {
    cwd: serverDir,
    env: { ...process.env, BENCH_PROVIDER_LATENCY_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fake provider exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = (JSON.parse(line) as { port?: number }).port;
      if (port) resolve({ child, port });
    });
  });
}

type Call = () => Promise<number>;

function sdkCall(baseURL: string, fetch: FetchFunction): Call {
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL, maxRetries: 0, timeout: 30_000, fetch });
  return async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say something short.' }],
      max_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
    });
    let chars = 0;
    for await (const chunk of stream) chars += chunk.choices[0]?.delta.content?.length ?? 0;
    return chars;
  };
}

function providerCall(baseUrl: string, fetch: FetchFunction): Call {
  const provider = createOpenAIProvider({ apiKey: 'sk-bench', baseUrl, timeoutMs: 30_000, maxRetries: 0, fetch });
  let n = 0;
  return async () => {
    let chars = 0;
    const events = provider.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say something short.' }],
      maxTokens: 64,
      signal: new AbortController().signal,
      requestId: `bench-${++n}`,
    });
    for await (const event of events) if (event.type === 'delta') chars += event.text.length;
    return chars;
  };
}

async function run(call: Call, concurrency: number, total: number) {
  let next = 0;
  let chars = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const got = await call(); // not `chars += await call()`: that reads `chars` before the await
        chars += got;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (chars !== total * 'A short benchmark answer with a few words.'.length) throw new Error(`unexpected reply length ${chars}`);
  return { cpuMsPerCall: (cpu.user + cpu.system) / 1000 / total, reqPerSec: (total * 1000) / wallMs };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const { child, port } = await startProvider();
try {
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  const fetches: Record<string, FetchFunction> = { 'undici (default)': globalThis.fetch, nodeFetch: createNodeFetch() };
  const paths: Record<string, (baseUrl: string, fetch: FetchFunction) => Call> = { SDK: sdkCall, provider: providerCall };
  console.log(`node ${process.version}, ${REQUESTS} streamed completions per round, median of ${ROUNDS} rounds\n`);
  console.log('path      fetch              conc  CPU ms/call   req/s');
  for (const [pathName, makeCall] of Object.entries(paths)) {
    for (const concurrency of LEVELS) {
      const calls = Object.fromEntries(Object.entries(fetches).map(([name, fetch]) => [name, makeCall(baseUrl, fetch)]));
      const results: Record<string, { cpu: number[]; rps: number[] }> = {};
      for (const [name, call] of Object.entries(calls)) {
        await run(call, concurrency, WARMUP);
        results[name] = { cpu: [], rps: [] };
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, call] of Object.entries(calls)) {
          const r = await run(call, concurrency, REQUESTS);
          results[name]!.cpu.push(r.cpuMsPerCall);
          results[name]!.rps.push(r.reqPerSec);
        }
      }
      for (const [name, r] of Object.entries(results)) {
        console.log(
          `${pathName.padEnd(9)} ${name.padEnd(18)} ${String(concurrency).padStart(4)}  ${median(r.cpu).toFixed(3).padStart(11)}  ${median(r.rps).toFixed(0).padStart(6)}`,
        );
      }
    }
  }
} finally {
  child.kill('SIGTERM');
}
