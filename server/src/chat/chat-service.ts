// The accounting path for one chat message, in order: rate limits, plan checks,
// reservation (quota, credits, global cap, kill switch), the provider's stream,
// settlement from the provider's own usage. Every step is here, in one place.
import { createHmac, randomUUID } from 'node:crypto';
import type { PrismaClient } from '@chatmeter/db/client';
import { conversationTitle } from '@chatmeter/shared/conversation-title';
import { findModelPrice, requireModelPrice, type TModelPrice } from '@chatmeter/shared/pricing';
import type { TPlan } from '@chatmeter/shared/plans';
import { AppError, isAppError } from '../lib/app-error.ts';
import { BoundedMap } from '../lib/bounded-map.ts';
import type { Logger } from '../lib/logger.ts';
import type { PlanResolver, PlanSubject } from '../plans/plan-resolver.ts';
import type { Meter, UsageStatus } from '../metering/meter.ts';
import { calendarMonth, type MonthFor, type MonthPeriod } from '../metering/periods.ts';
import { settleChatWithRetry } from '../metering/settle-retry.ts';
import { clientNetwork } from '../rate-limit/client-network.ts';
import type { Limiters } from '../rate-limit/limiters.ts';
import { coalesceReadyDeltas } from './coalesce.ts';
import { fitContextWindow, type ContextMessage } from './context-window.ts';
import { InflightStreams } from './inflight.ts';
import { findOwnMessage, readPath, type PathMessage } from './message-tree.ts';
import { isAbortError, isProviderError, type FinishReason, type ProviderUsage } from './providers/provider.ts';
import type { ProviderRegistry, RoutedProvider } from './providers/registry.ts';
import { gatePriority, type GateLease, type GateRequest, type ProviderGate, type ProviderGates } from './providers/gate.ts';
import { replyNote } from './reply-notes.ts';
import { isCacheable, ResponseCache } from './response-cache.ts';
import { countTextTokens } from './tokens.ts';
import type { TChatEvent, TChatReplyEvent } from '@chatmeter/shared/chat';
import type { ReplySpeech } from '../tts/reply-speech.ts';

/** The reply's events (shared/src/chat.ts, the one definition the client reads too). */
export type ChatEvent = TChatReplyEvent;

/** What a streaming procedure yields: the chat's events, and with `speak` the speech events (tts/reply-speech.ts). */
export type ChatStreamEvent = TChatEvent;

export interface ChatUser extends PlanSubject {
  id: string;
  blockedAt: Date | null;
  /** From the session lookup: false spares the subscription read for the quota month. */
  subscribed?: boolean;
}

/** Who asks, for one streamed chat. */
export interface ChatRequest {
  ip: string;
  requestId: string;
  signal?: AbortSignal | undefined;
  /** The session the user was read from when that came from the instance's cache: the reservation checks it (Meter.reserveChat). */
  session?: string | undefined;
}

export interface SendInput {
  conversationId?: string | undefined;
  content: string;
  model?: string | undefined;
  /** Set by regenerate and edit (not by chat.send): where in the conversation's tree the reply goes. */
  branch?: ChatBranch | undefined;
  /** Read the reply aloud as it streams (see `spoken`). */
  speak?: boolean | undefined;
}

/** A reply placed in the message tree (message-tree.ts) rather than after the active leaf. */
export interface ChatBranch {
  /** The path above the message answered, oldest first: the model's context. */
  history: ContextMessage[];
  /** Edit: the parent of the new user message (null: it is the first message). */
  parentId: string | null;
  /** Regenerate: the existing user message answered again (no user message is written). */
  replyTo?: string;
}

