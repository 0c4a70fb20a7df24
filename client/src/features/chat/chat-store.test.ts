import { QueryClient } from '@tanstack/react-query';
import { TRPCClientError } from '@trpc/client';
import type { TChatEvent } from '@chatmeter/shared/chat';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const mutate = vi.fn();
const regenerate = vi.fn();
const edit = vi.fn();
const selectVersion = vi.fn();
vi.mock('../../trpc.ts', () => ({
  trpc: {
    chat: {
      send: { mutate: (...args: unknown[]) => mutate(...args) },
      regenerate: { mutate: (...args: unknown[]) => regenerate(...args) },
      edit: { mutate: (...args: unknown[]) => edit(...args) },
      selectVersion: { mutate: (...args: unknown[]) => selectVersion(...args) },
    },
  },
}));

const { ChatStore } = await import('./chat-store.ts');
const { messagesQueryKey } = await import('./chat-queries.ts');

const start: TChatEvent = {
  type: 'start',
  conversationId: '00000000-0000-4000-8000-000000000001',
  messageId: 'a1',
  userMessageId: 'u1',
  model: 'demo',
  demo: true,
  maxTokens: 256,
};
const usage = { promptTokens: 12, completionTokens: 3, totalTokens: 15, costMicroUsd: 4, estimated: false };

async function* events(list: TChatEvent[]) {
  for (const event of list) yield event;
}

function refusal(reason: string, message: string, extra: Record<string, unknown> = {}) {
  return TRPCClientError.from({ error: { message, code: -32600, data: { reason, ...extra } } });
}

let queryClient: QueryClient;
beforeEach(() => {
  mutate.mockReset();
  regenerate.mockReset();
  edit.mockReset();
  selectVersion.mockReset();
  queryClient = new QueryClient();
});

describe('ChatStore.send', () => {
  it('streams a reply into a turn and refreshes usage and the conversation list', async () => {
    const store = new ChatStore();
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries');
    mutate.mockResolvedValue(
      events([
        start,
        { type: 'delta', text: 'Hi' },
        { type: 'delta', text: '!' },
        { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null },
      ]),
    );
    store.setDraft('Hello');
    const outcome = await store.send({ content: 'Hello', conversationId: null, model: 'demo' }, { queryClient, isVisitor: true });

    expect(outcome).toEqual({ ok: true, stopped: false });
    expect(mutate).toHaveBeenCalledWith({ content: 'Hello', model: 'demo' }, expect.objectContaining({ signal: expect.any(AbortSignal) }));
    const [turn] = store.getSnapshot().turns;
    expect(turn).toMatchObject({ phase: 'done', text: 'Hi!', usage, conversationId: start.conversationId, startedNew: true, claimed: false });
    expect(store.getSnapshot()).toMatchObject({ activeKey: null, draft: '', notice: null });
    // A brand-new conversation has nothing to fetch yet.
    expect(queryClient.getQueryData(messagesQueryKey(start.conversationId))).toEqual({ pages: [{ items: [], nextCursor: null }], pageParams: [null] });
    const keys = invalidate.mock.calls.map(([filters]) => JSON.stringify(filters?.queryKey));
    expect(keys).toContain(JSON.stringify(['usage']));
    expect(keys).toContain(JSON.stringify(['chat', 'conversations']));
    // The visitor's first message made a guest session: ask who we are.
    expect(keys).toContain(JSON.stringify(['auth', 'me']));
  });

  it('a Continue sent by button keeps the draft the visitor is writing', async () => {
    const store = new ChatStore();
    mutate.mockResolvedValue(
      events([
        start,
        { type: 'delta', text: 'and so on.' },
        { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null },
      ]),
    );
    store.setDraft('half-written question');
    await store.send({ content: 'Continue.', conversationId: start.conversationId, model: null, keepDraft: true }, { queryClient, isVisitor: false });
    expect(mutate).toHaveBeenCalledWith({ content: 'Continue.', conversationId: start.conversationId }, expect.anything());
    expect(store.getSnapshot().draft).toBe('half-written question');
    // Refused before it started: the draft is not replaced by "Continue.".
    mutate.mockRejectedValue(refusal('rate_limited', 'Slow down.', { retryAfterSeconds: 5 }));
    store.setDraft('');
    await store.send({ content: 'Continue.', conversationId: start.conversationId, model: null, keepDraft: true }, { queryClient, isVisitor: false });
    expect(store.getSnapshot().draft).toBe('');
  });

  it('stops a reply and keeps what arrived', async () => {
    const store = new ChatStore();
    mutate.mockImplementation(async (_input: unknown, { signal }: { signal: AbortSignal }) =>
      (async function* () {
        yield start;
        yield { type: 'delta', text: 'Partial' } as TChatEvent;
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new DOMException('Aborted', 'AbortError'))));
      })(),
    );
    const sending = store.send({ content: 'Tell me more', conversationId: start.conversationId, model: null }, { queryClient, isVisitor: false });
    await vi.waitFor(() => expect(store.getSnapshot().turns[0]?.text).toBe('Partial'));
    expect(store.getSnapshot().activeKey).not.toBeNull();
    store.stop();
    await expect(sending).resolves.toEqual({ ok: true, stopped: true });
    expect(store.getSnapshot().turns[0]).toMatchObject({ phase: 'stopped', text: 'Partial', status: 'aborted' });
    expect(store.getSnapshot().activeKey).toBeNull();
  });

  it('puts a refused message back in the composer and keeps the refusal to show', async () => {
    const store = new ChatStore();
    mutate.mockRejectedValue(refusal('quota_exhausted', "You have used today's 5 messages.", { resetAt: '2026-11-21T00:00:00.000Z', upgrade: true }));
    const outcome = await store.send({ content: 'One more?', conversationId: null, model: null }, { queryClient, isVisitor: false });
    expect(outcome.ok).toBe(false);
    const snapshot = store.getSnapshot();
    expect(snapshot.turns).toEqual([]);
    expect(snapshot.draft).toBe('One more?');
    expect(snapshot.notice?.error).toMatchObject({ reason: 'quota_exhausted', resetAt: new Date('2026-11-21T00:00:00.000Z') });
    expect(snapshot.notice?.waitUntil).toBeUndefined();
  });

  it('times a rate limit from when it arrived', async () => {
    const store = new ChatStore();
    mutate.mockRejectedValue(refusal('rate_limited', 'Please wait a moment.', { retryAfterSeconds: 30 }));
    const before = Date.now();
    await store.send({ content: 'Quick', conversationId: null, model: null }, { queryClient, isVisitor: false });
    const waitUntil = store.getSnapshot().notice?.waitUntil ?? 0;
    expect(waitUntil).toBeGreaterThanOrEqual(before + 30_000);
    expect(waitUntil).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('sends one message at a time', async () => {
    const store = new ChatStore();
    let release!: () => void;
    mutate.mockImplementation(async () =>
      (async function* () {
        yield start;
        await new Promise<void>((resolve) => (release = resolve));
      })(),
    );
    const first = store.send({ content: 'a', conversationId: null, model: null }, { queryClient, isVisitor: false });
    await vi.waitFor(() => expect(store.getSnapshot().turns[0]?.phase).toBe('streaming'));
    await expect(store.send({ content: 'b', conversationId: null, model: null }, { queryClient, isVisitor: false })).resolves.toEqual({
      ok: false,
      error: null,
    });
    release();
    await first;
    expect(mutate).toHaveBeenCalledTimes(1);
  });
});

