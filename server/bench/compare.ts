// npm run bench:compare -- <git ref> — the metered chat benchmark (bench/chat.bench.ts)
// on this checkout's server and on the server of another commit, in alternating runs:
// on these 2-core machines the CPU figures move by ±15 % from one run to the next, so
// two versions compare only run against run, not against a figure from another hour.
//
// The other commit is checked out beside this one (a detached `git worktree` in the
// temporary folder, removed at the end) and built as `npm start` builds it. It runs on
// this checkout's installed packages (node_modules), with its own workspace packages
// (shared, prisma: migrations and SQL functions) and its own generated Prisma client.
// Everything but the server (the fake provider, the bare proxy, the load generator, the
// database server) is this checkout's, in both runs of a round.
//
// Prints each run's "against the floor" row, then per column the mean and the median of
// each side and in how many rounds this checkout was lower. BENCH_COMPARE_ROUNDS (default 5);
// BENCH_LEVELS (default "50"), BENCH_PROVIDER_LATENCY_MS (default "0"), BENCH_REQUESTS
// (default 2000) and BENCH_WARMUP_REQUESTS (default 2000, not measured) go to each run;
// time to first token and workers are left out. Uses TEST_DATABASE_URL's Postgres server
// when set, as the benchmark does.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = path.resolve(serverDir, '..');
const ROUNDS = Number(process.env.BENCH_COMPARE_ROUNDS ?? 5);
const WORKSPACES = ['client', 'prisma', 'server', 'shared', 'tts-worker'];

type Floor = {
  providerLatencyMs: number;
  streams: number;
  serverCpuMs: number;
  postgresCpuMs: number;
  proxyCpuMs: number;
  meteredRps: number;
  serverToProxy: number;
};

const git = (...args: string[]) => execFileSync('git', ['-C', repoDir, ...args], { encoding: 'utf8' }).trim();

/** The other commit beside this checkout, ready to build: returns its folder. */
function checkOut(ref: string, into: string): string {
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  git('worktree', 'add', '--detach', into, commit);
  // This checkout's packages, except the workspace links (relative, so they point into the other checkout).
  const modules = path.join(into, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(path.join(repoDir, 'node_modules'))) {
    const from = path.join(repoDir, 'node_modules', entry);
    if (entry === '@chatmeter') {
      mkdirSync(path.join(modules, entry));
      for (const link of readdirSync(from)) symlinkSync(readlinkSync(path.join(from, link)), path.join(modules, entry, link));
    } else symlinkSync(from, path.join(modules, entry));
  }
  for (const workspace of WORKSPACES) {
    const own = path.join(repoDir, workspace, 'node_modules');
    if (existsSync(own) && existsSync(path.join(into, workspace)) && !existsSync(path.join(into, workspace, 'node_modules')))
      symlinkSync(own, path.join(into, workspace, 'node_modules'));
  }
  const generated = spawnSync('npm', ['run', 'db:generate'], { cwd: into, stdio: 'inherit' });
  if (generated.status !== 0) throw new Error('bench:compare: generating the Prisma client of the other commit failed');
  return commit;
}

function run(label: string, dir: string, resultFile: string): Floor[] {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bench/chat.bench.ts'], {
    cwd: serverDir,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: {
      ...process.env,
      BENCH_SERVER_DIR: dir,
      BENCH_RESULT_FILE: resultFile,
      BENCH_LEVELS: process.env.BENCH_LEVELS ?? '50',
      BENCH_PROVIDER_LATENCY_MS: process.env.BENCH_PROVIDER_LATENCY_MS ?? '0',
      BENCH_REQUESTS: process.env.BENCH_REQUESTS ?? '2000',
      // About what the whole benchmark's earlier levels give the 50-stream level: a server whose code the JIT has optimised.
      BENCH_WARMUP_REQUESTS: process.env.BENCH_WARMUP_REQUESTS ?? '2000',
      BENCH_TTFT_LEVELS: '',
      BENCH_WORKERS: '',
    },
  });
  // The server's warnings at start (no SMTP, /metrics off) are the same in every run: only the rest is shown.
  const shown = result.stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('{"level":40'))
    .join('\n');
  if (shown) console.error(shown);
  if (result.status !== 0) throw new Error(`bench:compare: the benchmark on ${label} failed (exit ${result.status})`);
  return (JSON.parse(readFileSync(resultFile, 'utf8')) as { floors: Floor[] }).floors;
}

const fmt = (v: number) => v.toFixed(2);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function main() {
  const ref = process.argv[2] ?? process.env.BENCH_BASELINE;
  if (!ref) throw new Error('usage: npm run bench:compare -- <git ref> (the commit to compare this checkout with)');
  const work = mkdtempSync(path.join(os.tmpdir(), 'chatmeter-compare-'));
  const other = path.join(work, 'checkout');
  const resultFile = path.join(work, 'result.json');
  try {
    const commit = checkOut(ref, other);
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    const sides = [
      { label: `${ref} (${commit.slice(0, 7)})`, dir: path.join(other, 'server') },
      { label: `this checkout (${head}${dirty ? ' with uncommitted changes' : ''})`, dir: serverDir },
    ];
    console.log(`Alternating runs, ${ROUNDS} rounds: A = ${sides[0]!.label}, B = ${sides[1]!.label}`);
    console.log('round | side | provider ms | streams | metered req/s | proxy CPU ms | server CPU ms per metered chat | postgres CPU ms per metered chat');
    const runs: Array<[Floor[], Floor[]]> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const pair = sides.map((side, i) => {
        const floors = run(side.label, side.dir, resultFile);
        for (const f of floors)
          console.log(
            [round, i === 0 ? 'A' : 'B', f.providerLatencyMs, f.streams, f.meteredRps, fmt(f.proxyCpuMs), fmt(f.serverCpuMs), fmt(f.postgresCpuMs)].join(' | '),
          );
        return floors;
      }) as [Floor[], Floor[]];
      runs.push(pair);
    }
    // The server against the proxy of the same run also evens out how fast the machine was in that run.
    console.log(
      '\nprovider ms | streams | server CPU ms A / B (B lower in) | server / proxy A / B (B lower in) | postgres CPU ms A / B (B lower in) | metered req/s A / B',
    );
    runs[0]![0].forEach((first, row) => {
      const column = (side: 0 | 1, key: keyof Floor) => runs.map((r) => r[side][row]![key]);
      const compare = (key: keyof Floor) => {
        const a = column(0, key);
        const b = column(1, key);
        const lower = a.filter((v, i) => b[i]! < v).length;
        // The median too: one run on a machine that stalled moves the mean of a few rounds.
        return `${fmt(mean(a))} / ${fmt(mean(b))} (${fmt((mean(b) / mean(a) - 1) * 100)} %, ${lower} of ${a.length}; medians ${fmt(median(a))} / ${fmt(median(b))})`;
      };
      console.log(
        [
          first.providerLatencyMs,
          first.streams,
          compare('serverCpuMs'),
          compare('serverToProxy'),
          compare('postgresCpuMs'),
          `${Math.round(mean(column(0, 'meteredRps')))} / ${Math.round(mean(column(1, 'meteredRps')))}`,
        ].join(' | '),
      );
    });
  } finally {
    if (existsSync(other)) {
      // The links first, so that removing the checkout cannot reach into this one's packages.
      for (const entry of [path.join(other, 'node_modules'), ...WORKSPACES.map((w) => path.join(other, w, 'node_modules'))])
        rmSync(entry, { recursive: true, force: true });
      spawnSync('git', ['-C', repoDir, 'worktree', 'remove', '--force', other], { stdio: 'inherit' });
    }
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