export interface ChatServiceOptions {
  prisma: PrismaClient;
  meter: Meter;
  limiters: Limiters;
  logger: Logger;
  /** Which provider serves each model (PROVIDERS_FILE, or the one-provider shorthand). */
  providers: ProviderRegistry;
  /** Per-provider admission gates (surge protection); every provider call goes through its gate. */
  gates: ProviderGates;
  pricing: readonly TModelPrice[];
  /** Decides whose limits apply (the plan, or the guest's for an unverified account). */
  planResolver: PlanResolver;
  systemPrompt: string;
  maxTokens: number;
  cacheTtlMs: number;
  defaultDailyTokenCap: number;
  ipHashSalt: string;
  /** The user's current month (billing may give a subscription period). */
  monthFor?: MonthFor;
  /**
   * How often a streaming reply's relayed text is saved in its reservation, for the sweeper
   * to keep if this server dies (default 1000 ms; replies shorter than that write nothing).
   */
  partialSaveMs?: number;
  /** Called after each settlement (metrics, alerts); must not throw or block. */
  onSettled?: (event: ChatSettledEvent) => void;
  /** Reads replies aloud as they stream (`speak: true`); without it `speak` is ignored. */
  speech?: Pick<ReplySpeech, 'speakAlong'> | undefined;
}

export interface ChatSettledEvent {
  user: ChatUser;
  plan: TPlan;
  month: MonthPeriod;
  ipHash: string;
  model: string;
  provider: string;
  status: UsageStatus;
  promptTokens: number;
  completionTokens: number;
  costMicroUsd: number;
  /** The account was deleted while the reply streamed: metered without the person. */
  anonymised: boolean;
  /** What paid for it: the plan's allowance, or credits once the allowance could not. */
  fundedBy: 'allowance' | 'credits' | 'none';
}

/** Tokenizers differ slightly between providers: reserve a little more than we count. */
export function withMargin(promptTokens: number): number {
  return Math.ceil(promptTokens * 1.05) + 8;
}

const HISTORY_LOAD_LIMIT = 200;
/** Networks and user ids whose keyed hash is remembered (hashIp). */
const HASHES_KEPT = 10_000;

/** A path read nearest first (message-tree.ts) as the model's context: oldest first, only text of the two roles. */
function contextOf(path: PathMessage[]): ContextMessage[] {
  return path.reverse().filter((m) => (m.role === 'user' || m.role === 'assistant') && m.content.length > 0) as ContextMessage[];
}

export class ChatService {
  readonly cache: ResponseCache;
  /** Replies streaming on this instance, so an account deletion can stop them. */
  readonly inflight = new InflightStreams();
  /** Networks and user ids with their keyed hash (hashIp): each request hashed two. */
  private readonly hashes = new BoundedMap<string, string>(HASHES_KEPT);

  constructor(private readonly options: ChatServiceOptions) {
    this.cache = new ResponseCache(options.cacheTtlMs);
  }

  get isDemo(): boolean {
    return this.options.providers.isDemo;
  }

  /** The models this user may pick right now: the plan's that are priced and that a provider serves. */
  modelsFor(plan: TPlan): string[] {
    if (this.options.providers.isDemo) return ['demo'];
    return plan.limits.models.filter(
      (m) => m !== 'demo' && this.options.pricing.some((p) => p.model === m) && this.options.providers.forModel(m) !== undefined,
    );
  }

  /** The model picker's entries: each model the plan allows, with its provider and prices. */
  modelItemsFor(plan: TPlan) {
    return this.modelsFor(plan).map((model) => {
      const price = requireModelPrice(this.options.pricing, model);
      const route = this.options.providers.forModel(model)!;
      return {
        model,
        label: price.label ?? model,
        provider: route.id,
        providerLabel: route.provider.label,
        inputMicrosPerMillion: price.inputMicrosPerMillion,
        outputMicrosPerMillion: price.outputMicrosPerMillion,
        cachedInputMicrosPerMillion: price.cachedInputMicrosPerMillion ?? price.inputMicrosPerMillion,
        reasoning: price.reasoning ?? false,
      };
    });
  }

  /** Of the client's network (an IPv6 /64), so the guests' per-IP day and the spend alerts see one client as one. */
  hashIp(ip: string): string {
    const network = clientNetwork(ip);
    let hash = this.hashes.get(network);
    if (hash === undefined) {
      hash = createHmac('sha256', this.options.ipHashSalt).update(network).digest('hex').slice(0, 32);
      this.hashes.set(network, hash);
    }
    return hash;
  }