describe('ChatStore.bindOwner', () => {
  it('keeps a visitor’s turns when they become a guest, and drops them for another account', async () => {
    const store = new ChatStore();
    mutate.mockResolvedValue(events([start, { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null }]));
    await store.send({ content: 'Hi', conversationId: null, model: null }, { queryClient, isVisitor: true });
    store.bindOwner('guest-1');
    expect(store.getSnapshot().turns).toHaveLength(1);
    store.bindOwner('guest-1');
    expect(store.getSnapshot().turns).toHaveLength(1);
    store.bindOwner('someone-else');
    expect(store.getSnapshot().turns).toHaveLength(0);
  });

  it('a guest who signs up keeps its turns and the message it could not send, and the limit notice goes', async () => {
    const store = new ChatStore();
    mutate.mockResolvedValueOnce(
      events([start, { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null }]),
    );
    await store.send({ content: 'Hi', conversationId: null, model: null }, { queryClient, isVisitor: true });
    store.bindOwner('guest-1', true);
    mutate.mockRejectedValueOnce(
      refusal('quota_exhausted', "You have used today's 5 messages.", { limit: 'messagesPerDay', resetAt: '2026-12-06T00:00:00.000Z', upgrade: true }),
    );
    await store.send({ content: 'one more', conversationId: start.conversationId, model: null }, { queryClient, isVisitor: false });
    expect(store.getSnapshot().notice?.error).toMatchObject({ reason: 'quota_exhausted', limit: 'messagesPerDay' });
    // Still a guest (a refetch of who we are): the notice stays.
    store.bindOwner('guest-1', true);
    expect(store.getSnapshot().notice).not.toBeNull();
    // The same id, now an account: the notice goes, the turns and the draft stay.
    store.bindOwner('guest-1', false);
    expect(store.getSnapshot()).toMatchObject({ notice: null, draft: 'one more' });
    expect(store.getSnapshot().turns).toHaveLength(1);
  });
});

