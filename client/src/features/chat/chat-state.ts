// The chat's client-side state, as plain data and pure functions (tested without a
// browser): the turns sent from this tab, each a user message and the assistant's
// streamed reply, and how a `chat.send` event changes a turn.
import type { TChatEvent } from '@chatmeter/shared/chat';
import type { LimitName } from '@chatmeter/shared/errors';
import type { ApiError } from '../../lib/api-error.ts';

export type DoneEvent = Extract<TChatEvent, { type: 'done' }>;
export type ReplyUsage = DoneEvent['usage'];

/**
 * `sending`: waiting for `start` (limits, reservation); `streaming`: deltas arriving;
 * `done`: the server sent `done`; `stopped`: the visitor pressed Stop (the partial
 * answer stays); `failed`: the stream broke after it started.
 */
export type TurnPhase = 'sending' | 'streaming' | 'done' | 'stopped' | 'failed';

/**
 * A turn that goes into the conversation's tree rather than after its end: another reply to the
 * message `replyId` answered (regenerate), or a new version of the user message `messageId` (edit).
 * The view shows the stored messages before that point, then the turn.
 */
export type TurnBranch = { kind: 'regenerate'; replyId: string } | { kind: 'edit'; messageId: string };

export interface Turn {
  /** Client-side id, stable from the moment the message is sent. */
  key: string;
  /** Set for a regenerated reply or an edited message; null for a message sent at the end. */
  branch: TurnBranch | null;
  /** Known from `start`; null while a message that starts a conversation is on its way. */
  conversationId: string | null;
  /** Sent from the "new conversation" view: the page follows it to its conversation once. */
  startedNew: boolean;
  /** The page has moved to this new turn's conversation (or the visitor went elsewhere). */
  claimed: boolean;
  userMessageId: string | null;
  assistantMessageId: string | null;
  content: string;
  text: string;
  model: string | null;
  demo: boolean;
  phase: TurnPhase;
  usage: ReplyUsage | null;
  cached: boolean;
  status: string | null;
  /** From `done`: how the reply ended (`stop`, `length`, `refusal`...). */
  finishReason: string | null;
  /** From `done`: the limit that lowered the reply's completion cap to fit what was left, or null. */
  limitedBy: LimitName | null;
  /** From `done`: the model asked for when the plan's fallback answered instead (`model` names it), or null. */
  degradedFrom: string | null;
  error: ApiError | null;
  createdAt: Date;
  /** Sent with `speak` (auto-play on): the reply is read aloud as it streams; null otherwise. */
  speech: TurnSpeech | null;
}

/** A reply read aloud as it streams: what the speech events said. */
export interface TurnSpeech {
  /** Sentences whose audio arrived (`audio`). */
  clips: number;
  /** What those sentences cost in micro-USD (the sum of their `costMicroUsd`): 0 with a free engine. */
  costMicroUsd: number;
  /** Sentences the voice service could not read (`audio_skipped`). */
  skipped: number;
  /** Speech stopped before the reply's end (`audio_end`): why. */
  ended: { reason: string; message: string; limit: LimitName | null } | null;
  /** The stream has ended: no more speech events come (until then the speak button stays away, so it cannot buy the same sentences twice). */
  over: boolean;
}

export function newTurn(
  key: string,
  content: string,
  conversationId: string | null,
  model: string | null,
  now = new Date(),
  branch: TurnBranch | null = null,
  speak = false,
): Turn {
  return {
    key,
    branch,
    conversationId,
    startedNew: conversationId === null,
    claimed: conversationId !== null,
    userMessageId: null,
    assistantMessageId: null,
    content,
    text: '',
    model,
    demo: false,
    phase: 'sending',
    usage: null,
    cached: false,
    status: null,
    finishReason: null,
    limitedBy: null,
    degradedFrom: null,
    error: null,
    createdAt: now,
    speech: speak ? { clips: 0, costMicroUsd: 0, skipped: 0, ended: null, over: false } : null,
  };
}

/** One streamed event applied to a turn. Unknown event types leave it unchanged. */
export function applyChatEvent(turn: Turn, event: TChatEvent): Turn {
  switch (event.type) {
    case 'start':
      return {
        ...turn,
        phase: 'streaming',
        conversationId: event.conversationId,
        userMessageId: event.userMessageId,
        assistantMessageId: event.messageId,
        model: event.model,
        demo: event.demo,
      };
    case 'delta':
      return { ...turn, phase: turn.phase === 'sending' ? 'streaming' : turn.phase, text: turn.text + event.text };
    case 'done':
      return {
        ...turn,
        phase: 'done',
        usage: event.usage,
        cached: event.cached,
        status: event.status,
        finishReason: event.finishReason ?? null,
        limitedBy: event.limitedBy ?? null,
        degradedFrom: event.degradedFrom ?? null,
      };
    case 'audio':
      return turn.speech
        ? { ...turn, speech: { ...turn.speech, clips: turn.speech.clips + 1, costMicroUsd: turn.speech.costMicroUsd + (event.costMicroUsd ?? 0) } }
        : turn;
    case 'audio_skipped':
      return turn.speech ? { ...turn, speech: { ...turn.speech, skipped: turn.speech.skipped + 1 } } : turn;
    case 'audio_end':
      return turn.speech ? { ...turn, speech: { ...turn.speech, ended: { reason: event.reason, message: event.message, limit: event.limit } } } : turn;
    default:
      return turn;
  }
}

