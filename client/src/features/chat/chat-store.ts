// The chat's live state for this tab: turns sent from here, the streaming one,
// the composer's draft and the last refusal. It lives outside React so a reply
// keeps streaming while the visitor looks at another tab (Usage, Billing) and is
// there when they come back. A sign-out reloads the page, which clears it; a
// different account signing in clears it too (see bindOwner).
import type { QueryClient } from '@tanstack/react-query';
import { useSyncExternalStore } from 'react';
import { readApiError, type ApiError } from '../../lib/api-error.ts';
import { trpc } from '../../trpc.ts';
import { meQueryKey } from '../auth/use-me.ts';
import { refreshUsage } from '../usage/use-usage.ts';
import { conversationsQueryKey, messagesQueryKey, seedNewConversation } from './chat-queries.ts';
import { applyChatEvent, closeSpeech, endTurn, newTurn, type Turn, type TurnBranch } from './chat-state.ts';
import { ClipQueue, releaseVoice, takeVoice } from '../tts/clip-queue.ts';
import { getVoicePreferences } from '../tts/use-voice-preferences.ts';

export interface ChatNotice {
  id: number;
  error: ApiError;
  /** The conversation the refused message was meant for (null: a new one). */
  conversationId: string | null;
  /** When sending makes sense again (ms since epoch), from retryAfterSeconds; fixed when the refusal arrived. */
  waitUntil: number | undefined;
}

export interface ChatSnapshot {
  turns: readonly Turn[];
  draft: string;
  notice: ChatNotice | null;
  /** The turn streaming now, if any: one at a time. */
  activeKey: string | null;
  /** A reply read aloud as it streamed is still playing (after its stream ended): Stop silences it. */
  speaking: boolean;
  /** The chat page's own state, kept here so that it outlives a visit to another tab. */
  view: ChatView;
}

export interface ChatView {
  /** The conversations drawer on narrow screens. */
  sidebarOpen: boolean;
  searchQuery: string;
  /** The model picked on the page (null: the default model from the preferences, or the plan's first). */
  pickedModel: string | null;
  /** Bumped by every send: the message list follows the new reply to the bottom. */
  followSignal: number;
  /** A visitor's proof-of-work check: its solution (good once), the widget's generation, and its failure. */
  captcha: { payload: string | null; key: number; error: string | null };
}

export interface SendRequest {
  content: string;
  conversationId: string | null;
  model: string | null;
  captcha?: string | undefined;
  /** Sent by a button, not typed (Continue): the composer's draft stays as it is. */
  keepDraft?: boolean;
  /** Regenerate a reply or edit a message (chat.regenerate / chat.edit) instead of sending at the end. */
  branch?: TurnBranch | undefined;
}

/** `started`: false when the request was refused before anything streamed (nothing was written). */
export type SendOutcome = { ok: true; stopped: boolean } | { ok: false; error: ApiError | null; started?: boolean };

function noticeOf(id: number, error: ApiError, conversationId: string | null): ChatNotice {
  const waitUntil = error.reason === 'rate_limited' && error.retryAfterSeconds !== undefined ? Date.now() + error.retryAfterSeconds * 1000 : undefined;
  return { id, error, conversationId, waitUntil };
}

const EMPTY_VIEW: ChatView = { sidebarOpen: false, searchQuery: '', pickedModel: null, followSignal: 0, captcha: { payload: null, key: 0, error: null } };
const EMPTY: ChatSnapshot = { turns: [], draft: '', notice: null, activeKey: null, speaking: false, view: EMPTY_VIEW };

export class ChatStore {
  private state: ChatSnapshot = EMPTY;
  private readonly listeners = new Set<() => void>();
  private controller: AbortController | null = null;
  /** The clips of the reply read aloud as it streams (auto-play on), played back to back. */
  private player: ClipQueue | null = null;
  private readonly voiceOwner = Symbol('chat-stream');
  private ownerId: string | null = null;
  private ownerIsGuest = true;
  private seq = 0;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ChatSnapshot => this.state;

  private update(change: (state: ChatSnapshot) => Partial<ChatSnapshot>): void {
    this.state = { ...this.state, ...change(this.state) };
    for (const listener of this.listeners) listener();
  }

  private updateTurn(key: string, change: (turn: Turn) => Turn): void {
    this.update((s) => ({ turns: s.turns.map((turn) => (turn.key === key ? change(turn) : turn)) }));
  }

  setDraft(draft: string): void {
    if (draft !== this.state.draft) this.update(() => ({ draft }));
  }

  private updateView(change: (view: ChatView) => Partial<ChatView>): void {
    this.update((s) => ({ view: { ...s.view, ...change(s.view) } }));
  }

