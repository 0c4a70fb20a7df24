// The Chat tab in a real browser, as a visitor with no account: the built SPA
// served by the real server, the offline demo model, CAPTCHA off. A visitor
// chats on `/`, their first message creates the guest session, the reply
// streams in with its usage, the quota meter counts down, and a used-up guest
// allowance says when it resets and offers a sign-up.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { COUNTER, userSubject } from '../../src/metering/counters.ts';
import { dayStart } from '../../src/metering/periods.ts';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('chat in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let conversationId: string;
  const question = 'What is a token budget?';

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off' });
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

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS_DIR, name) });
  const sessionCookie = async () => (await context.cookies(server.url)).find((cookie) => cookie.name === 'cm_session');
  const meter = () => page.getByRole('group', { name: 'Your allowance' });
  const log = () => page.getByRole('log', { name: 'Messages' });
  const input = () => page.getByRole('textbox', { name: 'Message' });
  const sidebar = () => page.getByRole('complementary', { name: 'Conversations' });

  it('shows a visitor the chat on / (no redirect, no session yet) with the demo model and the guest allowance', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    await page.getByText('Sign up to keep your conversations').first().waitFor();
    await page.getByText('Demo model', { exact: true }).waitFor();
    await meter().getByText('5 of 5 messages left today').waitFor();
    // The Usage and Billing tabs need a session; a visitor is offered sign-in and sign-up instead.
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = await nav.getByRole('link').allTextContents();
    expect(links).toContain('Chat');
    expect(links).not.toContain('Usage');
    expect(links).not.toContain('Billing');
    expect(links).not.toContain('Admin');
    await page.getByRole('banner').getByRole('link', { name: 'Sign up' }).waitFor();
    // Looking is free: no guest session until the first message.
    expect(await sessionCookie()).toBeUndefined();
    await shot('chat-visitor-empty.png');
    expect(watch.problems()).toEqual([]);
  });

  it('streams the answer to a visitor’s first message, with its usage, and counts it', async () => {
    // Shift+Enter is a new line, not a send.
    await input().fill('Line one');
    await input().press('Shift+Enter');
    await input().pressSequentially('line two');
    await expect(input().inputValue()).resolves.toBe('Line one\nline two');
    expect(await log().getByRole('article').count()).toBe(0);

    await input().fill(question);
    await expect(page.getByText(`${question.length} / 1,000`).isVisible()).resolves.toBe(true);
    await input().press('Enter');

    await log().getByRole('article', { name: 'You' }).getByText(question).waitFor();
    const reply = log().getByRole('article', { name: 'Assistant' }).last();
    // The demo model's answers end with its footer: the whole reply arrived.
    await reply.getByText('Offline demo model', { exact: false }).waitFor();
    const usage = reply.getByLabel('Usage of this reply');
    await usage.waitFor();
    expect(await usage.textContent()).toMatch(/demo.*\d+ tokens.*\$0\.\d+/);
    await expect(input().inputValue()).resolves.toBe('');

    // The first message made the visitor a guest (cookie from the server) and opened the conversation.
    await page.waitForURL((url) => url.searchParams.has('c'));
    conversationId = new URL(page.url()).searchParams.get('c')!;
    expect(await sessionCookie()).toBeDefined();
    const conversation = await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { userId: true } });
    const guest = await server.deps.prisma.user.findUniqueOrThrow({ where: { id: conversation.userId }, select: { isGuest: true } });
    expect(guest.isGuest).toBe(true);

    // One message fewer today, and the conversation is listed.
    await meter().getByText('4 of 5 messages left today').waitFor();
    await sidebar()
      .getByRole('link', { name: new RegExp(question.replace('?', '\\?')) })
      .waitFor();
    await expect(
      sidebar()
        .getByRole('link', { name: new RegExp(question.replace('?', '\\?')) })
        .getAttribute('aria-current'),
    ).resolves.toBe('page');
    await shot('chat-visitor-reply.png');
    expect(watch.problems()).toEqual([]);
  });

  it('reloads the conversation from the server', async () => {
    await page.reload();
    const reply = log().getByRole('article', { name: 'Assistant' });
    await reply.getByText('Offline demo model', { exact: false }).waitFor();
    await expect(log().getByRole('article', { name: 'You' }).textContent()).resolves.toContain(question);
    // The guest's menu now, with their plan.
    await page.getByRole('banner').getByText('Guest plan').waitFor();
    expect(watch.problems()).toEqual([]);
  });

  it('shows the usage tab with the limits, the cost and the activity', async () => {
    await page.getByRole('link', { name: 'Usage details' }).click();
    await page.waitForURL((url) => url.pathname === '/usage');
    const today = page.getByRole('progressbar', { name: 'Messages today' });
    await today.waitFor();
    await expect(today.getAttribute('aria-valuenow')).resolves.toBe('1');
    await expect(today.getAttribute('aria-valuemax')).resolves.toBe('5');
    const activity = page.locator('.usage-history').getByRole('table');
    await activity.getByText('demo').first().waitFor();
    expect(await activity.getByRole('row').count()).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'usage.png'), fullPage: true });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat' }).click();
    await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    expect(watch.problems()).toEqual([]);
  });

  it('explains a used-up guest allowance with its reset time and a sign-up', async () => {
    // The guest's 5 messages a day, used up (quicker than sending four more).
    const guest = await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { userId: true } });
    await server.deps.prisma.$executeRaw(Prisma.sql`
      INSERT INTO quota_counters (subject, kind, period_start, used)
      VALUES (${userSubject(guest.userId)}, ${COUNTER.messagesDay}, ${dayStart(new Date())}::timestamptz, 5)
      ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
    // The refusal is an HTTP 402: the browser logs the failed request.
    watch.allow(/Failed to load resource: the server responded with a status of 402/);

    await input().fill('One more question, please?');
    await page.getByRole('button', { name: 'Send' }).click();
    const alert = page.getByRole('alert').filter({ hasText: "Today's messages are used up" });
    await alert.waitFor();
    expect(await alert.textContent()).toContain("You have used today's 5 messages.");
    // When the limit that refused resets, in UTC (the quotas' clock) and as a wait ("Resets at 00:00 UTC (in 5 h 12 min)").
    expect(await alert.textContent()).toMatch(/Resets at 00:00 UTC \(in (\d+ h )?\d+ (s|min|h)\)/);
    await alert.getByRole('link', { name: 'Sign up to keep chatting' }).waitFor();
    // The message was not lost: it is back in the composer.
    await expect(input().inputValue()).resolves.toBe('One more question, please?');
    await meter().getByText('0 of 5 messages left today').waitFor();
    await shot('chat-limit.png');

    const here = new URL(page.url());
    const backHere = `${here.pathname}${here.search}`;
    await alert.getByRole('link', { name: 'Sign up to keep chatting' }).click();
    // It comes back to this conversation after signing up.
    await page.waitForURL((url) => url.pathname === '/sign-up' && url.searchParams.get('next') === (backHere === '/' ? null : backHere));
    await page.getByText('You are using ChatMeter as a guest').waitFor();
    await page.goBack();
    expect(watch.problems()).toEqual([]);
  });

  it('pages through long histories: older messages on scrolling up, more conversations on scrolling down', async () => {
    const { userId } = await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { userId: true } });
    const long = Date.now() - 3_600_000;
    // 60 older messages in this conversation (a page is 50), and 55 older conversations (a page is 50).
    // Linked as the conversation's path (each message follows the one before it), above its first message.
    const ids = Array.from({ length: 60 }, () => randomUUID());
    await server.deps.prisma.message.createMany({
      data: Array.from({ length: 60 }, (_, i) => ({
        id: ids[i]!,
        parentId: i === 0 ? null : ids[i - 1]!,
        conversationId,
        userId,
        role: i % 2 === 0 ? 'user' : 'assistant',
        content: `Earlier message ${i + 1}`,
        createdAt: new Date(long + i * 1000),
      })),
    });
    await server.deps.prisma.message.updateMany({ where: { conversationId, parentId: null, id: { notIn: ids } }, data: { parentId: ids[59]! } });
    await server.deps.prisma.conversation.createMany({
      data: Array.from({ length: 55 }, (_, i) => ({
        userId,
        title: `Old conversation ${i + 1}`,
        model: 'demo',
        messageCount: 0,
        createdAt: new Date(long + i * 1000),
        updatedAt: new Date(long + i * 1000),
      })),
    });

    await page.goto(`${server.url}/?c=${conversationId}`);
    await log().getByText('Offline demo model', { exact: false }).waitFor();
    await log().getByText('Earlier message 60', { exact: true }).waitFor();
    expect(await log().getByText('Earlier message 1', { exact: true }).count()).toBe(0);
    // Scroll the log to its top: the next page comes in above, and the view stays on the same message.
    const scrollTop = (selector: string) => page.evaluate(`document.querySelector('${selector}').scrollTop`);
    // A user message by its bubble's text (the message also holds its Copy button).
    const topOf = (text: string) =>
      `[...document.querySelectorAll('.chat-log .msg')].find((m) => (m.querySelector('.msg__bubble') ?? m).textContent.trim() === ${JSON.stringify(text)}).getBoundingClientRect().top`;
    // Scrolled and measured in one task, before the page can load anything.
    const before = Number(await page.evaluate(`(() => { document.querySelector('.chat-scroll').scrollTop = 0; return ${topOf('Earlier message 13')}; })()`));
    await log().getByText('Earlier message 1', { exact: true }).waitFor({ state: 'attached' });
    expect(await scrollTop('.chat-scroll')).toBeGreaterThan(0);
    // Once the page above has rendered (a loaded machine may paint the loading row first), the view is back on that message.
    await expect.poll(async () => Math.abs(Number(await page.evaluate(topOf('Earlier message 13'))) - before), { timeout: 5_000 }).toBeLessThan(2);

    // The conversation list: the newest first, the oldest once scrolled to the end.
    await sidebar()
      .getByRole('link', { name: /Old conversation 55/ })
      .waitFor();
    expect(
      await sidebar()
        .getByRole('link', { name: /Old conversation 1\b/ })
        .count(),
    ).toBe(0);
    await sidebar()
      .getByRole('link', { name: /Old conversation 50\b/ })
      .hover();
    await page.mouse.wheel(0, 100_000);
    await sidebar()
      .getByRole('link', { name: /Old conversation 1\b/ })
      .waitFor({ state: 'attached' });
    expect(await scrollTop('.chat-sidebar__list')).toBeGreaterThan(0);
    expect(watch.problems()).toEqual([]);
  });

  it('fits a phone: the conversations open as a drawer', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/?c=${conversationId}`);
    await log().getByRole('article', { name: 'Assistant' }).getByText('Offline demo model', { exact: false }).waitFor();
    await expect(sidebar().isVisible()).resolves.toBe(false);
    await shot('chat-mobile.png');
    const toggle = page.getByRole('button', { name: 'Show conversations' });
    await toggle.click();
    await expect(toggle.getAttribute('aria-expanded')).resolves.toBe('true');
    await sidebar()
      .getByRole('link', { name: new RegExp(question.replace('?', '\\?')) })
      .waitFor({ state: 'visible' });
    await page.waitForTimeout(250); // the drawer's slide-in
    await shot('chat-mobile-drawer.png');
    await page.keyboard.press('Escape');
    await expect(toggle.getAttribute('aria-expanded')).resolves.toBe('false');
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(watch.problems()).toEqual([]);
  });

  it('deletes a conversation after a confirmation', async () => {
    await page.goto(`${server.url}/?c=${conversationId}`);
    const item = sidebar().getByRole('listitem').filter({ hasText: question });
    await item.getByRole('button', { name: `Delete conversation: ${question}` }).click();
    await item.getByRole('button', { name: 'Delete', exact: true }).click();
    await item.waitFor({ state: 'detached' });
    await page.waitForURL((url) => !url.searchParams.has('c'));
    await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    await eventually(async () => {
      const row = await server.deps.prisma.conversation.findUnique({ where: { id: conversationId }, select: { deletedAt: true } });
      expect(row?.deletedAt).not.toBeNull();
    });
    expect(watch.problems()).toEqual([]);
  });
});
