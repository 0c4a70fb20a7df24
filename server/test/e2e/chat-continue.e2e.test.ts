// How a reply ended, in a real browser. A reply cut at the length limit: the demo model
// with a 16-token completion cap (CHAT_MAX_TOKENS=16) cuts its answers the way a model
// does (finish "length"). The reply is marked, a Continue button sends "Continue." in the
// same conversation (keeping whatever the visitor was typing), and a reload shows the
// mark and the button again from the stored finish reason. At 360 px and at desktop size.
// Then real captured streams replayed by the fake OpenAI server: a refusal is shown as
// the reply and marked, a tool-call-only reply says which tool the model tried to call.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../fakes/openai-server.ts';
import { loadCapture } from '../fakes/provider-captures.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('continuing a reply cut at the length limit', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', CHAT_MAX_TOKENS: '16' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch = await watchPage(page);
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  const log = () => page.getByRole('log', { name: 'Messages' });
  const input = () => page.getByRole('textbox', { name: 'Message' });
  const replies = () => log().getByRole('article', { name: 'Assistant' });
  const continueButton = () => log().getByRole('button', { name: 'Continue' });

  it('marks the cut reply and continues it in the same conversation, keeping the draft', async () => {
    await page.goto(`${server.url}/`);
    await input().fill('Write a Python function for Fibonacci numbers');
    await input().press('Enter');

    const first = replies().first();
    await first.getByText('Cut off', { exact: true }).waitFor();
    await first.getByText('reached the length limit').waitFor();
    await continueButton().waitFor();
    expect(await continueButton().count()).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-continue-desktop.png') });

    const conversationId = new URL(page.url()).searchParams.get('c');
    expect(conversationId).toBeTruthy();
    const cut = await server.deps.prisma.message.findFirstOrThrow({
      where: { conversationId: conversationId!, role: 'assistant' },
      select: { finishReason: true, status: true },
    });
    expect(cut).toEqual({ finishReason: 'length', status: 'ok' });

    // Something half-typed stays in the composer.
    await input().fill('my next question');
    await continueButton().click();
    await eventually(async () => expect(await replies().count()).toBe(2), 10_000);
    await replies().nth(1).getByText('Cut off', { exact: true }).waitFor();
    await expect(input().inputValue()).resolves.toBe('my next question');
    // Only the newest reply offers Continue.
    await eventually(async () => expect(await continueButton().count()).toBe(1));
    expect(await first.getByRole('button', { name: 'Continue' }).count()).toBe(0);

    const messages = await server.deps.prisma.message.findMany({
      where: { conversationId: conversationId! },
      orderBy: { createdAt: 'asc' },
      select: { role: true, content: true, finishReason: true },
    });
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(messages[2]!.content).toBe('Continue.');
    expect(messages[3]!.finishReason).toBe('length');
    expect(new URL(page.url()).searchParams.get('c')).toBe(conversationId);
    expect(watch.problems()).toEqual([]);
  });

  it('shows the mark and Continue again after a reload, and fits a 360 px screen', async () => {
    await page.reload();
    await replies().nth(1).getByText('Cut off', { exact: true }).waitFor();
    await continueButton().waitFor();
    expect(await continueButton().count()).toBe(1);

    await page.setViewportSize({ width: 360, height: 740 });
    await continueButton().scrollIntoViewIfNeeded();
    const box = await continueButton().boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
    // Nothing pushes the page sideways.
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(360);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-continue-360.png') });

    await continueButton().click();
    await eventually(async () => expect(await replies().count()).toBe(3), 10_000);
    await replies().nth(2).getByText('Cut off', { exact: true }).waitFor();
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(watch.problems()).toEqual([]);
  });
});

describeBrowser('refusals and tool calls from a real provider stream', () => {
  let fake: FakeOpenAIServer;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    fake = await startFakeOpenAIServer();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: 'dark' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch = await watchPage(page);
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await fake?.close();
  });

  const log = () => page.getByRole('log', { name: 'Messages' });
  const input = () => page.getByRole('textbox', { name: 'Message' });
  const replies = () => log().getByRole('article', { name: 'Assistant' });

  it('shows a refusal as the reply, marked, and a tool call as a sentence, also after a reload', async () => {
    fake.enqueue({ replay: loadCapture('openai-node-gpt4o-refusal.sse') }, { replay: loadCapture('vercel-groq-tool-call.chunks.txt') });
    await page.goto(`${server.url}/`);
    await input().fill('Tell me something you will refuse');
    await input().press('Enter');
    const refused = replies().first();
    await refused.getByText("I'm very sorry, but I can't assist with that request.").waitFor();
    await refused.getByText('Refused', { exact: true }).waitFor();
    await expect(refused.getAttribute('data-finish-reason')).resolves.toBe('refusal');

    await input().fill('What is the weather?');
    await input().press('Enter');
    await replies().nth(1).getByText('The model tried to call a tool (weather), which ChatMeter does not offer.').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-refusal-tool-360.png') });

    await page.reload();
    await replies().first().getByText('Refused', { exact: true }).waitFor();
    await replies().nth(1).getByText('The model tried to call a tool (weather), which ChatMeter does not offer.').waitFor();
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(360);
    expect(await log().getByRole('button', { name: 'Continue' }).count()).toBe(0);
    expect(watch.problems()).toEqual([]);
  });
});