  setSidebarOpen(open: boolean): void {
    if (open !== this.state.view.sidebarOpen) this.updateView(() => ({ sidebarOpen: open }));
  }

  setSearchQuery(searchQuery: string): void {
    this.updateView(() => ({ searchQuery }));
  }

  pickModel(model: string): void {
    this.updateView(() => ({ pickedModel: model }));
  }

  captchaSolved(payload: string): void {
    this.updateView((v) => ({ captcha: { ...v.captcha, payload, error: null } }));
  }

  captchaCleared(): void {
    this.updateView((v) => ({ captcha: { ...v.captcha, payload: null } }));
  }

  captchaFailed(message: string): void {
    this.updateView((v) => ({ captcha: { ...v.captcha, error: message } }));
  }

  /** A solution is good once: after a visitor's message, a fresh check starts (a new widget). */
  renewCaptcha(): void {
    this.updateView((v) => ({ captcha: { payload: null, key: v.captcha.key + 1, error: null } }));
  }

  dismissNotice(): void {
    if (this.state.notice) this.update(() => ({ notice: null }));
  }

  /** The page has followed a new conversation's first turn there. */
  claim(key: string): void {
    this.updateTurn(key, (turn) => ({ ...turn, claimed: true }));
  }

  /** Forgets a deleted conversation's turns. */
  forgetConversation(conversationId: string): void {
    this.update((s) => ({
      turns: s.turns.filter((turn) => turn.conversationId !== conversationId),
      notice: s.notice?.conversationId === conversationId ? null : s.notice,
    }));
  }

  /**
   * Who is chatting. A visitor becoming a guest (null -> id) keeps everything; a
   * different account (id -> other id) starts from nothing. A guest signing up keeps
   * its id and its turns (the account takes over its conversations), but the refusal
   * it was shown ("limit reached: sign up") no longer holds: the account has its own
   * limits, so the notice goes.
   */
  bindOwner(userId: string | null, isGuest = true): void {
    if (userId === null) return;
    const previous = this.ownerId;
    const wasGuest = this.ownerIsGuest;
    this.ownerId = userId;
    this.ownerIsGuest = isGuest;
    if (previous !== null && previous !== userId) {
      this.controller?.abort();
      this.player?.stop();
      this.state = EMPTY;
      for (const listener of this.listeners) listener();
    } else if (previous === userId && wasGuest && !isGuest && this.state.notice) {
      this.update(() => ({ notice: null }));
    }
  }

  /**
   * Hands a conversation's finished turns over to the server's list (fetched again first, so nothing
   * blinks): a regenerate, an edit or a switch of versions changes which messages the conversation shows,
   * and only the server's list knows their versions.
   */
  async settleTurns(conversationId: string, queryClient: QueryClient): Promise<void> {
    await queryClient.invalidateQueries({ queryKey: messagesQueryKey(conversationId) });
    this.update((s) => ({ turns: s.turns.filter((turn) => turn.conversationId !== conversationId || turn.key === s.activeKey) }));
  }

  /** Shows another version of a message (chat.selectVersion); remembered by the server for the next visit. */
  async selectVersion(conversationId: string, messageId: string, queryClient: QueryClient): Promise<ApiError | null> {
    if (this.state.activeKey) return null;
    try {
      await trpc.chat.selectVersion.mutate({ messageId });
    } catch (error) {
      const apiError = readApiError(error);
      this.update(() => ({ notice: noticeOf(++this.seq, apiError, conversationId) }));
      return apiError;
    }
    await this.settleTurns(conversationId, queryClient);
    return null;
  }

  /** Stops the streaming reply and its reading aloud; what has arrived stays. */
  stop(): void {
    this.controller?.abort();
    this.player?.stop();
  }

  /** A player for a reply read aloud as it streams; it takes the page's one voice (a speak button playing stops). */
  private startPlayer(): ClipQueue {
    this.player?.stop();
    const player: ClipQueue = new ClipQueue({
      onEnd: () => {
        if (this.player !== player) return;
        this.player = null;
        releaseVoice(this.voiceOwner);
        if (this.state.speaking) this.update(() => ({ speaking: false }));
      },
    });
    this.player = player;
    takeVoice(this.voiceOwner, () => player.stop());
    return player;
  }