  /**
   * Steps 2-4 (limits, plan checks, reservation) run before this resolves, so a
   * refusal is an ordinary error with its HTTP status; the returned stream does
   * steps 5-6 (provider, settlement).
   */
  async send(user: ChatUser, input: SendInput, request: ChatRequest): Promise<AsyncGenerator<ChatStreamEvent>> {
    const o = this.options;
    const plan = o.planResolver.planFor(user);
    if (user.blockedAt) throw new AppError('blocked', 'This account has been blocked. Contact support.');
    // The quota month (a database read for subscribers' periods) is fetched while the checks below run.
    const now = new Date();
    const monthPromise = o.monthFor ? o.monthFor(user.id, now, { subscribed: user.subscribed }) : Promise.resolve(calendarMonth(now));
    monthPromise.catch(() => {}); // a refusal below may leave it unawaited

    // 2. Rate limits: per user, and per network for guests.
    try {
      await o.limiters.consume('chat', user.id, {
        spec: { points: plan.limits.requestsPerMinute, duration: 60 },
        message: `You can send ${plan.limits.requestsPerMinute} messages a minute. Please wait a moment.`,
        limit: 'requestsPerMinute',
      });
      if (user.isGuest) {
        await o.limiters.consume('chatIp', clientNetwork(request.ip), {
          spec: { points: plan.limits.requestsPerMinute * 3, duration: 60 },
          message: 'Too many guest messages from your network. Please wait a moment or sign up.',
          limit: 'networkRequestsPerMinute',
        });
      }
    } catch (error) {
      // "Wait 45 seconds" is wrong when a quota keeps the user out for hours: say that instead.
      if (error instanceof AppError && error.reason === 'rate_limited' && error.details.resetAt) {
        const longer = await o.meter.longerBlock(
          { user, plan, guestPlan: o.planResolver.guestPlan, ipHash: this.hashIp(request.ip), month: await monthPromise, promptTokens: 0 },
          now,
          error.details.resetAt,
        );
        if (longer) throw longer;
      }
      throw error;
    }

    // 3. Plan checks.
    const available = this.modelsFor(plan);
    const model = input.model ?? available[0];
    if (!model || !available.includes(model)) {
      throw new AppError('model_not_in_plan', `The model ${input.model ?? ''} is not available on the ${plan.name} plan.`, { upgrade: true });
    }
    let price = requireModelPrice(o.pricing, model);
    let route = o.providers.forModel(model)!;
    const content = input.content.trim();
    if (content.length === 0) throw new AppError('invalid_input', 'Write a message first.');
    if (content.length > plan.limits.maxInputChars) {
      throw new AppError('input_too_long', `Messages on the ${plan.name} plan can be at most ${plan.limits.maxInputChars} characters.`, { upgrade: true });
    }
    let history: ContextMessage[] = [];
    // The message the new user message follows: the active leaf the history was read from (message-tree.ts).
    let parentId: string | null = input.branch?.parentId ?? null;
    if (input.conversationId) {
      // Both reads at once; the history is only used when the conversation is this user's.
      const [conversation, path] = await Promise.all([
        o.prisma.conversation.findFirst({
          where: { id: input.conversationId, userId: user.id, deletedAt: null },
          select: { messageCount: true },
        }),
        input.branch ? undefined : readPath(o.prisma, input.conversationId, { limit: HISTORY_LOAD_LIMIT }),
      ]);
      if (!conversation) throw new AppError('not_found', 'That conversation does not exist.');
      if (conversation.messageCount + (input.branch?.replyTo ? 1 : 2) > plan.limits.maxConversationMessages) {
        throw new AppError('conversation_too_long', `This conversation has reached ${plan.limits.maxConversationMessages} messages. Start a new one.`, {
          upgrade: true,
        });
      }
      if (path) {
        parentId = path[0]?.id ?? null;
        history = contextOf(path);
      } else {
        history = input.branch?.history ?? [];
      }
    }
    const maxTokens = Math.min(o.maxTokens, price.maxOutputTokens);
    const fitted = fitContextWindow({
      model,
      limits: price,
      systemPrompt: o.systemPrompt,
      history,
      newMessage: { role: 'user', content },
      reserveOutputTokens: maxTokens,
    });
    if (!fitted.fits) throw new AppError('input_too_long', 'This message is too long for the model. Shorten it.');

    // Identical single-turn prompts within the TTL: the message counts, the tokens cost nothing.
    // A regenerated reply is asked for because the last one was not wanted: never the cached one.
    const cacheKey = history.length === 0 && this.cache.enabled && !input.branch?.replyTo ? ResponseCache.key(model, o.systemPrompt, content) : undefined;
    const cachedText = cacheKey ? this.cache.get(cacheKey) : undefined;

    // 4. Reservation: one transaction with conditional updates.
    const month = await monthPromise;
    const ipHash = this.hashIp(request.ip);
    const promptEstimate = cachedText !== undefined ? 0 : withMargin(fitted.promptTokens);
    const fallback = cachedText === undefined ? this.fallbackFor(plan, model, available, promptEstimate) : undefined;
    const reservation = await o.meter.reserveChat({
      user,
      plan,
      guestPlan: o.planResolver.guestPlan,
      ipHash,
      model,
      promptTokens: promptEstimate,
      maxTokens: cachedText !== undefined ? 0 : maxTokens,
      price,
      fallback,
      month,
      defaultDailyTokenCap: o.defaultDailyTokenCap,
      requestId: request.requestId,
      conversation: {
        id: input.conversationId ?? null,
        // Only a new conversation takes a title: the first message's words without its Markdown.
        title: input.conversationId ? '' : conversationTitle(content),
        userContent: content,
        maxMessages: plan.limits.maxConversationMessages,
        parentId,
        ...(input.branch ? { exclusive: true, ...(input.branch.replyTo ? { replyTo: input.branch.replyTo } : {}) } : {}),
      },
      now,
      ...(request.session ? { session: { id: request.session, expect: user } } : {}),
    });
    // The plan's fallback answers when the model asked for no longer fitted the budget.
    let answering = model;
    if (reservation.degradedFrom && fallback) {
      answering = fallback.model;
      price = fallback.price;
      route = o.providers.forModel(answering)!;
    }

    // 4b. Admission to the provider (gate.ts): may wait in the queue; a refusal gives the reservation back uncharged.
    let admission: { gate: ProviderGate; request: GateRequest; lease: GateLease } | undefined;
    if (cachedText === undefined) {
      const gate = o.gates.for(route.id);
      // With its signal from the start: a property added to a spread copy would give the object a
      // V8 map of its own, and every access to it a cache miss (docs/performance.md, sixth part).
      const gateRequest: GateRequest = {
        priority: gatePriority(plan, user.isGuest || plan.id === o.planResolver.guestPlan.id),
        plan: plan.id,
        tokens: promptEstimate + reservation.maxTokens,
        deadline: Date.now() + o.gates.queueTimeoutMs,
        signal: request.signal,
      };
      try {
        const lease = await gate.admit(gateRequest);
        admission = { gate, request: gateRequest, lease };
      } catch (error) {
        // The client left while waiting: settled as an abort by the stream, as before there was a gate.
        if (isAbortError(error, request.signal))
          return this.run({
            user,
            plan,
            month,
            request,
            model: answering,
            route,
            price,
            fitted,
            maxTokens,
            cacheKey,
            cachedText,
            ipHash,
            reservation,
            admission: undefined,
          });
        await this.giveBack({ reservationId: reservation.id, isGuest: user.isGuest, ipHash, model, provider: route.id, price });
        throw error;
      }
    }

    const events = this.run({
      user,
      plan,
      month,
      request,
      model: answering,
      route,
      price,
      fitted,
      maxTokens,
      // The fallback's answer is not the answer of the model asked for.
      cacheKey: reservation.degradedFrom ? undefined : cacheKey,
      cachedText,
      ipHash,
      reservation,
      admission,
    });
    return this.spoken(input.speak, user, events, request);
  }