describe('ChatStore versions', () => {
  const conversationId = start.conversationId;
  const done: TChatEvent = { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null };

  it('regenerates with chat.regenerate, keeps the draft, and hands the finished turn to the refetched server list', async () => {
    const store = new ChatStore();
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries');
    regenerate.mockResolvedValue(events([{ ...start, messageId: 'a2' }, { type: 'delta', text: 'Again' }, done]));
    store.setDraft('half-typed');
    const outcome = await store.send(
      { content: 'Question', conversationId, model: 'demo', branch: { kind: 'regenerate', replyId: 'a1' } },
      { queryClient, isVisitor: false },
    );
    expect(outcome).toEqual({ ok: true, stopped: false });
    expect(regenerate).toHaveBeenCalledWith({ messageId: 'a1', model: 'demo' }, expect.objectContaining({ signal: expect.any(AbortSignal) }));
    expect(mutate).not.toHaveBeenCalled();
    expect(store.getSnapshot()).toMatchObject({ draft: 'half-typed', turns: [] });
    expect(invalidate.mock.calls.map(([filters]) => JSON.stringify(filters?.queryKey))).toContain(JSON.stringify(messagesQueryKey(conversationId)));
  });

  it('an edit refused before it started says so (started: false) and writes no turn', async () => {
    const store = new ChatStore();
    edit.mockRejectedValue(refusal('conflict', 'A reply is still being written in this conversation.'));
    const outcome = await store.send(
      { content: 'New words', conversationId, model: null, branch: { kind: 'edit', messageId: 'u1' } },
      { queryClient, isVisitor: false },
    );
    expect(edit).toHaveBeenCalledWith({ messageId: 'u1', content: 'New words' }, expect.anything());
    expect(outcome).toMatchObject({ ok: false, started: false });
    expect(store.getSnapshot()).toMatchObject({ turns: [], draft: '', notice: { error: { reason: 'conflict' } } });
  });

  it('switches versions with chat.selectVersion and refetches the conversation', async () => {
    const store = new ChatStore();
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries');
    selectVersion.mockResolvedValue({ conversationId, leafId: 'a1' });
    expect(await store.selectVersion(conversationId, 'a1', queryClient)).toBeNull();
    expect(selectVersion).toHaveBeenCalledWith({ messageId: 'a1' });
    expect(invalidate.mock.calls.map(([filters]) => JSON.stringify(filters?.queryKey))).toContain(JSON.stringify(messagesQueryKey(conversationId)));
  });
});

describe('ChatStore view state (the chat page keeps nothing of its own)', () => {
  const done: TChatEvent = { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null };

  it('outlives the page: drawer, search, picked model and the captcha solution are read back as set', () => {
    const store = new ChatStore();
    store.setSidebarOpen(true);
    store.setSearchQuery('fibonacci');
    store.pickModel('gpt-4o-mini');
    store.captchaSolved('payload-1');
    expect(store.getSnapshot().view).toEqual({
      sidebarOpen: true,
      searchQuery: 'fibonacci',
      pickedModel: 'gpt-4o-mini',
      followSignal: 0,
      captcha: { payload: 'payload-1', key: 0, error: null },
    });
    store.captchaFailed('The check failed');
    expect(store.getSnapshot().view.captcha).toEqual({ payload: 'payload-1', key: 0, error: 'The check failed' });
    // A solution is good once: a fresh widget (new key) and no payload.
    store.renewCaptcha();
    expect(store.getSnapshot().view.captcha).toEqual({ payload: null, key: 1, error: null });
  });

  it('every send bumps the follow signal once, refused or not', async () => {
    const store = new ChatStore();
    mutate.mockResolvedValueOnce(events([start, { type: 'delta', text: 'Hi' }, done]));
    await store.send({ content: 'one', conversationId: null, model: 'demo' }, { queryClient, isVisitor: false });
    mutate.mockRejectedValueOnce(refusal('rate_limited', 'Slow down', { retryAfterSeconds: 5 }));
    await store.send({ content: 'two', conversationId: null, model: 'demo' }, { queryClient, isVisitor: false });
    expect(store.getSnapshot().view.followSignal).toBe(2);
  });

  it('another account starts from a fresh page', () => {
    const store = new ChatStore();
    store.bindOwner('user-a', false);
    store.pickModel('gpt-4o');
    store.setSearchQuery('secret plans');
    store.bindOwner('user-b', false);
    expect(store.getSnapshot().view).toMatchObject({ pickedModel: null, searchQuery: '' });
  });
});