  async send(request: SendRequest, context: { queryClient: QueryClient; isVisitor: boolean }): Promise<SendOutcome> {
    if (this.state.activeKey) return { ok: false, error: null };
    const { queryClient } = context;
    const key = `turn-${++this.seq}`;
    const branch = request.branch ?? null;
    // Auto-play on: the reply is read aloud while it streams, each sentence as its audio arrives.
    const speak = getVoicePreferences().autoPlay;
    const turn = newTurn(key, request.content, request.conversationId, request.model, new Date(), branch, speak);
    this.update((s) => ({
      turns: [...s.turns, turn],
      activeKey: key,
      notice: null,
      draft: request.keepDraft || branch ? s.draft : '',
      view: { ...s.view, followSignal: s.view.followSignal + 1 },
    }));

    const controller = new AbortController();
    this.controller = controller;
    let started = false;
    let outcome: SendOutcome;
    try {
      const model = request.model ? { model: request.model } : {};
      const speakFlag = speak ? { speak: true } : {};
      const stream =
        branch?.kind === 'regenerate'
          ? await trpc.chat.regenerate.mutate({ messageId: branch.replyId, ...model, ...speakFlag }, { signal: controller.signal })
          : branch?.kind === 'edit'
            ? await trpc.chat.edit.mutate({ messageId: branch.messageId, content: request.content, ...model, ...speakFlag }, { signal: controller.signal })
            : await trpc.chat.send.mutate(
                {
                  content: request.content,
                  ...(request.conversationId ? { conversationId: request.conversationId } : {}),
                  ...model,
                  ...(request.captcha ? { captcha: request.captcha } : {}),
                  ...speakFlag,
                },
                { signal: controller.signal },
              );
      const player = speak ? this.startPlayer() : null;
      if (player) this.update(() => ({ speaking: true }));
      // Read to the end: speech events may follow `done`.
      for await (const event of stream) {
        if (event.type === 'audio' && player === this.player) player?.push(event.audioUrl);
        if (event.type === 'start' && !started) {
          started = true;
          if (request.conversationId === null) seedNewConversation(queryClient, event.conversationId);
          // The first message of a visitor made them a guest (the server set the cookie).
          void queryClient.invalidateQueries({ queryKey: conversationsQueryKey });
        }
        this.updateTurn(key, (current) => applyChatEvent(current, event));
      }
      const stopped = controller.signal.aborted;
      if (stopped) this.updateTurn(key, (current) => endTurn(current, { stopped: true }));
      // The last clips may still be playing: the player ends after them.
      if (player === this.player) player?.close();
      outcome = { ok: true, stopped };
    } catch (error) {
      // A broken or stopped stream: no more audio is coming.
      this.player?.close();
      if (controller.signal.aborted && started) {
        this.updateTurn(key, (current) => endTurn(current, { stopped: true }));
        outcome = { ok: true, stopped: true };
      } else if (!started) {
        // Refused before anything started (a limit, the captcha...): the message goes back into the composer.
        const apiError = controller.signal.aborted ? null : readApiError(error);
        this.update((s) => ({
          turns: s.turns.filter((t) => t.key !== key),
          draft: s.draft === '' && !request.keepDraft && !branch ? request.content : s.draft,
          notice: apiError ? noticeOf(this.seq, apiError, request.conversationId) : s.notice,
        }));
        outcome = { ok: false, error: apiError, started: false };
      } else {
        const apiError = readApiError(error);
        this.updateTurn(key, (current) => endTurn(current, { error: apiError }));
        this.update(() => ({ notice: noticeOf(this.seq, apiError, request.conversationId) }));
        outcome = { ok: false, error: apiError };
      }
    } finally {
      // A visitor's message (even a refused one) may have started a guest session: ask who we are now.
      if (context.isVisitor) void queryClient.invalidateQueries({ queryKey: meQueryKey, exact: true });
      if (this.controller === controller) this.controller = null;
      this.updateTurn(key, closeSpeech);
      this.update(() => ({ activeKey: null }));
    }
    // A regenerated reply or an edit is over: the server's list shows it now, with its versions. A stopped
    // one is settled on the server's time, so its turn stays on screen a moment longer.
    const branchConversation = branch && started ? request.conversationId : null;
    if (branchConversation) {
      if (outcome.ok && outcome.stopped) setTimeout(() => void this.settleTurns(branchConversation, queryClient), 1500);
      else await this.settleTurns(branchConversation, queryClient);
    }
    if (started || outcome.ok) {
      void refreshUsage(queryClient);
      void queryClient.invalidateQueries({ queryKey: conversationsQueryKey });
      // A stopped reply is settled on the server's time: read the tokens again a moment later.
      if (!outcome.ok || outcome.stopped) setTimeout(() => void refreshUsage(queryClient), 1500);
    } else if (outcome.error && outcome.error.reason !== 'captcha_required') {
      // A refusal may come with counters that moved (e.g. another tab used the last message).
      void refreshUsage(queryClient);
    }
    return outcome;
  }
}

/** The one store of this tab. */
export const chatStore = new ChatStore();

export function useChatStore(): ChatSnapshot {
  return useSyncExternalStore(chatStore.subscribe, chatStore.getSnapshot);
}