  /**
   * With `speak` (chat.send, and the other streaming procedures), the reply is read aloud
   * as it streams: its speech events join the stream (tts/reply-speech.ts).
   */
  spoken(
    speak: boolean | undefined,
    user: ChatUser,
    events: AsyncGenerator<ChatEvent>,
    request: { requestId: string; signal?: AbortSignal | undefined },
  ): AsyncGenerator<ChatStreamEvent> {
    return speak && this.options.speech ? this.options.speech.speakAlong(user, events, request) : events;
  }

  /**
   * chat.regenerate: a new reply to the user message that `messageId` (one of the caller's replies)
   * answered, kept beside it as a version. Metered, limited and streamed exactly as `send` (it is
   * `send` with the reply placed in the tree); the context is the path above that user message.
   * Never served from the response cache: the last answer is the one not wanted.
   */
  async regenerate(
    user: ChatUser,
    input: { messageId: string; model?: string | undefined; speak?: boolean | undefined },
    request: ChatRequest,
  ): Promise<AsyncGenerator<ChatStreamEvent>> {
    const reply = await findOwnMessage(this.options.prisma, user.id, input.messageId);
    if (reply.role !== 'assistant') throw new AppError('invalid_input', 'Only a reply can be regenerated. To change your own message, edit it.');
    const question = reply.parentId
      ? await this.options.prisma.message.findFirst({
          where: { id: reply.parentId, userId: user.id },
          select: { id: true, role: true, content: true, parentId: true },
        })
      : null;
    if (question?.role !== 'user') throw new AppError('invalid_input', 'This reply does not answer a message of yours, so it cannot be regenerated.');
    const path = await readPath(this.options.prisma, reply.conversationId, { from: question.parentId, limit: HISTORY_LOAD_LIMIT });
    return this.send(
      user,
      {
        conversationId: reply.conversationId,
        content: question.content,
        model: input.model ?? this.usableModel(user, reply.model),
        branch: { history: contextOf(path), parentId: question.parentId, replyTo: question.id },
        speak: input.speak,
      },
      request,
    );
  }

