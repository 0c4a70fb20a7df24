// The server's environment, parsed once at start. Nothing else reads process.env:
// a bad value stops start-up with the variable's name and what is wrong with it.
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no', ''])
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() ? v.trim() : undefined));
const optionalUrl = optionalString.pipe(z.url().optional());

const ZServerEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Public origin of the app (magic links, CSRF). Defaults to the request's own host. */
  APP_ORIGIN: optionalString
    .refine((v) => !v || v.split(',').every((o) => URL.canParse(o.trim())), 'must be a URL (or a comma-separated list of URLs)')
    .transform((v) => (v ? v.split(',').map((o) => new URL(o.trim()).origin) : [])),
  TRUST_PROXY: optionalString,
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().default('./data'),
  REDIS_URL: optionalString.pipe(z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional()),
  SESSION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  SMTP_URL: optionalString.pipe(z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional()),
  MAIL_FROM: z.string().default('ChatMeter <no-reply@chatmeter.local>'),
  ADMIN_EMAIL: optionalString.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalString.pipe(z.string().min(10, 'must be at least 10 characters').optional()),
  PLANS_FILE: optionalString,
  PRICING_FILE: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  OPENAI_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  SYSTEM_PROMPT: z.string().default('You are ChatMeter, a concise and helpful assistant.'),
  /** Default completion cap per message (lowered further when the allowance is nearly spent). */
  CHAT_MAX_TOKENS: z.coerce.number().int().min(16).max(100_000).default(1_024),
  /** Seconds an identical single-turn prompt is answered from cache; 0 turns the cache off. */
  CHAT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Pause between the demo model's chunks. */
  DEMO_DELAY_MS: z.coerce.number().int().min(0).max(1_000).default(12),
  /** Global daily token cap when the admin has not set one. */
  MAX_TOKENS_PER_DAY: z.coerce.number().int().nonnegative().default(20_000_000),
  /** Salt for the hashed client IPs kept with usage (and guest limits); share it across instances. */
  IP_HASH_SALT: z.string().min(8).default('chatmeter-ip-salt'),
  CAPTCHA: z.enum(['on', 'off']).default('on'),
  /** HMAC key for captcha challenges; set the same value on every instance. Default: random per process. */
  CAPTCHA_HMAC_KEY: optionalString,
  CLIENT_DIST: optionalString,
});

export type ServerEnv = z.infer<typeof ZServerEnv> & {
  /** The folder npm was started in: relative paths (DATA_DIR, PLANS_FILE...) are resolved against it. */
  baseDir: string;
  /** DATA_DIR resolved against baseDir. */
  dataDirAbsolute: string;
};

export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
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
  return { ...env, baseDir: path.resolve(cwd), dataDirAbsolute: path.resolve(cwd, env.DATA_DIR) };
}
