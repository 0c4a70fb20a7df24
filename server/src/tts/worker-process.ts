// `npm start` without TTS_WORKER_URL: the server runs the TTS worker
// (tts-worker/dist/server.js) as a child process on a loopback port it picks
// itself, with a generated secret, restarts it with a capped backoff when it dies
// and stops it on shutdown. A child that loses its parent (the server killed hard)
// stops too: it gets an IPC channel, and a one-line preload turns the channel's
// disconnect into SIGTERM, which the worker answers with its graceful shutdown.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/logger.ts';
import type { TtsWorkerTarget } from './tts-client.ts';

const PARENT_WATCHDOG = 'data:text/javascript,process.on("disconnect",()=>process.kill(process.pid,"SIGTERM"))';

/** Variables the child may see besides TTS_*: not the server's secrets (database, Stripe, OpenAI). */
const PASSED_ENV = new Set(['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'LC_ALL', 'TZ', 'NODE_ENV', 'NODE_EXTRA_CA_CERTS']);
/** Set by the supervisor, whatever the parent's environment says. */
const OWNED_ENV = new Set(['TTS_WORKER_URL', 'TTS_WORKER_SECRET', 'TTS_WORKER_PORT', 'TTS_WORKER_HOST']);
/** The server's own TTS_* settings of the other engine; TTS_API_KEY is a secret the worker never needs. */
const SERVER_ONLY_ENV = new Set(['TTS_ENGINE', 'TTS_BASE_URL', 'TTS_API_KEY', 'TTS_MODEL', 'TTS_VOICES']);

const WORKER_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type WorkerLevel = (typeof WORKER_LEVELS)[number];

/**
 * `<repo>/tts-worker/dist/server.js`. This module sits at different depths in
 * server/src/tts (tsx) and in the server/dist bundle, so look upwards for the package.
 */
export function defaultWorkerScript(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'tts-worker', 'package.json'))) return path.join(dir, 'tts-worker', 'dist', 'server.js');
  }
  return path.resolve(from, '..', '..', 'tts-worker', 'dist', 'server.js');
}

export interface TtsWorkerProcessOptions {
  script: string;
  /** The environment the child's TTS_* settings (TTS_THREADS, TTS_MAX_QUEUE...) are taken from. */
  parentEnv: Readonly<Record<string, string | undefined>>;
  /** Shared secret; generated when not given. */
  secret?: string | undefined;
  /** First restart delay; doubles up to maxBackoffMs, and resets once a child has run for stableAfterMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  stableAfterMs?: number;
  /** How long stop() waits for a graceful exit before SIGKILL. */
  stopTimeoutMs?: number;
}

export class TtsWorkerProcess {
  readonly secret: string;
  private child: ChildProcess | undefined;
  private url: string | undefined;
  private logger: Logger | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private startedAt = 0;
  private readyWaiters: Array<() => void> = [];
  /** The lowest worker log level passed on to the server's log. */
  private forwardFrom: WorkerLevel | 'silent' = 'info';
  /** Children started so far (the first start included). */
  starts = 0;

  constructor(private readonly options: TtsWorkerProcessOptions) {
    this.secret = options.secret ?? randomBytes(24).toString('base64url');
  }

  /** Where the worker listens right now; undefined while it is (re)starting. */
  target(): TtsWorkerTarget | undefined {
    return this.url ? { url: this.url, secret: this.secret } : undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(logger: Logger): this {
    this.logger = logger;
    if (!existsSync(this.options.script)) {
      logger.error({ script: this.options.script }, 'the TTS worker is not built (run `npm run build`); voice answers provider_unavailable until then');
      return this;
    }
    this.spawnChild();
    return this;
  }

  /** Resolves when a worker is listening (or after timeoutMs, with false). */
  ready(timeoutMs = 30_000): Promise<boolean> {
    if (this.url) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.readyWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.url = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timeout = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 8_000);
    await exited;
    clearTimeout(timeout);
  }

  /** The environment the child starts with (read by tests): loopback, our secret, its TTS_* settings, none of the server's secrets. */
  childEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.options.parentEnv)) {
      if (value === undefined) continue;
      if (PASSED_ENV.has(key) || key.startsWith('LC_') || (key.startsWith('TTS_') && !OWNED_ENV.has(key) && !SERVER_ONLY_ENV.has(key))) env[key] = value;
    }
    // The port is read from the worker's "listening" log line, so the worker must log at info or below.
    const level = env.TTS_LOG_LEVEL as WorkerLevel | 'silent' | undefined;
    if (level !== 'debug') env.TTS_LOG_LEVEL = 'info';
    this.forwardFrom = level ?? 'info';
    return { ...env, TTS_WORKER_HOST: '127.0.0.1', TTS_WORKER_PORT: '0', TTS_WORKER_SECRET: this.secret };
  }

  private spawnChild(): void {
    const logger = this.logger!;
    this.starts++;
    this.startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', PARENT_WATCHDOG, this.options.script], {
      cwd: path.dirname(path.dirname(this.options.script)),
      env: this.childEnv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    // Neither the pipes nor the IPC channel should keep the server's event loop alive.
    child.unref();
    child.channel?.unref();

    createInterface({ input: child.stdout! }).on('line', (line) => this.onLogLine(child, line));
    createInterface({ input: child.stderr! }).on('line', (line) => logger.warn({ pid: child.pid }, `tts-worker: ${line}`));
    child.on('error', (error) => logger.error({ err: error.message }, 'could not start the TTS worker'));
    child.on('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        this.url = undefined;
      }
      if (this.stopping) return;
      const ranMs = Date.now() - this.startedAt;
      if (ranMs >= (this.options.stableAfterMs ?? 60_000)) this.failures = 0;
      const delay = Math.min((this.options.initialBackoffMs ?? 500) * 2 ** this.failures, this.options.maxBackoffMs ?? 30_000);
      this.failures++;
      logger.warn({ code, signal, ranMs, restartInMs: delay }, 'the TTS worker exited; restarting it');
      this.restartTimer = setTimeout(() => {
        if (!this.stopping) this.spawnChild();
      }, delay);
      this.restartTimer.unref();
    });
  }

  private onLogLine(child: ChildProcess, line: string): void {
    const logger = this.logger!;
    let entry: { level?: unknown; msg?: unknown; port?: unknown; [key: string]: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      logger.info({ pid: child.pid }, `tts-worker: ${line}`);
      return;
    }
    if (entry.msg === 'listening' && typeof entry.port === 'number' && this.child === child) {
      this.url = `http://127.0.0.1:${entry.port}`;
      logger.info({ url: this.url, pid: child.pid }, 'TTS worker started');
      for (const waiter of this.readyWaiters.splice(0)) waiter();
    }
    let level = WORKER_LEVELS.includes(entry.level as WorkerLevel) ? (entry.level as WorkerLevel) : 'info';
    // The server logs every request already; the worker's own line adds little unless it failed.
    if (entry.msg === 'request' && level === 'info' && !(typeof entry.status === 'number' && entry.status >= 500)) level = 'debug';
    if (this.forwardFrom === 'silent' || WORKER_LEVELS.indexOf(level) < WORKER_LEVELS.indexOf(this.forwardFrom)) return;
    const { time: _time, level: _level, msg, svc: _svc, ...fields } = entry;
    logger[level]({ ...fields, pid: child.pid }, `tts-worker: ${typeof msg === 'string' ? msg : 'log'}`);
  }
}
