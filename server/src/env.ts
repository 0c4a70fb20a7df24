// The server's environment, parsed once at start. Nothing else reads process.env:
// a bad value stops start-up with the variable's name and what is wrong with it.
import path from 'node:path';
import { usdToMicros } from '@chatmeter/shared/money';
import { z } from 'zod';
import { loadProvidersFile, ProvidersFileError, type ProviderSpec } from './chat/providers/providers-file.ts';

const bool = z.enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no', '']).transform((v) => ['1', 'true', 'on', 'yes'].includes(v));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));
const optionalUrl = optionalString.pipe(z.url().optional());
/** A dollar amount ("200", "12.50") as integer micro-USD; unset or empty: undefined. */
const optionalUsd = optionalString.pipe(
  z
    .string()
    .regex(/^\d{1,9}(\.\d{1,6})?$/, 'must be a dollar amount such as 200 or 12.50')
    .transform((v) => usdToMicros(v))
    .optional(),
);

const ZServerEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Public origin of the app (magic links, CSRF). Defaults to the request's own host. */
  APP_ORIGIN: optionalString
    .refine((v) => !v || v.split(',').every((o) => URL.canParse(o.trim())), 'must be a URL (or a comma-separated list of URLs)')
    .transform((v) => (v ? v.split(',').map((o) => new URL(o.trim()).origin) : [])),
  /** express `trust proxy`: a hop count or the proxies' addresses; `true` (trust any sender) is refused in production. */
  TRUST_PROXY: optionalString.transform((v) => (v && /^true$/i.test(v) ? 'true' : v)),
  /** Accepts TRUST_PROXY=true (or a /0 range) in production, for a deployment that truly cannot be reached but through its proxy. */
  TRUST_PROXY_ALLOW_ANY: bool.default(false),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().default('./data'),
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
  ),
  SESSION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  SMTP_URL: optionalString.pipe(
    z
      .string()
      .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
      .optional(),
  ),
  MAIL_FROM: z.string().default('ChatMeter <no-reply@chatmeter.local>'),
  /** required: a password account is held to the guest plan's limits until it verifies its e-mail. Default: required with SMTP_URL, off without. */
  EMAIL_VERIFICATION: optionalString.pipe(z.enum(['required', 'off']).optional()),
  ADMIN_EMAIL: optionalString.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalString.pipe(z.string().min(10, 'must be at least 10 characters').optional()),
  PLANS_FILE: optionalString,
  PRICING_FILE: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  OPENAI_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** JSON list of providers (docs/providers.md); replaces the OPENAI_API_KEY / OPENAI_BASE_URL shorthand. */
  PROVIDERS_FILE: optionalString,
  /** Requests that may wait for a busy provider, per provider and instance. */
  PROVIDER_QUEUE_SIZE: z.coerce.number().int().min(0).max(100_000).default(50),
  /** Longest wait in that queue before the request is refused as provider_busy. */
  PROVIDER_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  SYSTEM_PROMPT: z.string().default('You are ChatMeter, a concise and helpful assistant.'),
  /** Default completion cap per message (lowered further when the allowance is nearly spent). */
  CHAT_MAX_TOKENS: z.coerce.number().int().min(16).max(100_000).default(1_024),
  /** Smallest completion worth starting: below it a request nearly out of budget is refused, above it shortened to fit. */
  CHAT_MIN_COMPLETION_TOKENS: z.coerce.number().int().min(1).max(100_000).default(64),
  /** Seconds an identical single-turn prompt is answered from cache; 0 turns the cache off. */
  CHAT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Pause between the demo model's chunks. */
  DEMO_DELAY_MS: z.coerce.number().int().min(0).max(1_000).default(12),
  /** espeak-ng: the built-in tts-worker (free, local); openai-compatible: any server speaking OpenAI's POST /v1/audio/speech. */
  TTS_ENGINE: z.enum(['espeak-ng', 'openai-compatible']).default('espeak-ng'),
  /** openai-compatible: the API base, /v1 included (https://api.openai.com/v1, http://localhost:8880/v1 for Kokoro-FastAPI). */
  TTS_BASE_URL: optionalUrl.refine((v) => !v || /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
  /** openai-compatible: sent as `Authorization: Bearer <key>`; unset for a local server without keys. */
  TTS_API_KEY: optionalString,
  /** openai-compatible: the `model` of every request (tts-1, kokoro...); must be priced (a "kind": "tts" entry). */
  TTS_MODEL: optionalString.pipe(z.string().max(200).regex(/^\S+$/, 'must not contain whitespace').optional()),
  /** openai-compatible: voices when the server has no list of its own (GET /audio/voices): `alloy,nova` or `id:language` items (`ff_siwis:fr`). */
  TTS_VOICES: optionalString
    .refine(
      (v) => !v || v.split(',').every((item) => /^[a-z0-9][a-z0-9_+-]{0,63}(:[a-z]{2,3}(-[a-z0-9]{2,8})*)?$/i.test(item.trim())),
      'must be a comma-separated list of voice ids, each optionally followed by :language (e.g. alloy,nova or ff_siwis:fr)',
    )
    .transform((v) =>
      (v ? v.split(',') : []).map((item) => {
        const [id = '', language] = item.trim().split(':');
        return { id, language };
      }),
    ),
  /** A running TTS worker (or a load balancer in front of several); unset: the server starts tts-worker/dist/server.js itself. */
  TTS_WORKER_URL: optionalUrl.refine((v) => !v || /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
  /** The built worker the server starts when TTS_WORKER_URL is unset; default tts-worker/dist/server.js of this checkout. */
  TTS_WORKER_SCRIPT: optionalString,
  /** Sent as x-tts-secret to TTS_WORKER_URL (the worker's own TTS_WORKER_SECRET). Generated for a worker the server starts. */
  TTS_WORKER_SECRET: optionalString,
  /** Longest wait for one synthesis (queue included) before tts.speak answers provider_unavailable. */
  TTS_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(20_000),
  /** Size cap of the audio cache in DATA_DIR/audio; least recently used clips go first. */
  TTS_CACHE_MAX_MB: z.coerce.number().int().min(1).max(1_000_000).default(200),
  TTS_DEFAULT_VOICE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_+-]{0,63}$/i, 'must be a voice id such as en-us')
    .default('en-us'),
  TTS_FORMAT: z.enum(['mp3', 'ogg', 'wav']).default('mp3'),
  /** Global daily token cap when the admin has not set one. */
  MAX_TOKENS_PER_DAY: z.coerce.number().int().nonnegative().default(20_000_000),
  /** Global provider-cost caps in USD per UTC day and calendar month when the admin has not set one; unset: none. */
  MAX_COST_PER_DAY_USD: optionalUsd,
  MAX_COST_PER_MONTH_USD: optionalUsd,
  /** Admin alerts when the provider cost of the day / month passes these USD; default: 80 % of the matching cap, if any. */
  ALERT_COST_PER_DAY_USD: optionalUsd,
  ALERT_COST_PER_MONTH_USD: optionalUsd,
  /** New accounts a day per client network (an IPv4 address or an IPv6 /64), on top of the hourly sign-up limit; 0: no daily limit. */
  SIGNUPS_PER_IP_PER_DAY: optionalString
    .pipe(
      z
        .string()
        .regex(/^\d{1,6}$/, 'must be a whole number (0 turns the daily limit off)')
        .transform(Number)
        .optional(),
    )
    .transform((v) => v ?? 3),
  /** Salt for the hashed client IPs kept with usage (and guest limits); share it across instances. */
  IP_HASH_SALT: z.string().min(8).default('chatmeter-ip-salt'),
  CAPTCHA: z.enum(['on', 'off']).default('on'),
  /** HMAC key for captcha challenges; set the same value on every instance. Default: random per process. */
  CAPTCHA_HMAC_KEY: optionalString,
  CLIENT_DIST: optionalString,
  /** Stripe secret key; without it billing answers billing_not_configured (or runs the simulator). */
  STRIPE_SECRET_KEY: optionalString,
  /** Signing secret of the webhook endpoint (whsec_...); required with STRIPE_SECRET_KEY. */
  STRIPE_WEBHOOK_SECRET: optionalString,
  /** Where the stripe SDK sends API requests (tests point it at a local fake Stripe). */
  STRIPE_API_HOST: optionalString,
  STRIPE_API_PORT: optionalString.pipe(
    z
      .string()
      .regex(/^\d{1,5}$/, 'must be a port number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(65535))
      .optional(),
  ),
  STRIPE_API_PROTOCOL: optionalString.pipe(z.enum(['http', 'https']).optional()),
  /** Stripe price ids of the paid plans and the credit packs (a plan may also carry stripePriceId in PLANS_FILE). */
  STRIPE_PRICE_PRO: optionalString,
  STRIPE_PRICE_ENTERPRISE: optionalString,
  /** Optional yearly prices of the paid plans (or stripePriceIdYearly in PLANS_FILE); without one a plan is sold monthly only. */
  STRIPE_PRICE_PRO_YEARLY: optionalString,
  STRIPE_PRICE_ENTERPRISE_YEARLY: optionalString,
  STRIPE_PRICE_PACK_100K: optionalString,
  STRIPE_PRICE_PACK_1M: optionalString,
  /** Offline "test checkout": signed Stripe-shaped events into the real webhook handler. Only without STRIPE_SECRET_KEY. */
  BILLING_SIMULATOR: bool.default(false),
  /** The simulator is refused in production unless this is set too. */
  BILLING_SIMULATOR_ALLOW_PRODUCTION: bool.default(false),
  /** Days a past_due subscription keeps its paid limits before falling back to free. */
  BILLING_GRACE_DAYS: z.coerce.number().int().min(0).max(60).default(7),
  /** Raw usage events older than this many days are deleted (the daily roll-ups are kept). At least 62: the quota month reads them. */
  RETENTION_DAYS: z.coerce.number().int().min(62, 'must be at least 62 (the current quota month is read from raw events)').max(36_500).default(400),
  /** Chat messages older than this many days are deleted; unset keeps them. */
  MESSAGE_RETENTION_DAYS: optionalString.pipe(
    z
      .string()
      .regex(/^\d{1,5}$/, 'must be a whole number of days')
      .transform(Number)
      .pipe(z.number().int().min(1).max(36_500))
      .optional(),
  ),
  /** Largest credit adjustment (tokens, either sign) a support account may make; above it needs an admin. */
  SUPPORT_MAX_ADJUSTMENT_TOKENS: z.coerce.number().int().min(0).max(1_000_000_000).default(100_000),
  /** Sum of the tokens (either sign) one support account may adjust per UTC day; admins are not capped. */
  SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY: z.coerce.number().int().min(0).max(1_000_000_000_000).default(1_000_000),
  /** Slack-compatible incoming webhook: service alerts are POSTed as JSON { text }. Unset: e-mail to the admins only. */
  ALERT_WEBHOOK_URL: optionalUrl.refine((v) => !v || /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
  /** Spend velocity alert: the last hour's cost of a user or IP above this many times its trailing 7-day hourly average... */
  ALERT_VELOCITY_FACTOR: z.coerce.number().min(1).max(1_000).default(10),
  /** ...and above this many USD (so a new user's first dollar is not an anomaly). */
  ALERT_VELOCITY_FLOOR_USD: z.coerce.number().nonnegative().max(1_000_000).default(1),
  /** An OpenAI admin key (sk-admin-...): once a day the provider's daily costs are read for reconciliation. Unset: never. */
  OPENAI_ADMIN_KEY: optionalString,
  /** Where the Costs API is (tests point it at a local fake). */
  OPENAI_ADMIN_BASE_URL: optionalUrl
    .refine((v) => !v || /^https?:\/\//.test(v), 'must be an http:// or https:// URL')
    .transform((v) => v ?? 'https://api.openai.com/v1'),
  /** Only these OpenAI projects' costs (comma-separated proj_... ids); unset: the whole organization. */
  RECONCILE_PROJECT_IDS: optionalString
    .refine((v) => !v || v.split(',').every((id) => /^[\w-]{1,128}$/.test(id.trim())), 'must be a comma-separated list of project ids')
    .transform((v) => (v ? v.split(',').map((id) => id.trim()) : [])),
  /** A day whose metered cost and the provider's differ by more than this share of the provider's alerts the admins. */
  RECONCILE_ALERT_PERCENT: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.coerce.number().min(0).max(1_000).default(5)),
  /**
   * Server processes sharing the port (node:cluster). Default: the machine's cores (at most 8) with
   * DATABASE_URL and REDIS_URL; 1 otherwise (PGlite is one process; without Redis the rate limits would
   * be counted per process). More than 1 needs both.
   */
  WEB_CONCURRENCY: optionalString.pipe(
    z
      .string()
      .regex(/^\d{1,2}$/, 'must be a whole number from 1 to 32')
      .transform(Number)
      .pipe(z.number().int().min(1).max(32))
      .optional(),
  ),
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  METRICS_TOKEN: optionalString,
  /** In production GET /metrics is off without METRICS_TOKEN; this serves it to anyone instead (a private network). */
  METRICS_PUBLIC: bool.default(false),
  /** Streamed chat answers skip tRPC's fetch adapter (trpc/stream-fast-path.ts); `0` sends them through it (a kill switch). */
  TRPC_STREAM_FAST_PATH: bool.default(true),
});

