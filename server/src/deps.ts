// Everything a request needs, built once at start (or per test) and passed
// through the tRPC context: no module-level singletons.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { openDatabase, type Database } from '@chatmeter/db/client';
import type { PrismaClient } from '@chatmeter/db/client';
import { DEFAULT_PLANS, parsePlanTable, type TPlan } from '@chatmeter/shared/plans';
import { randomBytes } from 'node:crypto';
import { loadPricing } from './chat/providers/pricing-loader.ts';
import { createProviders } from './chat/providers/select.ts';
import type { ProviderRegistry } from './chat/providers/registry.ts';
import { ProviderGates } from './chat/providers/gate.ts';
import { MemoryGateStore, RedisGateStore } from './chat/providers/gate-store.ts';
import type { FetchFunction } from './chat/providers/node-fetch.ts';
import type { ChatProvider } from './chat/providers/provider.ts';
import { ChatService } from './chat/chat-service.ts';
import { findTtsModelPrice, type TModelPrice } from '@chatmeter/shared/pricing';
import { AuthService } from './auth/auth-service.ts';
import { BillingService } from './billing/billing-service.ts';
import { resolveBillingConfig } from './billing/config.ts';
import type { BillingGateway } from './billing/gateway.ts';
import { createCaptcha, type Captcha } from './auth/captcha.ts';
import { Meter } from './metering/meter.ts';
import type { MonthFor } from './metering/periods.ts';
import { UsageService } from './usage/usage-service.ts';
import { ConversationService } from './chat/conversation-service.ts';
import { createTtsService, type TtsService } from './tts/tts-service.ts';
import { ReplySpeech } from './tts/reply-speech.ts';
import type { TtsWorkerTarget } from './tts/tts-client.ts';
import { SessionService } from './auth/session.ts';
import { emailVerificationWarnings, type ServerEnv } from './env.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { Mailer } from './mail/mailer.ts';
import { createRedis, Limiters, LIMITS, waitForRedis, type LimitSpec } from './rate-limit/limiters.ts';
import { AccountDataService } from './account/account-data.ts';
import { AdminService } from './admin/admin-service.ts';
import { OverviewService } from './admin/overview.ts';
import { RefusalRecorder } from './metering/refusals.ts';
import { RetentionJob } from './admin/retention.ts';
import { AlertService } from './alerts/alert-service.ts';
import { Metrics } from './metrics.ts';
import { NotificationService } from './notifications/notification-service.ts';
import { PlannerService } from './planner/planner-service.ts';
import { PlanEconomics } from './plans/plan-economics.ts';
import { PlanResolver } from './plans/plan-resolver.ts';
import { PreferencesService } from './preferences/preferences-service.ts';
import { OpenAICostsClient } from './reconcile/openai-costs.ts';
import { ReconcileService } from './reconcile/reconcile-service.ts';

export interface Deps {
  env: ServerEnv;
  db: Database;
  prisma: PrismaClient;
  logger: Logger;
  redis: Redis | undefined;
  limiters: Limiters;
  mailer: Mailer;
  sessions: SessionService;
  auth: AuthService;
  plans: TPlan[];
  /** Whose limits apply to a user: every quota check and plan display asks it. */
  planResolver: PlanResolver;
  /** Each plan's worst-case provider cost and margin with these prices (start-up log, admin, planner). */
  economics: PlanEconomics;
  pricing: TModelPrice[];
  /** The only provider, or the first of PROVIDERS_FILE's (for its label). */
  provider: ChatProvider;
  /** Which provider serves each model. */
  providers: ProviderRegistry;
  /** Per-provider admission gates (surge protection), shared through Redis when it is set. */
  gates: ProviderGates;
  meter: Meter;
  chat: ChatService;
  /** A user's conversations outside the metered path: list, read, search, rename, delete, versions. */
  conversations: ConversationService;
  usage: UsageService;
  tts: TtsService;
  billing: BillingService;
  captcha: Captcha;
  overview: OverviewService;
  admin: AdminService;
  accountData: AccountDataService;
  retention: RetentionJob;
  metrics: Metrics;
  alerts: AlertService;
  notifications: NotificationService;
  preferences: PreferencesService;
  planner: PlannerService;
  reconcile: ReconcileService;
  /** Counts refusals of the metered procedures per day and reason. */
  refusals: RefusalRecorder;
  close(): Promise<void>;
}

