import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMp3 } from './audio-inspect.ts';

// Builds with build.mjs into a scratch directory inside the package (so node_modules
// resolves as it does for dist/) and runs the bundle the way `npm start` does.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, '.build-test');
const SECRET = 'build-test-secret-0123456789';

interface Server {
  child: ChildProcess;
  url: string;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function startBuilt(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [path.join(outdir, 'server.js')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.stdout?.on('data', (data: Buffer) => {
      buffered += data.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'listening') resolve({ child, url: `http://127.0.0.1:${entry.port}`, logs, exited });
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

describe('built bundle (node dist/server.js)', () => {
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, ['build.mjs', '--outdir', '.build-test'], { cwd: root });
  });
  afterAll(() => rm(outdir, { recursive: true, force: true }));

  it('serves, finds its worker file, and shuts down gracefully on SIGTERM', async () => {
    const server = await startBuilt({ TTS_WORKER_PORT: '0', TTS_THREADS: '1', TTS_WORKER_SECRET: SECRET });
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, poolSize: 1 });

      const res = await fetch(`${server.url}/synthesize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tts-secret': SECRET },
        body: JSON.stringify({ text: 'Hello from the built worker.', voice: 'en-us' }),
      });
      expect(res.status).toBe(200);
      const decoded = await decodeMp3(new Uint8Array(await res.arrayBuffer()));
      expect(decoded.errors).toBe(0);
      expect(decoded.durationMs).toBeGreaterThan(1000);

      // A long request in flight when SIGTERM arrives still gets its audio.
      const long = fetch(`${server.url}/synthesize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tts-secret': SECRET },
        body: JSON.stringify({ text: 'This sentence is spoken many times over. '.repeat(40), voice: 'en-us' }),
      });
      const deadline = Date.now() + 5000;
      for (;;) {
        const stats = (await (await fetch(`${server.url}/healthz`)).json()) as { busy: number };
        if (stats.busy > 0) break;
        if (Date.now() > deadline) throw new Error('long request never started');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      server.child.kill('SIGTERM');
      const longRes = await long;
      expect(longRes.status).toBe(200);
      expect(Number(longRes.headers.get('x-audio-duration-ms'))).toBeGreaterThan(30_000);
      expect(await server.exited).toBe(0);
      expect(server.logs.map((entry) => entry.msg)).toContain('stopped');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('refuses to start with a bad variable, naming it', async () => {
    const child = spawn(process.execPath, [path.join(outdir, 'server.js')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', TTS_THREADS: 'zero' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/TTS_THREADS/);
  });
});