/** The small notes under a reply read aloud as it streamed: sentences skipped, and why speech stopped. */
export function describeSpeech(speech: TurnSpeech | null): string[] {
  if (!speech) return [];
  const lines: string[] = [];
  if (speech.skipped > 0) {
    lines.push(speech.skipped === 1 ? 'One sentence could not be read aloud.' : `${speech.skipped} sentences could not be read aloud.`);
  }
  if (speech.ended) lines.push(`Reading aloud stopped: ${speech.ended.message}`);
  return lines;
}

/** The stream ended (however): a reply read aloud gets no more speech events. */
export function closeSpeech(turn: Turn): Turn {
  return turn.speech && !turn.speech.over ? { ...turn, speech: { ...turn.speech, over: true } } : turn;
}

/** The stream ended without `done`: stopped by the visitor, or broken. */
export function endTurn(turn: Turn, how: { stopped: true } | { error: ApiError }): Turn {
  if (turn.phase === 'done') return turn;
  if ('stopped' in how) return { ...turn, phase: 'stopped', status: 'aborted' };
  return { ...turn, phase: 'failed', status: 'error', error: how.error };
}

export function isTurnActive(turn: Pick<Turn, 'phase'>): boolean {
  return turn.phase === 'sending' || turn.phase === 'streaming';
}

/** The turns a view shows: those of the open conversation, or the unstarted ones of a new chat. */
export function turnsFor(turns: readonly Turn[], conversationId: string | null): Turn[] {
  return turns.filter((turn) => turn.conversationId === conversationId);
}

/** A message as the server lists it (`chat.messages`). */
export interface ServerMessage {
  id: string;
  role: string;
  content: string;
  model: string | null;
  status: string;
  /** How the reply ended (null for user messages, stopped or broken replies, and older rows). */
  finishReason?: string | null;
  /** What the reply was metered for (null for user messages). */
  usage?: StoredUsage | null;
  createdAt: Date;
  /** Its versions (same parent, same role), oldest first, and which one this is (0-based); null when it has none. */
  versions?: MessageVersions | null;
}

export interface MessageVersions {
  index: number;
  count: number;
  ids: string[];
}

/**
 * The stored messages a view shows above its turns: all of them, or, while a regenerated reply or
 * an edited message is on screen, those before it (the version it replaces goes, and a regenerated
 * reply's question, which its turn shows; the server lists the new one, with its versions, once the
 * turn is over).
 */
export function messagesBeforeBranch(messages: readonly ServerMessage[], turns: readonly Turn[]): readonly ServerMessage[] {
  const branch = turns.find((turn) => turn.branch !== null)?.branch;
  if (!branch) return messages;
  const at = messages.findIndex((m) => m.id === (branch.kind === 'regenerate' ? branch.replyId : branch.messageId));
  if (at === -1) return messages;
  // A regenerated reply's turn shows the message it answers too.
  return messages.slice(0, branch.kind === 'regenerate' && messages[at - 1]?.role === 'user' ? at - 1 : at);
}

/** "Version 2 of 3": the switch's words for screen readers; "2/3" on screen. */
export function describeVersion(versions: Pick<MessageVersions, 'index' | 'count'>): { short: string; long: string } {
  return { short: `${versions.index + 1}/${versions.count}`, long: `Version ${versions.index + 1} of ${versions.count}` };
}

/** A stored reply's usage as `chat.messages` lists it. */
export interface StoredUsage {
  promptTokens: number;
  completionTokens: number;
  costMicroUsd: number;
  estimated: boolean;
}

/** A stored reply's usage in the shape of a `done` event's, for the same meta line. */
export function replyUsageOf(usage: StoredUsage): ReplyUsage {
  return { ...usage, totalTokens: usage.promptTokens + usage.completionTokens };
}

/**
 * Server pages (newest first) as a list to show (oldest first), without the
 * messages this tab already shows from its own turns (which carry the usage).
 */
