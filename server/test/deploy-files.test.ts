// The deploy files self-hosters use (compose.yaml, the Dockerfiles, deploy/) checked
// without a Docker engine: no machine of ours runs one. What can be checked here is:
// the compose file against the Compose schema and against .env.example (every variable
// documented, the resolved environment accepted by the server's and the worker's own
// env parsers, the services wired to each other); the Dockerfiles' syntax and every
// file they copy; the HEALTHCHECK script against real HTTP answers; every PromQL
// expression of the alert rules and the dashboard parsed by Prometheus's own grammar,
// with every metric and label checked against the registry GET /metrics serves.
// promtool and `docker compose config` run when they are installed; otherwise those
// tests are skipped and say why.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import dockerignore from '@balena/dockerignore';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { DCLinter } from 'dclint';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { parse as parseDotenv } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ERROR_REASONS } from '@chatmeter/shared/errors';
import { parseEnv as parseWorkerEnv } from '../../tts-worker/src/env.ts';
import { parseEnv as parseServerEnv } from '../src/env.ts';
import { Metrics } from '../src/metrics.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

type Dict = Record<string, unknown>;
const asDict = (v: unknown): Dict => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Dict) : {});

// ---------------------------------------------------------------------------
// Compose: variables and interpolation (the Compose file format's rules)

/**
 * Compose's interpolation of one string: $$ is a literal $, ${VAR}, ${VAR:-default},
 * ${VAR-default}, ${VAR:?error}, ${VAR?error} and $VAR. Anything else with a $ is an
 * error, so a form this test does not understand cannot pass unread.
 */
function interpolate(text: string, vars: Record<string, string | undefined>): string {
  const pattern = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
  const out = text.replace(pattern, (match, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (match === '$$') return '\u0000';
    const name = (braced ?? bare) as string;
    const value = vars[name];
    const missing = op?.startsWith(':') ? value === undefined || value === '' : value === undefined;
    if (op === ':-' || op === '-') return missing ? (arg ?? '') : (value as string);
    if (op === ':?' || op === '?') {
      if (missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return value as string;
    }
    return value ?? '';
  });
  if (out.includes('$')) throw new Error(`unsupported interpolation in ${JSON.stringify(text)}`);
  return out.replaceAll('\u0000', '$');
}

function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  return value;
}

/** Every variable a compose document reads, with whether it is required (`:?`). */
function composeVariables(doc: unknown): Map<string, { required: boolean }> {
  const found = new Map<string, { required: boolean }>();
  mapStrings(doc, (s) => {
    for (const m of s.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const name = (m[1] ?? m[3]) as string;
      const required = m[2] === ':?' || m[2] === '?';
      found.set(name, { required: required || (found.get(name)?.required ?? false) });
    }
    return s;
  });
  return found;
}

/** A service's environment as its container gets it: env_file (.env), then `environment`. */
function containerEnv(service: Dict, dotenv: Record<string, string>): Record<string, string> {
  const files = service.env_file === undefined ? [] : ([] as unknown[]).concat(service.env_file);
  expect(files, 'env_file may only name .env (the file the docs tell users to create)').toEqual(files.length ? ['.env'] : []);
  const env: Record<string, string> = files.length ? { ...dotenv } : {};
  const environment = service.environment;
  if (Array.isArray(environment)) throw new Error('use the mapping form of environment');
  for (const [k, v] of Object.entries(asDict(environment))) env[k] = String(v);
  return env;
}

const composeText = read('compose.yaml');
const composeRaw = parseYaml(composeText) as Dict;
const envExampleText = read('.env.example');
const envExample = parseDotenv(envExampleText);
const variables = composeVariables(composeRaw);
const requiredVariables = [...variables].filter(([, v]) => v.required).map(([k]) => k);

/** .env.example as a user fills it in: every required variable that is empty gets a value. */
function filledEnv(): Record<string, string> {
  const env = { ...envExample };
  for (const name of requiredVariables) if (!env[name]) env[name] = `${name.toLowerCase().replaceAll('_', '')}0123456789abcdef`;
  return env;
}