  /**
   * chat.edit: a new version of the caller's user message `messageId` with `content`, beside the
   * original (same parent), and a new reply under it; metered and streamed exactly as `send`.
   * The context is the path above the edited message.
   */
  async edit(
    user: ChatUser,
    input: { messageId: string; content: string; model?: string | undefined; speak?: boolean | undefined },
    request: ChatRequest,
  ): Promise<AsyncGenerator<ChatStreamEvent>> {
    const message = await findOwnMessage(this.options.prisma, user.id, input.messageId);
    if (message.role !== 'user') throw new AppError('invalid_input', 'Only your own messages can be edited. To get another reply, regenerate it.');
    const [path, lastReply] = await Promise.all([
      readPath(this.options.prisma, message.conversationId, { from: message.parentId, limit: HISTORY_LOAD_LIMIT }),
      this.options.prisma.message.findFirst({
        where: { parentId: message.id, role: 'assistant' },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        select: { model: true },
      }),
    ]);
    return this.send(
      user,
      {
        conversationId: message.conversationId,
        content: input.content,
        model: input.model ?? this.usableModel(user, lastReply?.model ?? null),
        branch: { history: contextOf(path), parentId: message.parentId },
        speak: input.speak,
      },
      request,
    );
  }

  /** The model a version answers with when none is asked for: the earlier reply's, if the plan still offers it. */
  private usableModel(user: ChatUser, model: string | null): string | undefined {
    return model && this.modelsFor(this.options.planResolver.planFor(user)).includes(model) ? model : undefined;
  }

  /**
   * The plan's fallback model (limits.fallbackModel) for a request to `model`, with its prices and
   * completion cap (lowered to what its context window leaves after the prompt); undefined when the
   * plan has none, it is the model asked for, or it cannot take the prompt.
   */
  private fallbackFor(plan: TPlan, model: string, available: readonly string[], promptEstimate: number) {
    const id = plan.limits.fallbackModel;
    if (!id || id === model || !available.includes(id)) return undefined;
    const price = findModelPrice(this.options.pricing, id);
    if (!price || !this.options.providers.forModel(id)) return undefined;
    const maxTokens = Math.min(this.options.maxTokens, price.maxOutputTokens, price.contextWindow - promptEstimate);
    return maxTokens > 0 ? { model: id, price, maxTokens } : undefined;
  }

  /** A request refused before the provider was called: settled as an uncharged error, the message given back. */
  private async giveBack(input: {
    reservationId: string;
    isGuest: boolean;
    ipHash: string;
    model: string;
    provider: string;
    price: TModelPrice;
  }): Promise<void> {
    await settleChatWithRetry(this.options.meter, {
      ...input,
      promptTokens: 0,
      completionTokens: 0,
      cachedTokens: 0,
      estimated: false,
      status: 'error',
      latencyMs: 0,
      refundMessage: true,
    }).catch((error: Error) =>
      this.options.logger.error({ err: error.message, reservationId: input.reservationId }, 'releasing a refused reservation failed; the sweeper settles it'),
    );
  }