export interface DepsOverrides {
  db?: Database;
  logger?: Logger;
  limits?: Partial<Record<string, LimitSpec>>;
  /** Redis command timeout (default 500 ms); tests on a loaded machine raise it so Redis, not the insurance limiter, answers. */
  redisCommandTimeoutMs?: number;
  provider?: ChatProvider;
  /** The provider SDK's HTTP client, for tests that let the server talk to "api.openai.com" on loopback. */
  providerFetch?: FetchFunction;
  /** The TTS worker to use instead of TTS_WORKER_URL (the one `npm start` runs itself). */
  ttsWorker?: () => TtsWorkerTarget | undefined;
  /** Replaces the Stripe SDK (tests). */
  billingGateway?: BillingGateway;
}

export function loadPlans(env: ServerEnv): TPlan[] {
  if (!env.PLANS_FILE) return DEFAULT_PLANS;
  const file = path.resolve(env.baseDir, env.PLANS_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`PLANS_FILE: cannot read ${env.PLANS_FILE}: ${(error as Error).message}`);
  }
  try {
    return parsePlanTable(json);
  } catch (error) {
    throw new Error(`PLANS_FILE: ${env.PLANS_FILE} is not a valid plan table: ${(error as Error).message}`);
  }
}

export function appOrigin(env: ServerEnv): string {
  return env.APP_ORIGIN[0] ?? `http://localhost:${env.PORT || 3000}`;
}