describe('compose.yaml', () => {
  it('is a valid Compose file with no lint findings (dclint: the Compose JSON schema and its rules)', () => {
    // Only the style rules about key and service order and the optional top-level name are off.
    const linter = new DCLinter({
      rules: {
        'service-keys-order': 0,
        'services-alphabetical-order': 0,
        'require-project-name-field': 0,
        'require-quotes-in-ports': [2, { quoteType: 'double' }],
      },
      quiet: false,
      debug: false,
      exclude: [],
    });
    const findings = (file: string) => linter.lintFiles([file], false).flatMap((r) => r.messages.map((m) => `${m.line}: ${m.rule}: ${m.message}`));
    expect(findings(path.join(root, 'compose.yaml'))).toEqual([]);
    // The linter can say no: an unknown key, a port on every interface, an unquoted port.
    const dir = mkdtempSync(path.join(tmpdir(), 'cm-dclint-'));
    try {
      writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  a:\n    image: x:1\n    restart_policy: always\n    ports:\n      - 3000:3000\n');
      const bad = findings(path.join(dir, 'compose.yaml')).join('\n');
      expect(bad).toMatch(/invalid-schema/);
      writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  a:\n    image: x:1\n    ports:\n      - 3000:3000\n');
      expect(findings(path.join(dir, 'compose.yaml')).join('\n')).toMatch(
        /no-unbound-port-interfaces[\s\S]*require-quotes-in-ports|require-quotes-in-ports[\s\S]*no-unbound-port-interfaces/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the server, the worker, Postgres and Redis, and Prometheus and Grafana only in the monitoring profile', () => {
    const services = asDict(composeRaw.services);
    expect(Object.keys(services).sort()).toEqual(['grafana', 'postgres', 'prometheus', 'redis', 'server', 'tts-worker']);
    for (const name of ['server', 'tts-worker', 'postgres', 'redis']) expect(asDict(services[name]).profiles, name).toBeUndefined();
    for (const name of ['prometheus', 'grafana']) expect(asDict(services[name]).profiles, name).toEqual(['monitoring']);
    expect(asDict(asDict(services.server).build)).toEqual({ context: '.', dockerfile: 'server/Dockerfile' });
    expect(asDict(asDict(services['tts-worker']).build)).toEqual({ context: '.', dockerfile: 'tts-worker/Dockerfile' });
  });

  it('gives every long-running core service a healthcheck and starts the server after a healthy database and Redis', () => {
    const services = asDict(composeRaw.services);
    for (const name of ['server', 'tts-worker', 'postgres', 'redis', 'prometheus']) {
      const test = asDict(asDict(services[name]).healthcheck).test;
      expect(Array.isArray(test) && test[0] === 'CMD', `${name} healthcheck`).toBe(true);
    }
    const dependsOn = asDict(asDict(services.server).depends_on);
    expect(asDict(dependsOn.postgres).condition).toBe('service_healthy');
    expect(asDict(dependsOn.redis).condition).toBe('service_healthy');
    expect(asDict(dependsOn['tts-worker']).condition).toBe('service_started');
    // The image's health check script is the one compose runs.
    for (const name of ['server', 'tts-worker']) {
      const test = asDict(asDict(services[name]).healthcheck).test as string[];
      expect(test.slice(1, 3)).toEqual(['node', 'deploy/docker/healthcheck.mjs']);
    }
  });

  it('keeps state in named volumes that are all declared, and mounts only files that exist', () => {
    const services = asDict(composeRaw.services);
    const declared = new Set(Object.keys(asDict(composeRaw.volumes)));
    const used = new Set<string>();
    for (const [name, service] of Object.entries(services)) {
      for (const volume of (asDict(service).volumes ?? []) as string[]) {
        const [source = ''] = volume.split(':');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(existsSync(path.join(root, source)), `${name}: ${source}`).toBe(true);
        } else {
          expect(declared.has(source), `${name}: volume ${source} is declared`).toBe(true);
          used.add(source);
        }
      }
    }
    expect([...used].sort()).toEqual([...declared].sort());
    for (const name of ['server', 'postgres', 'redis', 'prometheus', 'grafana']) {
      expect(
        ((asDict(services[name]).volumes ?? []) as string[]).some((v) => declared.has(v.split(':')[0] ?? '')),
        `${name} keeps its data in a named volume`,
      ).toBe(true);
    }
  });

  it('publishes only the server and the monitoring UIs, each on 127.0.0.1', () => {
    const services = asDict(mapStrings(composeRaw, (s) => interpolate(s, filledEnv())) as Dict).services as Dict;
    const published = Object.fromEntries(Object.entries(services).map(([name, s]) => [name, (asDict(s).ports ?? []) as string[]]));
    expect(published).toEqual({
      server: [`127.0.0.1:${envExample.CHATMETER_PORT}:3000`],
      'tts-worker': [],
      postgres: [],
      redis: [],
      prometheus: ['127.0.0.1:9090:9090'],
      grafana: ['127.0.0.1:3001:3000'],
    });
  });

  it('reads only variables that .env.example documents, and requires the secrets', () => {
    expect(variables.size).toBeGreaterThan(5);
    const undocumented = [...variables.keys()].filter((name) => !Object.hasOwn(envExample, name));
    expect(undocumented).toEqual([]);
    expect(requiredVariables.sort()).toEqual(
      ['CAPTCHA_HMAC_KEY', 'GRAFANA_ADMIN_PASSWORD', 'IP_HASH_SALT', 'METRICS_TOKEN', 'POSTGRES_PASSWORD', 'TTS_WORKER_SECRET'].sort(),
    );
    // The compose section of .env.example names every required variable.
    const section = envExampleText.slice(envExampleText.indexOf('# --- Docker Compose'));
    for (const name of requiredVariables) expect(section, name).toContain(name);
  });

  it('refuses to resolve while a secret of .env.example is still empty, naming it', () => {
    const empty = requiredVariables.filter((name) => !envExample[name]);
    expect(empty.length).toBeGreaterThan(0);
    for (const name of empty) {
      const env = { ...filledEnv(), [name]: '' };
      expect(() => mapStrings(composeRaw, (s) => interpolate(s, env)), name).toThrow(new RegExp(`required variable ${name} `));
    }
  });

  it("resolves to environments the server's and the worker's own parsers accept, wired to each other", () => {
    const dotenv = filledEnv();
    const services = asDict(mapStrings(composeRaw, (s) => interpolate(s, dotenv)) as Dict).services as Dict;
    const serverEnv = containerEnv(asDict(services.server), dotenv);
    const workerEnv = containerEnv(asDict(services['tts-worker']), dotenv);
    const postgresEnv = containerEnv(asDict(services.postgres), dotenv);

    const server = parseServerEnv(serverEnv, '/app');
    expect(server.NODE_ENV).toBe('production');
    expect(server.HOST).toBe('0.0.0.0');
    expect(server.dataDirAbsolute).toBe('/data');
    expect(server.METRICS_TOKEN).toBe(dotenv.METRICS_TOKEN);
    // .env.example says development; express would then show stack traces.
    expect(workerEnv.NODE_ENV).toBe('production');
    const worker = parseWorkerEnv(workerEnv);
    expect(worker.host).toBe('0.0.0.0');
    expect(worker.secret).toBe(server.TTS_WORKER_SECRET);

    // Every URL points at a service of this file, on the port that service listens on.
    const db = new URL(server.DATABASE_URL ?? '');
    expect([db.hostname, db.port, db.username, decodeURIComponent(db.password), db.pathname]).toEqual([
      'postgres',
      '5432',
      postgresEnv.POSTGRES_USER,
      postgresEnv.POSTGRES_PASSWORD,
      `/${postgresEnv.POSTGRES_DB}`,
    ]);
    const redis = new URL(server.REDIS_URL ?? '');
    expect([redis.hostname, redis.port]).toEqual(['redis', '6379']);
    const tts = new URL(server.TTS_WORKER_URL ?? '');
    expect([tts.hostname, Number(tts.port)]).toEqual(['tts-worker', worker.port]);
    expect(asDict(services['tts-worker']).expose).toEqual([String(worker.port)]);
    expect((asDict(services.server).ports as string[])[0]?.endsWith(`:${server.PORT}`)).toBe(true);
    expect(asDict(asDict(services.server).healthcheck).test).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.mjs', 'PORT', String(server.PORT)]);
    expect(asDict(asDict(services['tts-worker']).healthcheck).test).toEqual([
      'CMD',
      'node',
      'deploy/docker/healthcheck.mjs',
      'TTS_WORKER_PORT',
      String(worker.port),
    ]);
  });

  it('`docker compose config` accepts it, and refuses it without a secret (when a Compose CLI works here)', async (ctx) => {
    const cli = composeCli();
    if ('skip' in cli) return ctx.skip(cli.skip);
    const dir = mkdtempSync(path.join(tmpdir(), 'cm-compose-'));
    try {
      cpSync(path.join(root, 'compose.yaml'), path.join(dir, 'compose.yaml'));
      cpSync(path.join(root, 'deploy'), path.join(dir, 'deploy'), { recursive: true });
      const dotenv = (env: Record<string, string>) =>
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}\n`)
          .join('');
      writeFileSync(path.join(dir, '.env'), dotenv(filledEnv()));
      const ok = await run(cli.cmd, [...cli.args, '-f', 'compose.yaml', 'config', '-q'], { cwd: dir });
      expect(ok.stderr).not.toMatch(/error/i);
      for (const profile of [[], ['--profile', 'monitoring']]) {
        const { stdout } = await run(cli.cmd, [...cli.args, '-f', 'compose.yaml', ...profile, 'config'], { cwd: dir });
        expect(stdout).toContain('postgres://chatmeter:');
      }
      writeFileSync(path.join(dir, '.env'), dotenv({ ...filledEnv(), TTS_WORKER_SECRET: '' }));
      const refused = await run(cli.cmd, [...cli.args, '-f', 'compose.yaml', 'config', '-q'], { cwd: dir }).then(
        () => undefined,
        (error: { stderr?: string }) => error.stderr ?? '',
      );
      expect(refused).toContain('TTS_WORKER_SECRET');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

/** `docker compose` when the docker CLI has the plugin, else `docker-compose` (v1), else why neither. */
function composeCli(): { cmd: string; args: string[] } | { skip: string } {
  const why: string[] = [];
  for (const [cmd, args] of [
    ['docker', ['compose']],
    ['docker-compose', []],
  ] as const) {
    try {
      execFileSync(cmd, [...args, 'version'], { stdio: 'pipe' });
      return { cmd, args: [...args] };
    } catch (error) {
      const e = error as { code?: string; stderr?: Buffer };
      why.push(`${[cmd, ...args].join(' ')}: ${e.code === 'ENOENT' ? 'not installed' : (e.stderr?.toString().trim().split('\n')[0] ?? 'does not work')}`);
    }
  }
  return { skip: `no working Compose CLI (${why.join('; ')})` };
}

// ---------------------------------------------------------------------------
// Dockerfiles

const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
const workspaceNames = new Map(workspaces.map((dir) => [(JSON.parse(read(`${dir}/package.json`)) as { name: string }).name, dir]));
const ignored = dockerignore({ ignorecase: false }).add(read('.dockerignore'));

interface Stage {
  name: string;
  instructions: Instruction[];
}

function stages(file: string): Stage[] {
  const parsed = DockerfileParser.parse(read(file));
  const out: Stage[] = [];
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = parsed.getFROMs().find((f) => f.getRange().start.line === instruction.getRange().start.line);
      out.push({ name: from?.getBuildStage() ?? '', instructions: [] });
    } else out.at(-1)?.instructions.push(instruction);
  }
  return out;
}

const args = (instruction: Instruction) => instruction.getArguments().map((a) => a.getValue());
const flag = (instruction: Instruction, name: string) =>
  (instruction as Instruction & { getFlags?: () => { getName(): string; getValue(): string | null }[] })
    .getFlags?.()
    .find((f) => f.getName() === name)
    ?.getValue();
const jsonArgs = (instruction: Instruction) =>
  (instruction as Instruction & { getJSONStrings(): { getValue(): string }[] }).getJSONStrings().map((s) => JSON.parse(s.getValue()) as string);

describe.each([
  { file: 'server/Dockerfile', workspace: 'server', runtimePackages: ['@chatmeter/server', '@chatmeter/db', '@chatmeter/shared'] },
  { file: 'tts-worker/Dockerfile', workspace: 'tts-worker', runtimePackages: ['@chatmeter/tts-worker', '@chatmeter/shared'] },
])('$file', ({ file, workspace, runtimePackages }) => {
  const all = stages(file);
  const runtime = all.at(-1) as Stage;

  it('has no syntax problems (dockerfile-utils, the VS Code Docker extension linter)', () => {
    expect(validateDockerfile(read(file)).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    // The linter can say no.
    expect(validateDockerfile('FROM node\nHEALTHCHECK --interval=abc CMD x\nEXPOSE port\n').length).toBeGreaterThan(0);
  });

  it('is multi-stage: a build stage, then a runtime stage with production dependencies only', () => {
    expect(all.map((s) => s.name)).toEqual(['build', 'runtime']);
    const runs = runtime.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' '));
    const install = runs.find((r) => r.includes('npm ci'));
    expect(install).toMatch(/--omit=dev/);
    const packages = [...(install ?? '').matchAll(/-w (\S+)/g)].map((m) => m[1]);
    expect(packages).toEqual(runtimePackages);
    for (const name of packages) expect(workspaceNames.has(name as string), name).toBe(true);
  });

  it('copies every workspace manifest before each npm ci (npm ci checks them all against the lockfile)', () => {
    for (const stage of all) {
      const ciAt = stage.instructions.findIndex((i) => i.getKeyword() === 'RUN' && args(i).join(' ').includes('npm ci'));
      expect(ciAt, stage.name).toBeGreaterThan(0);
      const copied = stage.instructions
        .slice(0, ciAt)
        .filter((i) => i.getKeyword() === 'COPY')
        .flatMap((i) => args(i).slice(0, -1));
      expect(copied.sort()).toEqual(['package.json', 'package-lock.json', ...workspaces.map((w) => `${w}/package.json`)].sort());
    }
  });

  it('copies from the build context only files that exist and that .dockerignore lets in', () => {
    for (const stage of all) {
      for (const copy of stage.instructions.filter((i) => i.getKeyword() === 'COPY' && !flag(i, 'from'))) {
        for (const source of args(copy).slice(0, -1)) {
          expect(existsSync(path.join(root, source)), `${stage.name}: COPY ${source}`).toBe(true);
          expect(ignored.ignores(source), `${source} is excluded by .dockerignore`).toBe(false);
          if (statSync(path.join(root, source)).isDirectory()) {
            expect(ignored.ignores(`${source}/package.json`) && existsSync(path.join(root, source, 'package.json')), `${source}/package.json`).toBe(false);
          }
        }
      }
    }
    // What must stay out of the image does.
    for (const p of ['node_modules/x', 'server/node_modules/x', 'server/dist/index.js', '.env', '.git/HEAD', 'prisma/src/generated/client.ts'])
      expect(ignored.ignores(p), p).toBe(true);
    expect(ignored.ignores('.env.example')).toBe(false);
  });

  if (workspace === 'server') {
    it('copies into the runtime every folder of prisma/ that holds SQL the server applies at start', () => {
      const sources = runtime.instructions.filter((i) => i.getKeyword() === 'COPY' && !flag(i, 'from')).flatMap((i) => args(i).slice(0, -1));
      const sqlFolders = readdirSync(path.join(root, 'prisma'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.sql') && !f.split(path.sep).includes('node_modules'))
        .map((f) => path.posix.join('prisma', path.dirname(f).split(path.sep).join('/')));
      expect(sqlFolders.length).toBeGreaterThan(0);
      for (const folder of new Set(sqlFolders)) {
        expect(
          sources.some((s) => folder === s || folder.startsWith(`${s}/`)),
          folder,
        ).toBe(true);
        expect(ignored.ignores(folder), folder).toBe(false);
      }
    });
  }

  it('copies from the build stage only what that stage builds', () => {
    const build = all[0] as Stage;
    const built = build.instructions
      .filter((i) => i.getKeyword() === 'RUN')
      .flatMap((i) =>
        [
          ...args(i)
            .join(' ')
            .matchAll(/npm run build -w (\S+)/g),
        ].map((m) => workspaceNames.get(m[1] as string)),
      );
    const fromBuild = runtime.instructions.filter((i) => i.getKeyword() === 'COPY' && flag(i, 'from'));
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const copy of fromBuild) {
      expect(flag(copy, 'from')).toBe('build');
      const [source = '', target = ''] = args(copy);
      const m = /^\/app\/([^/]+)\/dist$/.exec(source);
      expect(m, source).not.toBeNull();
      expect(built).toContain(m?.[1]);
      expect(target).toBe(`${m?.[1]}/dist`);
    }
  });

  it('runs as a non-root user, with a HEALTHCHECK in node on /healthz and a CMD that the build produces', () => {
    const keyword = (k: string) => runtime.instructions.filter((i) => i.getKeyword() === k);
    const user = keyword('USER').map((i) => args(i).join(' '));
    expect(user).toEqual(['node']);
    const healthcheck = keyword('HEALTHCHECK');
    expect(healthcheck).toHaveLength(1);
    const check = (healthcheck[0] as Instruction).getRawArgumentsContent() ?? '';
    const json = JSON.parse(check.slice(check.indexOf('['))) as string[];
    expect(json.slice(0, 2)).toEqual(['node', 'deploy/docker/healthcheck.mjs']);
    const copiedTargets = keyword('COPY').map((i) => args(i).at(-1));
    expect(copiedTargets).toContain('deploy/docker/healthcheck.mjs');
    const cmd = jsonArgs(keyword('CMD')[0] as Instruction);
    expect(cmd[0]).toBe('node');
    const script = cmd.at(-1) as string;
    const m = new RegExp(`^${workspace}/dist/(.+)\\.js$`).exec(script);
    expect(m, script).not.toBeNull();
    expect(existsSync(path.join(root, workspace, 'src', `${m?.[1]}.ts`)), `${workspace}/src/${m?.[1]}.ts is built into ${script}`).toBe(true);
  });
});

describe('deploy/docker/healthcheck.mjs (the images’ HEALTHCHECK)', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const check = (env: Record<string, string>, argv: string[]) =>
    run(process.execPath, [path.join(root, 'deploy/docker/healthcheck.mjs'), ...argv], { env: { PATH: process.env.PATH ?? '', ...env } }).then(
      () => 0,
      (error: { code?: number }) => error.code ?? -1,
    );

  it('exits 0 on a 200 from /healthz on the port its variable names, 1 on a 503 or no answer', async () => {
    status = 200;
    expect(await check({ PORT: String(port) }, ['PORT', '1'])).toBe(0);
    expect(await check({ TTS_WORKER_PORT: String(port) }, ['TTS_WORKER_PORT', '1'])).toBe(0);
    expect(await check({}, ['TTS_WORKER_PORT', String(port)])).toBe(0);
    status = 503;
    expect(await check({ PORT: String(port) }, ['PORT', '1'])).toBe(1);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await check({ PORT: String(closedPort) }, ['PORT', '1'])).toBe(1);
  }, 120_000);
});

// ---------------------------------------------------------------------------
// Prometheus and Grafana

/** Every series name GET /metrics can serve, with its label names (from the real registry). */
function servedSeries(): Map<string, Set<string>> {
  const metrics = new Metrics({ models: ['gpt-4o-mini'] });
  const series = new Map<string, Set<string>>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    // prom-client keeps each metric's label names on the object (not in its typings).
    const m = metric as typeof metric & { labelNames?: readonly string[] };
    const labels = new Set<string>(m.labelNames ?? []);
    const type = String(m.type);
    if (type === 'histogram') {
      series.set(`${m.name}_bucket`, new Set([...labels, 'le']));
      series.set(`${m.name}_sum`, labels);
      series.set(`${m.name}_count`, labels);
    } else if (type === 'summary') {
      series.set(m.name, new Set([...labels, 'quantile']));
      series.set(`${m.name}_sum`, labels);
      series.set(`${m.name}_count`, labels);
    } else series.set(m.name, labels);
  }
  return series;
}

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

/** Parses with Prometheus's own grammar; throws on a syntax error; returns the vector selectors. */
function selectors(expr: string): Selector[] {
  const tree = promqlParser.parse(expr);
  const errors: number[] = [];
  const found: Selector[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      const matchers: Selector['matchers'] = [];
      for (const m of node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
        const text = (n: { from: number; to: number } | null) => (n ? expr.slice(n.from, n.to) : '');
        matchers.push({
          label: text(m.getChild('LabelName')),
          op: text(m.getChild('MatchOp')),
          value: JSON.parse(text(m.getChild('StringLiteral'))) as string,
        });
      }
      expect(node.node.getChild('LabelMatchers')?.getChildren('QuotedLabelMatcher') ?? [], `quoted matchers in ${expr}`).toEqual([]);
      found.push({ metric: identifier ? expr.slice(identifier.from, identifier.to) : '', matchers });
    },
  });
  if (errors.length) throw new Error(`PromQL syntax error at ${errors[0]} in: ${expr}`);
  return found;
}

const alertsDoc = parseYaml(read('deploy/prometheus/alerts.yml')) as { groups: { name: string; rules: Dict[] }[] };
const rules = alertsDoc.groups.flatMap((g) => g.rules);
const recorded = new Set(rules.filter((r) => typeof r.record === 'string').map((r) => r.record as string));
const dashboard = JSON.parse(read('deploy/grafana/dashboards/chatmeter.json')) as Dict;

function dashboardPanels(panels: unknown): Dict[] {
  return ((panels ?? []) as Dict[]).flatMap((p) => [p, ...dashboardPanels(p.panels)]);
}
const GRAFANA_MACROS: Record<string, string> = { $__rate_interval: '5m', $__interval: '1m', $__range: '1d' };
const dashboardExprs = dashboardPanels(dashboard.panels).flatMap((p) =>
  ((p.targets ?? []) as Dict[]).map((t) => ({ panel: String(p.title), expr: String(t.expr).replace(/\$__\w+/g, (m) => GRAFANA_MACROS[m] ?? m) })),
);
/** Added by Prometheus to every scrape target, not served by /metrics. */
const PROMETHEUS_SERIES = new Map([['up', new Set(['job', 'instance'])]]);
const TARGET_LABELS = ['job', 'instance'];

describe('Prometheus rules and the Grafana dashboard', () => {
  const served = servedSeries();

  it('the registry lists what /metrics serves (sanity check of the reference itself)', async () => {
    expect(served.get('chatmeter_http_request_duration_seconds_bucket')).toEqual(new Set(['method', 'route', 'status_code', 'le']));
    expect(served.get('chatmeter_refusals_total')).toEqual(new Set(['reason', 'procedure']));
    expect(served.has('chatmeter_process_resident_memory_bytes')).toBe(true);
    const text = await new Metrics({ models: ['gpt-4o-mini'] }).registry.metrics();
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE '))) {
      const [, , name = '', type] = line.split(' ');
      expect(served.has(type === 'histogram' ? `${name}_count` : name), name).toBe(true);
    }
  });

  const checkExpr = (where: string, expr: string, constant = false) => {
    const found = selectors(expr);
    if (!constant) expect(found.length, `${where}: selects something`).toBeGreaterThan(0);
    for (const { metric, matchers } of found) {
      const labels = served.get(metric) ?? PROMETHEUS_SERIES.get(metric) ?? (recorded.has(metric) ? new Set<string>() : undefined);
      expect(labels, `${where}: ${metric} is served by /metrics (or recorded by a rule)`).toBeDefined();
      for (const { label, op, value } of matchers) {
        expect([...(labels ?? []), ...TARGET_LABELS], `${where}: ${metric} has label ${label}`).toContain(label);
        if (label === 'reason' && op === '=') expect(Object.keys(ERROR_REASONS), where).toContain(value);
        if (label === 'reason' && op === '=~') for (const r of value.split('|')) expect(Object.keys(ERROR_REASONS), where).toContain(r);
      }
    }
  };

  it('every alert and recording rule parses as PromQL and names only served metrics and labels', () => {
    expect(rules.filter((r) => r.alert).length).toBeGreaterThanOrEqual(8);
    // A recording rule may be a constant (the budget); an alert must look at something.
    for (const rule of rules) checkExpr(String(rule.alert ?? rule.record), String(rule.expr), rule.record !== undefined);
  });

  it('has an alert for each threshold: error rate over 1 %, p95 latency, provider errors, users hitting limits, daily cost over budget', () => {
    const expr = (name: string) => String(rules.find((r) => r.alert === name)?.expr ?? '');
    expect(expr('ChatMeterErrorRateHigh')).toMatch(/> 0\.01\s*$/);
    expect(expr('ChatMeterLatencyP95High')).toMatch(/histogram_quantile\(0\.95,/);
    expect(expr('ChatMeterProviderErrors')).toContain('outcome="error"');
    expect(expr('ChatMeterUsersHittingLimits')).toContain('quota_exhausted');
    expect(expr('ChatMeterDailyCostOverBudget')).toContain('chatmeter:daily_cost_budget_usd');
    for (const rule of rules.filter((r) => r.alert)) {
      expect(['page', 'warn'], String(rule.alert)).toContain(asDict(rule.labels).severity);
      expect(asDict(rule.annotations).summary, String(rule.alert)).toBeTruthy();
    }
  });

  it('every dashboard query parses as PromQL and names only served metrics and labels', () => {
    expect(dashboardExprs.length).toBeGreaterThan(20);
    for (const { panel, expr } of dashboardExprs) {
      expect(expr, `${panel}: unknown Grafana variable`).not.toContain('$');
      checkExpr(`panel "${panel}"`, expr);
    }
  });

  it('the checker says no to an unknown metric, an unknown label, an unknown reason and bad syntax', () => {
    expect(() => checkExpr('t', 'rate(chatmeter_requests_total[5m])')).toThrow(/served by \/metrics/);
    expect(() => checkExpr('t', 'rate(chatmeter_chat_requests_total{status="error"}[5m])')).toThrow(/has label status/);
    expect(() => checkExpr('t', 'rate(chatmeter_refusals_total{reason=~"quota_exceeded|rate_limited"}[5m])')).toThrow();
    expect(() => checkExpr('t', 'sum(rate(chatmeter_chat_requests_total[5m])')).toThrow(/syntax error/);
  });

  it('every panel uses the provisioned datasource, which points at the compose Prometheus', () => {
    const datasources = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Dict[] };
    const [source] = datasources.datasources;
    expect(datasources.datasources).toHaveLength(1);
    for (const panel of dashboardPanels(dashboard.panels).filter((p) => p.type !== 'row')) {
      expect(asDict(panel.datasource).uid, String(panel.title)).toBe(source?.uid);
      for (const target of (panel.targets ?? []) as Dict[]) expect(asDict(target.datasource).uid).toBe(source?.uid);
    }
    expect(source?.url).toBe('http://prometheus:9090');
    const ids = dashboardPanels(dashboard.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('compose mounts what Prometheus and Grafana are configured to read', () => {
    const services = asDict(composeRaw.services);
    const mounts = (name: string) =>
      Object.fromEntries(((asDict(services[name]).volumes ?? []) as string[]).map((v) => v.split(':').slice(0, 2)).map(([from = '', to = '']) => [to, from]));
    const prometheusMounts = mounts('prometheus');
    expect(prometheusMounts['/etc/prometheus']).toBe('./deploy/prometheus');
    const config = parseYaml(read('deploy/prometheus/prometheus.yml')) as Dict;
    for (const file of config.rule_files as string[]) expect(existsSync(path.join(root, 'deploy/prometheus', file)), file).toBe(true);
    const [job] = config.scrape_configs as Dict[];
    const credentials = asDict(asDict(job).authorization).credentials_file as string;
    const command = (asDict(services.prometheus).command as string[]).join(' ');
    expect(command).toContain(`> ${credentials}`);
    expect(command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const [sd] = asDict(job).dns_sd_configs as Dict[];
    expect(asDict(sd).names).toEqual(['server']);
    expect(asDict(sd).port).toBe(3000);
    const provider = (parseYaml(read('deploy/grafana/provisioning/dashboards/chatmeter.yml')) as { providers: Dict[] }).providers[0];
    const grafanaMounts = mounts('grafana');
    expect(grafanaMounts[asDict(asDict(provider).options).path as string]).toBe('./deploy/grafana/dashboards');
    expect(grafanaMounts['/etc/grafana/provisioning']).toBe('./deploy/grafana/provisioning');
  });

  it('promtool accepts the config and the rules, and the rules pass their unit tests (alerts.test.yml)', async (ctx) => {
    try {
      execFileSync('promtool', ['--version'], { stdio: 'pipe' });
    } catch {
      return ctx.skip('promtool is not installed (Debian package prometheus)');
    }
    const cwd = path.join(root, 'deploy/prometheus');
    // --syntax-only: the token file exists only inside the container.
    await run('promtool', ['check', 'config', '--syntax-only', 'prometheus.yml'], { cwd });
    const checked = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd });
    expect(checked.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    const tested = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd });
    expect(tested.stdout).toContain('SUCCESS');
  }, 300_000);
});