export type ServerEnv = Omit<z.infer<typeof ZServerEnv>, 'EMAIL_VERIFICATION'> & {
  /** Resolved: `required` by default when mail can be delivered (SMTP_URL), `off` otherwise. */
  EMAIL_VERIFICATION: 'required' | 'off';
  /** The folder npm was started in: relative paths (DATA_DIR, PLANS_FILE...) are resolved against it. */
  baseDir: string;
  /** DATA_DIR resolved against baseDir. */
  dataDirAbsolute: string;
  /** PROVIDERS_FILE, checked, with each provider's key read from its apiKeyEnv; undefined without the file. */
  providers: ProviderSpec[] | undefined;
};

export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}

/** `true`, or a range that holds every address (`0.0.0.0/0`, `::/0`): express then believes any X-Forwarded-For. */
export function trustsAnySender(trustProxy: string): boolean {
  if (trustProxy === 'true') return true;
  return trustProxy.split(',').some((entry) => /\/(0|0\.0\.0\.0)$/.test(entry.trim()));
}

export function parseEnv(source: Record<string, string | undefined>, cwd = source.INIT_CWD ?? process.cwd()): ServerEnv {
  const result = ZServerEnv.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new EnvError(`Invalid environment configuration:\n${lines.join('\n')}`);
  }
  const env = result.data;
  if (env.ADMIN_EMAIL && !env.ADMIN_PASSWORD) {
    throw new EnvError('Invalid environment configuration:\n  ADMIN_PASSWORD: required when ADMIN_EMAIL is set');
  }
  if (env.STRIPE_SECRET_KEY && !env.STRIPE_WEBHOOK_SECRET) {
    throw new EnvError(
      'Invalid environment configuration:\n  STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set (the webhook signing secret, whsec_...)',
    );
  }
  if (env.BILLING_SIMULATOR && env.NODE_ENV === 'production' && !env.BILLING_SIMULATOR_ALLOW_PRODUCTION) {
    throw new EnvError(
      'Invalid environment configuration:\n  BILLING_SIMULATOR: the billing simulator hands out paid plans without payment; it is refused when NODE_ENV=production (set BILLING_SIMULATOR_ALLOW_PRODUCTION=1 to allow it on a private deployment)',
    );
  }
  if (env.TRUST_PROXY && env.NODE_ENV === 'production' && !env.TRUST_PROXY_ALLOW_ANY && trustsAnySender(env.TRUST_PROXY)) {
    throw new EnvError(
      `Invalid environment configuration:\n  TRUST_PROXY: "${env.TRUST_PROXY}" trusts X-Forwarded-For from any sender, so every client can pick its own address and every per-IP limit (sign-in, sign-up, guests) is void; it is refused when NODE_ENV=production. Give the hop count of your proxies (e.g. 1) or the proxies' addresses (e.g. "loopback, 10.0.0.0/8"), or set TRUST_PROXY_ALLOW_ANY=1 to insist (only when nothing but your proxy can reach this server)`,
    );
  }
  if (env.TTS_ENGINE === 'openai-compatible' && (!env.TTS_BASE_URL || !env.TTS_MODEL)) {
    throw new EnvError(
      `Invalid environment configuration:\n  ${!env.TTS_BASE_URL ? 'TTS_BASE_URL' : 'TTS_MODEL'}: required when TTS_ENGINE=openai-compatible (e.g. TTS_BASE_URL=https://api.openai.com/v1 TTS_MODEL=tts-1, or TTS_BASE_URL=http://localhost:8880/v1 TTS_MODEL=kokoro)`,
    );
  }
  if (env.WEB_CONCURRENCY && env.WEB_CONCURRENCY > 1 && !(env.DATABASE_URL && env.REDIS_URL)) {
    throw new EnvError(
      `Invalid environment configuration:\n  WEB_CONCURRENCY: ${env.WEB_CONCURRENCY} processes need DATABASE_URL (the embedded PGlite database is one process) and REDIS_URL (else every process would count the rate limits on its own); unset it or set it to 1`,
    );
  }
  let providers: ProviderSpec[] | undefined;
  if (env.PROVIDERS_FILE) {
    try {
      providers = loadProvidersFile(env.PROVIDERS_FILE, path.resolve(cwd), source);
    } catch (error) {
      if (error instanceof ProvidersFileError) throw new EnvError(`Invalid environment configuration:\n  ${error.message.replaceAll('\n', '\n  ')}`);
      throw error;
    }
  }
  return {
    ...env,
    EMAIL_VERIFICATION: env.EMAIL_VERIFICATION ?? (env.SMTP_URL ? 'required' : 'off'),
    baseDir: path.resolve(cwd),
    dataDirAbsolute: path.resolve(cwd, env.DATA_DIR),
    providers,
  };
}

/**
 * Start-up warnings about e-mail verification in production: without it
 * (no SMTP_URL, or EMAIL_VERIFICATION=off) anyone can farm free-plan accounts;
 * with it but no SMTP_URL the links never leave the outbox.
 */
export function emailVerificationWarnings(env: Pick<ServerEnv, 'NODE_ENV' | 'SMTP_URL' | 'EMAIL_VERIFICATION'>): string[] {
  if (env.NODE_ENV !== 'production') return [];
  if (env.EMAIL_VERIFICATION === 'off') {
    const why = env.SMTP_URL ? 'EMAIL_VERIFICATION=off' : 'SMTP_URL is not set, so EMAIL_VERIFICATION defaults to off';
    return [
      `${why}: new accounts are not verified, so anyone can farm free-plan accounts (every sign-up with any made-up address gets the free plan's quota). Set SMTP_URL (verification then defaults to required) or EMAIL_VERIFICATION=required.`,
    ];
  }
  if (!env.SMTP_URL) {
    return [
      "EMAIL_VERIFICATION=required without SMTP_URL: verification links are only written to the email_outbox table, never delivered, so new password accounts stay on the guest plan's limits (magic-link sign-in cannot be delivered either). Set SMTP_URL.",
    ];
  }
  return [];
}