  private async *run(state: RunState): AsyncGenerator<ChatEvent> {
    const o = this.options;
    const { user, plan, month, request, model, route, price, fitted, maxTokens, cacheKey, cachedText, ipHash, reservation } = state;
    const cached = cachedText !== undefined;
    const lease: LeaseHolder = { current: state.admission?.lease };
    const messageId = randomUUID();
    const started = Date.now();
    // The upstream call's controller: the client's stop or disconnect (relay) and the account's deletion abort it.
    const upstream = new AbortController();
    // Until settled: deleting the account aborts the reply and waits for its settlement.
    const inflight = this.inflight.track(user.id, (reason) => upstream.abort(reason));
    const reply: ReplyState = { relayed: '', note: '', finishReason: undefined, toolCalls: [], usage: undefined, status: 'ok', failure: undefined };
    const partial = new PartialSaver(o.meter, o.logger, reservation.id, o.partialSaveMs ?? 1000, started);
    let settled = false;

    const settle = async () => {
      if (settled) return undefined;
      settled = true;
      await partial.flush();
      // 6. The provider's usage is the truth; without it, count what was relayed.
      const tokens = meteredTokens(reply, { cached, model, promptEstimate: fitted.promptTokens });
      const status: UsageStatus = cached ? 'cached' : reply.status;
      // A dropped connection is retried (bounded); settlement is idempotent, so a retry cannot charge twice.
      const result = await settleChatWithRetry(
        o.meter,
        {
          reservationId: reservation.id,
          isGuest: user.isGuest,
          ipHash,
          model,
          provider: route.id,
          price,
          promptTokens: tokens.promptTokens,
          completionTokens: tokens.completionTokens,
          cachedTokens: reply.usage?.cachedPromptTokens ?? 0,
          estimated: tokens.estimated,
          status,
          latencyMs: Date.now() - started,
          refundMessage: reply.status === 'error' && reply.relayed.length === 0,
          assistant: {
            messageId,
            content: reply.relayed + reply.note,
            finishReason: reply.status === 'ok' ? (cached ? 'stop' : (reply.finishReason ?? null)) : null,
          },
          ...(partial.saved ? { clearPartial: true } : {}),
        },
        {
          onRetry: (error, attempt) =>
            o.logger.warn({ err: (error as Error).message, attempt, reservationId: reservation.id }, 'settlement lost its database connection; retrying'),
        },
      );
      if (!result) return undefined;
      try {
        o.onSettled?.({
          user,
          plan,
          month,
          ipHash,
          model,
          provider: route.id,
          status,
          ...tokens,
          costMicroUsd: result.costMicroUsd,
          anonymised: result.anonymised,
          fundedBy: reservation.fundedBy,
        });
      } catch (error) {
        o.logger.error({ err: (error as Error).message }, 'onSettled hook failed');
      }
      return { costMicroUsd: result.costMicroUsd, ...tokens };
    };

    try {
      yield {
        type: 'start',
        conversationId: reservation.conversationId,
        messageId,
        userMessageId: reservation.userMessageId,
        model,
        demo: route.provider.isDemo,
        maxTokens: reservation.maxTokens,
      };
      if (cached) {
        reply.relayed = cachedText;
        yield { type: 'delta', text: cachedText };
      } else {
        // 5. Stream; a client that stops or disconnects aborts the upstream call.
        for await (const text of this.relay(state, reply, lease, upstream)) {
          partial.maybeSave(reply.relayed);
          yield { type: 'delta', text };
        }
        if (reply.status === 'ok') {
          // Only tool calls, or no text at all: say so rather than show an empty reply.
          const addition = replyNote({ text: reply.relayed, finishReason: reply.finishReason, toolCalls: reply.toolCalls });
          if (addition) {
            reply.note = reply.relayed ? `\n\n${addition}` : addition;
            yield { type: 'delta', text: reply.note };
          }
        }
        // Only a complete, ordinary answer is worth serving to the next asker.
        if (
          cacheKey &&
          isCacheable({
            status: reply.status,
            finishReason: reply.finishReason,
            note: reply.note,
            requestedMaxTokens: maxTokens,
            grantedMaxTokens: reservation.maxTokens,
          })
        ) {
          this.cache.set(cacheKey, reply.relayed);
        }
      }
      const metered = await settle();
      if (reply.failure) throw this.providerFailure(reply.failure, request.requestId);
      if (metered && reply.status !== 'aborted') {
        yield {
          type: 'done',
          usage: {
            promptTokens: metered.promptTokens,
            completionTokens: metered.completionTokens,
            totalTokens: metered.promptTokens + metered.completionTokens,
            costMicroUsd: metered.costMicroUsd,
            estimated: metered.estimated,
          },
          status: cached ? 'cached' : reply.status,
          cached,
          // Only replies that ended with `stop` are cached.
          finishReason: cached ? 'stop' : (reply.finishReason ?? null),
          limitedBy: reservation.limitedBy,
          degradedFrom: reservation.degradedFrom,
        };
      }
    } finally {
      lease.current?.release();
      // The consumer went away (generator returned early): settle what was relayed.
      if (!settled) {
        if (reply.status === 'ok') reply.status = 'aborted';
        await settle().catch((error: Error) => o.logger.error({ err: error.message, reservationId: reservation.id }, 'settlement failed'));
      }
      inflight.done();
    }
  }