export async function createDeps(env: ServerEnv, overrides: DepsOverrides = {}): Promise<Deps> {
  const logger = overrides.logger ?? createLogger(env.LOG_LEVEL);
  for (const warning of emailVerificationWarnings(env)) logger.warn(warning);
  const plans = loadPlans(env);
  const planResolver = new PlanResolver(plans, env.EMAIL_VERIFICATION);
  const billingConfig = resolveBillingConfig(env, plans);
  const db =
    overrides.db ??
    (await openDatabase({
      databaseUrl: env.DATABASE_URL,
      dataDir: path.join(env.dataDirAbsolute, 'pglite'),
      poolMax: env.DATABASE_POOL_MAX,
      logger: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
    }));
  const prisma = db.prisma;
  const redis = env.REDIS_URL ? createRedis(env.REDIS_URL, logger, { commandTimeoutMs: overrides.redisCommandTimeoutMs }) : undefined;
  if (redis && !(await waitForRedis(redis))) logger.warn('Redis did not answer at start; rate limits use the in-memory insurance limiter until it does');
  const limiters = new Limiters(redis, { signUpIpDay: { ...LIMITS.signUpIpDay, points: env.SIGNUPS_PER_IP_PER_DAY }, ...overrides.limits });
  const mailer = new Mailer(prisma, logger, { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM, production: env.NODE_ENV === 'production' });
  const sessions = new SessionService(prisma, env.SESSION_DAYS, db.query);
  const auth = new AuthService(prisma, sessions, limiters, mailer, logger, appOrigin(env), env.EMAIL_VERIFICATION);
  const providers = createProviders({
    apiKey: env.OPENAI_API_KEY,
    baseUrl: env.OPENAI_BASE_URL,
    providers: overrides.provider ? undefined : env.providers,
    ...(overrides.provider ? { override: overrides.provider } : {}),
    timeoutMs: env.OPENAI_TIMEOUT_MS,
    maxRetries: env.OPENAI_MAX_RETRIES,
    demoDelayMs: env.DEMO_DELAY_MS,
    ...(overrides.providerFetch ? { fetch: overrides.providerFetch } : {}),
  });
  const provider = providers.entries[0]!.provider;
  const { chat: pricing, tts: ttsPricing } = loadPricing({
    pricingFile: env.PRICING_FILE,
    baseDir: env.baseDir,
    // Every model a provider lists must be priced; with the shorthand, every plan model.
    requiredModels: providers.isDemo
      ? ['demo']
      : env.providers && !overrides.provider
        ? providers.listedModels()
        : [...new Set(plans.flatMap((p) => p.limits.models))].filter((m) => m !== 'demo'),
    requiredTtsModels: env.TTS_ENGINE === 'openai-compatible' && env.TTS_MODEL ? [env.TTS_MODEL] : [],
  });
  // Speech costs dollars only through an OpenAI-compatible engine (the one createTtsService prices).
  const ttsPrice = env.TTS_ENGINE === 'openai-compatible' && env.TTS_MODEL ? findTtsModelPrice(ttsPricing, env.TTS_MODEL) : undefined;
  const economics = new PlanEconomics(plans, {
    chat: pricing,
    tts: ttsPrice ? { model: ttsPrice.model, microsPerMillionChars: ttsPrice.microsPerMillionChars } : null,
  });
  const gates = new ProviderGates(providers.entries, {
    store: redis ? new RedisGateStore(redis) : new MemoryGateStore(),
    queueSize: env.PROVIDER_QUEUE_SIZE,
    queueTimeoutMs: env.PROVIDER_QUEUE_TIMEOUT_MS,
    logger,
  });
  const meter = new Meter(db.query, {
    minCompletionTokens: env.CHAT_MIN_COMPLETION_TOKENS,
    defaultCostPerDayMicroUsd: env.MAX_COST_PER_DAY_USD,
    defaultCostPerMonthMicroUsd: env.MAX_COST_PER_MONTH_USD,
  });
  const billing = new BillingService({
    env,
    prisma,
    query: db.query,
    logger,
    plans,
    planFor: (user) => planResolver.planFor(user),
    mailer,
    limiters,
    origin: appOrigin(env),
    config: billingConfig,
    ...(overrides.billingGateway ? { gateway: overrides.billingGateway } : {}),
  });
  // Paid plans' monthly allowance follows the subscription's Stripe period.
  const monthFor: MonthFor = (userId, now, known) => billing.monthFor(userId, now, known);
  const ttsWorker = overrides.ttsWorker ?? (() => (env.TTS_WORKER_URL ? { url: env.TTS_WORKER_URL, secret: env.TTS_WORKER_SECRET } : undefined));
  // No worker to watch when an OpenAI-compatible server speaks instead.
  const metrics = new Metrics({ models: pricing.map((p) => p.model), ttsWorker, workerGauges: env.TTS_ENGINE === 'espeak-ng' });
  metrics.watchGates(() => gates.stats());
  const alerts = new AlertService({
    prisma,
    query: db.query,
    logger,
    mailer,
    metrics,
    planFor: (user) => planResolver.planFor(user),
    monthFor,
    defaultDailyTokenCap: env.MAX_TOKENS_PER_DAY,
    defaultCostCaps: { day: env.MAX_COST_PER_DAY_USD, month: env.MAX_COST_PER_MONTH_USD },
    costAlerts: { day: env.ALERT_COST_PER_DAY_USD, month: env.ALERT_COST_PER_MONTH_USD },
    webhookUrl: env.ALERT_WEBHOOK_URL,
    velocityFactor: env.ALERT_VELOCITY_FACTOR,
    velocityFloorMicroUsd: Math.round(env.ALERT_VELOCITY_FLOOR_USD * 1_000_000),
    origin: appOrigin(env),
  });
  const tts = createTtsService({
    env,
    prisma,
    logger,
    limiters,
    planFor: (user) => planResolver.planFor(user),
    ttsPricing,
    worker: overrides.ttsWorker,
    monthFor,
  });
  const chat = new ChatService({
    prisma,
    meter,
    limiters,
    logger,
    providers,
    gates,
    pricing,
    planResolver,
    systemPrompt: env.SYSTEM_PROMPT,
    maxTokens: env.CHAT_MAX_TOKENS,
    cacheTtlMs: env.CHAT_CACHE_TTL_SECONDS * 1000,
    defaultDailyTokenCap: env.MAX_TOKENS_PER_DAY,
    ipHashSalt: env.IP_HASH_SALT,
    monthFor,
    // Voice characters have alert thresholds too, checked once a reply's speech ended (as after tts.speak).
    speech: new ReplySpeech({ tts, logger, onSpoken: (user) => alerts.afterUsage({ user }) }),
    onSettled: (event) => {
      metrics.recordChat(event);
      // A deleted account gets no quota alerts (its counters and notifications are gone).
      if (!event.anonymised)
        alerts.afterUsage({
          user: event.user,
          plan: event.plan,
          month: event.month,
          ipHash: event.ipHash,
          // The check is skipped while this instance's projection of the user's quotas reaches no threshold.
          delta: {
            messages: 1,
            tokens: event.promptTokens + event.completionTokens,
            costMicroUsd: event.costMicroUsd,
            creditFunded: event.fundedBy === 'credits',
          },
        });
    },
  });
  const captcha = createCaptcha({ enabled: env.CAPTCHA === 'on', hmacKey: env.CAPTCHA_HMAC_KEY ?? randomBytes(32).toString('hex'), prisma });
  const usage = new UsageService(prisma, limiters, monthFor);
  const retention = new RetentionJob(prisma, logger, { retentionDays: env.RETENTION_DAYS, messageRetentionDays: env.MESSAGE_RETENTION_DAYS });
  const overview = new OverviewService(prisma, plans, billingConfig.priceIntervals);
  // Reconciliation with the provider's bill: only with an admin key (never without one).
  const reconcile = new ReconcileService({
    prisma,
    logger,
    costs: env.OPENAI_ADMIN_KEY
      ? new OpenAICostsClient({ adminKey: env.OPENAI_ADMIN_KEY, baseUrl: env.OPENAI_ADMIN_BASE_URL, projectIds: env.RECONCILE_PROJECT_IDS })
      : undefined,
    alertPercent: env.RECONCILE_ALERT_PERCENT,
    projectIds: env.RECONCILE_PROJECT_IDS,
    // Several providers: only OpenAI's own usage is on OpenAI's bill.
    openaiProviderIds: env.providers && !overrides.provider ? providers.openaiIds() : undefined,
    fireAlert: (alert) => alerts.fireServiceAlert(alert),
  });
  return {
    env,
    db,
    prisma,
    logger,
    redis,
    limiters,
    mailer,
    sessions,
    auth,
    plans,
    planResolver,
    economics,
    pricing,
    provider,
    providers,
    gates,
    meter,
    chat,
    conversations: new ConversationService({ prisma, audio: tts.cache }),
    usage,
    tts,
    billing,
    captcha,
    overview,
    admin: new AdminService({
      prisma,
      plans,
      usage,
      sessions,
      planFor: (user) => planResolver.planFor(user),
      supportMaxAdjustmentTokens: env.SUPPORT_MAX_ADJUSTMENT_TOKENS,
      supportMaxAdjustmentTokensPerDay: env.SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY,
      defaultDailyTokenCap: env.MAX_TOKENS_PER_DAY,
      defaultCostPerDayMicroUsd: env.MAX_COST_PER_DAY_USD,
      defaultCostPerMonthMicroUsd: env.MAX_COST_PER_MONTH_USD,
    }),
    accountData: new AccountDataService(prisma, {
      onDeleted: () => overview.invalidate(),
      audio: tts.cache,
      stopStreams: (userId) => chat.inflight.abortUser(userId),
    }),
    retention,
    metrics,
    alerts,
    notifications: new NotificationService(prisma),
    preferences: new PreferencesService(prisma),
    planner: new PlannerService(pricing, prisma),
    reconcile,
    refusals: new RefusalRecorder(prisma, logger),
    close: async () => {
      retention.stop();
      reconcile.stop();
      alerts.stop();
      overview.stopWarming();
      await alerts.idle();
      redis?.disconnect();
      if (!overrides.db) await db.close();
    },
  };
}