export function mergeServerMessages(pages: readonly { items: readonly ServerMessage[] }[], localTurns: readonly Turn[]): ServerMessage[] {
  const local = new Set<string>();
  for (const turn of localTurns) {
    if (turn.userMessageId) local.add(turn.userMessageId);
    if (turn.assistantMessageId) local.add(turn.assistantMessageId);
  }
  const seen = new Set<string>();
  const out: ServerMessage[] = [];
  for (const page of pages) {
    for (const message of page.items) {
      if (local.has(message.id) || seen.has(message.id)) continue;
      seen.add(message.id);
      out.push(message);
    }
  }
  return out.reverse();
}

/** What the reply's meta line says about how it ended; null when it ended normally. */
export function describeEnding(finishReason: string | null | undefined): { flag: string; detail: string; kind: 'cut' | 'refused' | 'filtered' } | null {
  switch (finishReason) {
    case 'length':
      return { flag: 'Cut off', detail: 'reached the length limit', kind: 'cut' };
    case 'refusal':
      return { flag: 'Refused', detail: 'the model declined this request', kind: 'refused' };
    case 'content_filter':
      return { flag: 'Filtered', detail: "stopped by the provider's content filter", kind: 'filtered' };
    default:
      return null;
  }
}

/** A limit that can shorten a reply, in words: "your plan's monthly cost cap". */
const LIMIT_IN_WORDS: Partial<Record<LimitName, string>> = {
  costPerMonth: "your plan's monthly cost cap",
  personalSpendLimit: 'your own spending limit',
  tokensPerMonth: "this month's tokens",
  credits: 'your credits',
  globalTokensPerDay: "the service's daily token cap",
  globalCostPerDay: "the service's daily spending cap",
  globalCostPerMonth: "the service's monthly spending cap",
};

export function limitInWords(limit: string): string | null {
  return Object.hasOwn(LIMIT_IN_WORDS, limit) ? (LIMIT_IN_WORDS[limit as LimitName] ?? null) : null;
}

/**
 * What the lines under a finished reply say about the budget: the completion cap was lowered
 * to fit what was left (`limitedBy`), or the plan's fallback model answered (`degradedFrom`).
 */
export function describeBudgetFit(turn: Pick<Turn, 'limitedBy' | 'degradedFrom' | 'model'>): string[] {
  const lines: string[] = [];
  if (turn.degradedFrom) {
    lines.push(`Answered by ${turn.model ?? "the plan's fallback model"} — ${turn.degradedFrom} no longer fits your budget`);
  }
  if (turn.limitedBy) {
    const words = limitInWords(turn.limitedBy);
    lines.push(words ? `Shortened to fit your remaining allowance (${words})` : 'Shortened to fit your remaining allowance');
  }
  return lines;
}

/** The reply the Continue button belongs to: the conversation's last one, finished at the length limit. */
export function continuableReplyId(messages: readonly ServerMessage[], turns: readonly Turn[]): string | null {
  const lastTurn = turns.at(-1);
  if (lastTurn) return lastTurn.phase === 'done' && lastTurn.finishReason === 'length' ? lastTurn.key : null;
  const last = messages.at(-1);
  return last && last.role === 'assistant' && last.finishReason === 'length' ? last.id : null;
}

/** "142 tokens · $0.000051 · estimated · cached": the discreet line under a reply. */
export function describeUsage(usage: ReplyUsage, cached: boolean, formatCost: (micros: number) => string): string[] {
  const parts = [`${usage.totalTokens.toLocaleString('en-US')} tokens`, formatCost(usage.costMicroUsd)];
  if (usage.estimated) parts.push('estimated');
  if (cached) parts.push('cached');
  return parts;
}

/**
 * A stored reply that broke off: the provider failed mid-stream (`error`), or the server
 * died while it streamed and the sweeper kept what had been relayed (`interrupted`;
 * `expired` for such replies stored before that status existed).
 */
export function isInterrupted(message: Pick<ServerMessage, 'role' | 'status'>): boolean {
  return message.role === 'assistant' && (message.status === 'error' || message.status === 'interrupted' || message.status === 'expired');
}

/**
 * What the Retry button resends, and under which reply (or unanswered message) it sits:
 * only at the end of the conversation, when the last reply failed or was interrupted,
 * or when the last message has no reply at all (the server died before any text).
 */
export function retryTarget(messages: readonly ServerMessage[], turns: readonly Turn[]): { id: string; content: string } | null {
  const lastTurn = turns.at(-1);
  if (lastTurn) return lastTurn.phase === 'failed' ? { id: lastTurn.key, content: lastTurn.content } : null;
  const last = messages.at(-1);
  if (!last) return null;
  if (last.role === 'user') return { id: last.id, content: last.content };
  if (!isInterrupted(last)) return null;
  const question = messages.findLast((m, i) => i < messages.length - 1 && m.role === 'user');
  return question ? { id: last.id, content: question.content } : null;
}