  /**
   * The provider's stream: yields the text as it comes and gathers the finish reason, tool calls and
   * usage into `reply`. A stop, a disconnect or the account's deletion aborts the upstream call and
   * ends it as `aborted`; a failure ends it as `error` (kept in `reply.failure`), never thrown here.
   * A provider's 429 before any text sends the request back to the gate's queue instead.
   * `controller` is the reply's own (run()): the account's deletion aborts it too.
   */
  private async *relay(state: RunState, reply: ReplyState, lease: LeaseHolder, controller: AbortController): AsyncGenerator<string> {
    const { request, model, route, price, fitted, reservation, admission, user } = state;
    let streamed = false;
    const onAbort = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onAbort, { once: true });
    if (request.signal?.aborted) onAbort();
    try {
      for (;;) {
        try {
          const events = route.provider.stream({
            model,
            messages: fitted.messages,
            maxTokens: reservation.maxTokens,
            ...(price.reasoning ? { reasoning: true } : {}),
            user: this.hashIp(user.id),
            signal: controller.signal,
            requestId: request.requestId,
            // A 429 comes back here at once: the request waits in the gate's queue, not in a retry loop of its own.
            retryRateLimited: false,
            ...(admission ? { onResponse: (status: number, headers: Headers) => admission.gate.observe(status, headers) } : {}),
          });
          for await (const event of coalesceReadyDeltas(events)) {
            if (event.type === 'delta') {
              reply.relayed += event.text;
              yield event.text;
            } else if (event.type === 'tool_call') {
              if (!reply.toolCalls.includes(event.name)) reply.toolCalls.push(event.name);
            } else if (event.type === 'finish') {
              reply.finishReason = event.reason;
            } else if (event.type === 'usage') {
              reply.usage = event;
            }
          }
          break;
        } catch (error) {
          // The provider's 429 is never passed on: back to the queue, in plan order, until the deadline.
          const limited = lease.current;
          if (
            !admission ||
            !limited ||
            controller.signal.aborted ||
            !isProviderError(error) ||
            error.kind !== 'rate_limited' ||
            error.startedStreaming ||
            reply.relayed.length > 0
          )
            throw error;
          lease.current = undefined;
          await admission.gate.rateLimited(limited, error.retryAfterMs);
          lease.current = await admission.gate.admit({ ...admission.request, signal: controller.signal });
        }
      }
      streamed = true;
    } catch (error) {
      if (isAbortError(error, controller.signal) || request.signal?.aborted || controller.signal.aborted) {
        reply.status = 'aborted';
      } else {
        reply.status = 'error';
        reply.failure = error;
      }
    } finally {
      lease.current?.release(reply.usage ? reply.usage.promptTokens + reply.usage.completionTokens : undefined);
      lease.current = undefined;
      request.signal?.removeEventListener('abort', onAbort);
      // Left early (the consumer went away): the upstream call stops now, not at its next chunk.
      if (!streamed) controller.abort();
    }
  }

  /** What the user is told when the provider failed: the app's own refusals as they are, the rest as `provider_unavailable`. */
  private providerFailure(failure: unknown, requestId: string): AppError {
    if (isAppError(failure)) return failure;
    this.options.logger.warn({ err: failure instanceof Error ? failure.message : String(failure), requestId }, 'provider failed');
    const kind = isProviderError(failure) ? failure.kind : 'unavailable';
    return new AppError(
      'provider_unavailable',
      kind === 'rate_limited' || kind === 'timeout'
        ? 'The AI provider is busy right now. Please try again in a moment.'
        : 'The AI provider is unavailable right now. Please try again later.',
      isProviderError(failure) && failure.retryAfterMs ? { retryAfterSeconds: Math.ceil(failure.retryAfterMs / 1000) } : {},
    );
  }
}

