// The offline demo model through the whole metered path, as a visitor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../auth/session.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('chat with the demo model', () => {
  it('a visitor gets a guest session, a streamed answer and a metered usage event', async () => {
    const b = server.browser();
    expect(await b.trpc.chat.models.query()).toMatchObject({ models: ['demo'], demo: true });
    const result = await send(b, { content: 'Hello! What can you do?' });
    expect(result.start).toMatchObject({ type: 'start', model: 'demo', demo: true });
    expect(result.text.length).toBeGreaterThan(20);
    expect(result.done?.usage.estimated).toBe(false);
    expect(result.done?.usage.totalTokens).toBe(result.done!.usage.promptTokens + result.done!.usage.completionTokens);
    expect(result.done?.usage.costMicroUsd).toBeGreaterThan(0);
    expect(b.cookies.get(SESSION_COOKIE)).toBeDefined();
    const me = await b.trpc.auth.me.query();
    expect(me).toMatchObject({ isGuest: true, plan: 'guest' });

    const events = await server.deps.prisma.usageEvent.findMany({ where: { userId: me!.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'ok', model: 'demo', isGuest: true, estimated: false, completionTokens: result.done!.usage.completionTokens });

    // The conversation and both messages are there.
    const { items } = await b.trpc.chat.conversations.query();
    expect(items).toHaveLength(1);
    const messages = await b.trpc.chat.messages.query({ conversationId: result.start!.conversationId });
    expect(messages.items.map((m) => m.role)).toEqual(['assistant', 'user']);
    expect(messages.items[0]!.content).toBe(result.text);

    // And the summary shows it.
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used).toMatchObject({ messagesToday: 1, messagesThisHour: 1, tokensThisMonth: result.done!.usage.totalTokens });
    expect(summary.costMicroUsd.thisMonth).toBe(result.done!.usage.costMicroUsd);
    const history = await b.trpc.usage.history.query();
    expect(history.items[0]).toMatchObject({ kind: 'chat', status: 'ok', costMicroUsd: result.done!.usage.costMicroUsd });
  });

  it('continues a conversation and a guest who signs up keeps it', async () => {
    const b = server.browser();
    const first = await send(b, { content: 'Tell me about pricing' });
    await send(b, { content: 'And the limits?', conversationId: first.start!.conversationId });
    await b.trpc.auth.signUp.mutate({ email: `keeper-${Date.now()}@example.com`, password: 'correct horse battery' });
    const messages = await b.trpc.chat.messages.query({ conversationId: first.start!.conversationId });
    expect(messages.items).toHaveLength(4);
    const summary = await b.trpc.usage.summary.query();
    expect(summary.plan).toBe('free');
    expect(summary.used.messagesToday).toBe(2);
  });

  it('titles a new conversation with its first message stripped of Markdown, and keeps that title', async () => {
    const b = server.browser();
    // A signed-up user: the guests' per-network allowance is for the other tests.
    await b.trpc.auth.signUp.mutate({ email: `titles-${Date.now()}@example.com`, password: 'correct horse battery' });
    const first = await send(b, { content: '## Compare **tokens** and `costs` in a [table](https://example.com/t)' });
    await send(b, { content: '**Another** _message_', conversationId: first.start!.conversationId });
    const { items } = await b.trpc.chat.conversations.query();
    expect(items.map((c) => c.title)).toEqual(['Compare tokens and costs in a table']);
  });

  it("another user's conversation is NOT_FOUND, for reading, continuing and deleting", async () => {
    const owner = server.browser();
    const { start } = await send(owner, { content: 'private thoughts' });
    const other = server.browser({ ip: '10.9.9.9' });
    await other.trpc.auth.guest.mutate();
    const conversationId = start!.conversationId;
    expect((await trpcError(other.trpc.chat.messages.query({ conversationId }))).reason).toBe('not_found');
    expect((await trpcError(send(other, { content: 'hi', conversationId }))).reason).toBe('not_found');
    expect((await trpcError(other.trpc.chat.deleteConversation.mutate({ conversationId }))).reason).toBe('not_found');
  });

  it('deleting a conversation gives no quota back', async () => {
    const b = server.browser({ ip: '10.9.9.10' });
    const { start } = await send(b, { content: 'something to delete' });
    const before = await b.trpc.usage.summary.query();
    await b.trpc.chat.deleteConversation.mutate({ conversationId: start!.conversationId });
    const after = await b.trpc.usage.summary.query();
    expect(after.used).toEqual(before.used);
    expect((await b.trpc.chat.conversations.query()).items).toHaveLength(0);
  });

  it('refuses a model outside the plan and input over the plan length', async () => {
    const b = server.browser({ ip: '10.9.9.11' });
    await b.trpc.auth.guest.mutate();
    expect(await trpcError(send(b, { content: 'hi', model: 'gpt-4.1' }))).toMatchObject({ code: 'FORBIDDEN', reason: 'model_not_in_plan' });
    expect(await trpcError(send(b, { content: 'x'.repeat(1_001) }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'input_too_long' });
  });
});

describe('captcha', () => {
  it('with CAPTCHA=on a visitor needs a solved challenge before a guest session, once per challenge', async () => {
    const { solveChallenge } = await import('altcha-lib');
    const { deriveKey } = await import('altcha-lib/algorithms/pbkdf2');
    const withCaptcha = await startTestServer({ CAPTCHA: 'on', CAPTCHA_HMAC_KEY: 'test-captcha-key-123456' });
    try {
      const b = withCaptcha.browser({ ip: '10.77.0.1' });
      expect(await trpcError(send(b, { content: 'hi' }))).toMatchObject({ code: 'FORBIDDEN', reason: 'captcha_required' });
      expect(await trpcError(b.trpc.auth.guest.mutate())).toMatchObject({ reason: 'captcha_required' });
      expect(await b.trpc.auth.me.query()).toBeNull();

      const challenge = (await b.trpc.auth.captchaChallenge.query()) as { parameters: Record<string, unknown>; signature: string };
      const solution = await solveChallenge({ challenge, deriveKey } as never);
      const payload = Buffer.from(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution })).toString(
        'base64',
      );
      const result = await send(b, { content: 'hi', captcha: payload });
      expect(result.done?.status).toBe('ok');
      expect(await b.trpc.auth.me.query()).toMatchObject({ isGuest: true });
      // The same solution cannot start a second guest session.
      expect(await trpcError(send(withCaptcha.browser({ ip: '10.77.0.2' }), { content: 'hi', captcha: payload }))).toMatchObject({
        reason: 'captcha_required',
      });
    } finally {
      await withCaptcha.close();
    }
  });
});