/** One reply's way through run(): what the reservation decided and what the provider is asked. */
interface RunState {
  user: ChatUser;
  plan: TPlan;
  month: MonthPeriod;
  request: { ip: string; requestId: string; signal?: AbortSignal | undefined };
  model: string;
  route: RoutedProvider;
  price: TModelPrice;
  fitted: ReturnType<typeof fitContextWindow>;
  /** The completion cap asked for; the reservation may have lowered it. */
  maxTokens: number;
  cacheKey: string | undefined;
  cachedText: string | undefined;
  ipHash: string;
  reservation: Awaited<ReturnType<Meter['reserveChat']>>;
  admission: { gate: ProviderGate; request: GateRequest; lease: GateLease } | undefined;
}

/** What one reply has gathered while it streams; settlement and `done` read it. */
interface ReplyState {
  relayed: string;
  /** ChatMeter's own words after the provider's text (reply-notes.ts): shown and stored, never metered. */
  note: string;
  finishReason: FinishReason | undefined;
  toolCalls: string[];
  usage: ProviderUsage | undefined;
  status: UsageStatus;
  failure: unknown;
}

/** The provider gate's lease, which a 429 swaps for a new one while the reply waits in the queue. */
interface LeaseHolder {
  current: GateLease | undefined;
}

/**
 * The tokens a reply is metered for, the one rule settlement and `done` share: the provider's usage
 * is the truth; without it, the prompt's estimate (unless the request failed before any text) and
 * the relayed text counted with the model's tokenizer. A cached answer costs nothing.
 */
function meteredTokens(
  reply: Pick<ReplyState, 'usage' | 'relayed' | 'status'>,
  { cached, model, promptEstimate }: { cached: boolean; model: string; promptEstimate: number },
): { promptTokens: number; completionTokens: number; estimated: boolean } {
  if (cached) return { promptTokens: 0, completionTokens: 0, estimated: false };
  const { usage, relayed, status } = reply;
  return {
    promptTokens: usage?.promptTokens ?? (relayed.length > 0 || status !== 'error' ? promptEstimate : 0),
    completionTokens: usage?.completionTokens ?? countTextTokens(model, relayed),
    estimated: usage === undefined,
  };
}

/**
 * Saves the relayed text now and then (one save at a time, at most every `everyMs`), so a server
 * that dies mid-stream leaves it for the sweeper (sweeper.ts); settlement awaits the last save.
 */
class PartialSaver {
  saved = false;
  private savedAt: number;
  private saving: Promise<void> | undefined;

  constructor(
    private readonly meter: Meter,
    private readonly logger: Logger,
    private readonly reservationId: string,
    private readonly everyMs: number,
    started: number,
  ) {
    this.savedAt = started;
  }

  maybeSave(text: string): void {
    if (this.saving || Date.now() - this.savedAt < this.everyMs) return;
    this.savedAt = Date.now();
    this.saved = true;
    this.saving = this.meter
      .savePartial(this.reservationId, text)
      .catch((error: Error) => this.logger.warn({ err: error.message, reservationId: this.reservationId }, 'could not save the partial reply'))
      .finally(() => {
        this.saving = undefined;
      });
  }

  async flush(): Promise<void> {
    if (this.saving) await this.saving;
  }
}
