// The sidebar's rename and search, copying a message and "jump to latest", in a
// real Chromium at desktop size and at 360 px (the sidebar is a drawer there).
// A signed-in account with a long conversation (seeded rows) and a short one;
// the account's saved theme is applied by a browser that never saw it. And the
// Account page's password form: a wrong current password is shown on its field,
// a right one changes it and ends the other session; an account that only used
// sign-in links sets its first password and then signs in with it.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/auth/session.ts';
import {
  describeBrowser,
  ARTIFACTS_DIR,
  CLIENT_DIST,
  ensureClientBuilt,
  horizontalOverflow,
  launchChromium,
  watchPage,
  type PageWatch,
} from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const SIZES = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, drawer: false },
  { name: 'mobile', viewport: { width: 360, height: 740 }, drawer: true },
] as const;

describeBrowser('conversation tools (rename, search, copy, jump to latest) and the password form', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off' });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** An account with a long conversation (40 seeded messages, "walrus" in an early one) and a short one. */
  async function seedAccount(tag: string) {
    const api = server.browser();
    const { user } = await api.trpc.auth.signUp.mutate({ email: `tools-${tag}-${Date.now()}@example.com`, password: 'correct horse battery staple' });
    const prisma = server.deps.prisma;
    const base = Date.now() - 60 * 60_000;
    const long = await prisma.conversation.create({
      data: { userId: user.id, title: 'Arctic animals', model: 'demo', messageCount: 40, createdAt: new Date(base), updatedAt: new Date(base + 40_000) },
      select: { id: true },
    });
    // Each message follows the one before it (the conversation's path).
    let parentId: string | null = null;
    for (let i = 0; i < 40; i++) {
      const role = i % 2 === 0 ? 'user' : 'assistant';
      const content =
        i === 2
          ? 'Where does the walrus spend the winter? <b>not bold</b>'
          : role === 'user'
            ? `Question number ${i} about polar bears and sea ice.`
            : `Answer number ${i}.\n\nPolar bears hunt seals from the sea ice. **Bold** and \`code\` stay as written when copied.`;
      const created: { id: string } = await prisma.message.create({
        data: {
          conversationId: long.id,
          userId: user.id,
          role,
          content,
          model: role === 'assistant' ? 'demo' : null,
          createdAt: new Date(base + i * 1000),
          parentId,
        },
        select: { id: true },
      });
      parentId = created.id;
    }
    const short = await prisma.conversation.create({
      data: { userId: user.id, title: 'Kayak trip', model: 'demo', messageCount: 2, createdAt: new Date(base + 50_000), updatedAt: new Date(base + 50_000) },
      select: { id: true },
    });
    const packing = await prisma.message.create({
      data: { conversationId: short.id, userId: user.id, role: 'user', content: 'Packing list for a kayak trip', createdAt: new Date(base + 50_000) },
      select: { id: true },
    });
    await prisma.message.create({
      data: {
        conversationId: short.id,
        userId: user.id,
        role: 'assistant',
        content: 'Bring a dry bag.',
        model: 'demo',
        createdAt: new Date(base + 51_000),
        parentId: packing.id,
      },
    });
    // Saved by "another browser": this one must apply it.
    await api.trpc.preferences.update.mutate({ theme: 'dark' });
    const cookie = api.cookies.get(SESSION_COOKIE)!.value;
    return { userId: user.id, longId: long.id, shortId: short.id, cookie };
  }

  // The phone size (390x844) for this one, besides the desktop.
  for (const size of [SIZES[0], { name: 'phone', viewport: { width: 390, height: 844 }, drawer: true }] as const) {
    it(`an account that only used sign-in links sets its first password, then signs in with it (${size.name})`, async () => {
      const email = `linkonly${size.name}${Date.now()}@example.com`;
      await server.browser({ ip: `10.91.0.${size.name === 'phone' ? 2 : 1}` }).trpc.auth.requestMagicLink.mutate({ email });
      const mail = await server.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email }, orderBy: { id: 'desc' } });
      const token = decodeURIComponent(/magic-link\?token=([\w%-]+)/.exec(mail.body)![1]!);
      const context: BrowserContext = await browser.newContext({ viewport: size.viewport, colorScheme: 'light' });
      const page: Page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const watch: PageWatch = await watchPage(page);
      try {
        // Signed in by the link, clicked in this browser.
        await page.goto(`${server.url}/magic-link?token=${encodeURIComponent(token)}`);
        await page.getByRole('button', { name: /^Sign in as / }).click();
        await page.waitForURL((url) => url.pathname === '/');
        await page.goto(`${server.url}/account`);
        await page.getByRole('heading', { name: 'Set a password' }).waitFor();
        const form = page.getByRole('form', { name: 'Set a password' });
        await form.getByText('You have signed in with e-mail links only.').waitFor();
        // No current password is asked for.
        expect(await form.getByLabel('Current password').count()).toBe(0);
        await form.getByLabel('New password').fill('my very first passphrase');
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `account-set-password-before-${size.name}.png`), fullPage: true });
        await form.getByRole('button', { name: 'Set password' }).click();
        await page.getByRole('status').filter({ hasText: 'Password set.' }).waitFor();
        // The form becomes the change form: from now on the current password is needed.
        await page.getByRole('form', { name: 'Change password' }).getByLabel('Current password').waitFor();
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `account-set-password-after-${size.name}.png`), fullPage: true });
        const overflow = await horizontalOverflow(page);
        expect(overflow.scrollWidth, overflow.culprits.join(', ')).toBeLessThanOrEqual(overflow.innerWidth);

        // Signed out, the new password opens the account in the sign-in form.
        await context.clearCookies();
        await page.goto(`${server.url}/sign-in`);
        await page.getByLabel('E-mail').fill(email);
        await page.getByLabel('Password', { exact: true }).fill('my very first passphrase');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL((url) => url.pathname === '/');
        await eventually(async () => expect((await context.cookies()).some((c) => c.name === SESSION_COOKIE)).toBe(true));
        expect(await server.deps.prisma.user.findUniqueOrThrow({ where: { email }, select: { passwordHash: true } })).toMatchObject({
          passwordHash: expect.any(String),
        });
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }

  for (const size of SIZES) {
    it(`changes the password on the Account page and ends the other sessions (${size.name})`, async () => {
      const email = `password-${size.name}-${Date.now()}@example.com`;
      const here = server.browser();
      await here.trpc.auth.signUp.mutate({ email, password: 'correct horse battery staple' });
      const elsewhere = server.browser();
      await elsewhere.trpc.auth.signIn.mutate({ email, password: 'correct horse battery staple' });
      const context: BrowserContext = await browser.newContext({ viewport: size.viewport, colorScheme: 'light' });
      await context.addCookies([{ name: SESSION_COOKIE, value: here.cookies.get(SESSION_COOKIE)!.value, url: server.url }]);
      const page: Page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const watch: PageWatch = await watchPage(page);
      // The deliberate wrong password below is a 400 the browser logs.
      watch.allow(/status of 400/);
      try {
        await page.goto(`${server.url}/account`);
        const form = page.getByRole('form', { name: 'Change password' });
        await form.getByLabel('Current password').fill('not my password at all');
        await form.getByLabel('New password').fill('a brand new passphrase');
        await form.getByRole('button', { name: 'Change password' }).click();
        await form.getByText('This is not your current password').waitFor();
        await form.getByLabel('Current password').fill('correct horse battery staple');
        await form.getByRole('button', { name: 'Change password' }).click();
        await form.getByRole('status').filter({ hasText: 'Password changed. 1 other session was signed out; this one stays.' }).waitFor();
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `account-password-${size.name}.png`), fullPage: true });
        expect(await elsewhere.trpc.auth.me.query()).toBeNull();
        // This browser stays signed in on a new session; the cookie it had before no longer works.
        expect(await here.trpc.auth.me.query()).toBeNull();
        await page.reload();
        await page.getByRole('heading', { name: 'Sessions' }).waitFor();
        await page.getByText('1 active session').waitFor();
        expect(await server.deps.prisma.session.count({ where: { user: { email } } })).toBe(1);
        // The form itself fits (the Account page as a whole is wider than 360 px with a long e-mail in
        // its Profile panel, before this form existed: that is the 360 px layout work's).
        const formRight = await form.evaluate((el) => el.getBoundingClientRect().right - el.closest('section')!.getBoundingClientRect().right);
        expect(formRight).toBeLessThanOrEqual(0);
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });

    it(`renames, searches, copies and jumps to the latest message (${size.name})`, async () => {
      const account = await seedAccount(size.name);
      const context: BrowserContext = await browser.newContext({ viewport: size.viewport, colorScheme: 'light' });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
      await context.addCookies([{ name: SESSION_COOKIE, value: account.cookie, url: server.url }]);
      const page: Page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const watch: PageWatch = await watchPage(page);
      try {
        const sidebar = page.getByRole('complementary', { name: 'Conversations' });
        const openDrawer = async () => {
          if (size.drawer) await page.getByRole('button', { name: 'Show conversations' }).click();
        };
        const fitsWidth = async () => expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(size.viewport.width);

        await page.goto(`${server.url}/?c=${account.shortId}`);
        await page.getByRole('log', { name: 'Messages' }).getByText('Bring a dry bag.').waitFor();
        // The account's theme, saved elsewhere, is applied here.
        await eventually(async () => expect(await page.evaluate<string | undefined>('document.documentElement.dataset.theme')).toBe('dark'));
        // ...and it wins over the OS setting (light here): the page is drawn with the dark palette (theme.css, --bg).
        expect(await page.evaluate<string>('getComputedStyle(document.body).backgroundColor')).toBe('rgb(12, 14, 22)');

        // Rename.
        await openDrawer();
        await sidebar.getByRole('button', { name: 'Rename conversation: Kayak trip' }).click();
        const titleInput = sidebar.getByRole('textbox', { name: 'Conversation title' });
        await titleInput.fill('Sea kayaking in Norway');
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `conversation-rename-${size.name}.png`) });
        await titleInput.press('Enter');
        await sidebar.getByRole('link', { name: /Sea kayaking in Norway/ }).waitFor();
        await page.getByRole('heading', { name: 'Sea kayaking in Norway', level: 1 }).waitFor();
        await eventually(async () => {
          const row = await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: account.shortId }, select: { title: true } });
          expect(row.title).toBe('Sea kayaking in Norway');
        });
        // An empty title is refused in place.
        await sidebar.getByRole('button', { name: 'Rename conversation: Arctic animals' }).click();
        await titleInput.fill('   ');
        await titleInput.press('Enter');
        await sidebar.getByRole('alert').filter({ hasText: 'Give the conversation a title' }).waitFor();
        await titleInput.press('Escape');
        await sidebar.getByRole('link', { name: /Arctic animals/ }).waitFor();
        await fitsWidth();

        // Search: the match is highlighted as text (the message's markup is not HTML).
        await sidebar.getByRole('searchbox', { name: 'Search conversations' }).fill('walrus');
        const results = sidebar.getByRole('list', { name: 'Search results' });
        const hit = results.getByRole('link', { name: /Arctic animals/ });
        await hit.waitFor();
        expect(await results.getByRole('listitem').count()).toBe(1);
        await expect(hit.locator('mark').allTextContents()).resolves.toEqual(['walrus']);
        expect(await hit.locator('b').count()).toBe(0);
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `conversation-search-${size.name}.png`) });
        await fitsWidth();
        await hit.click();
        await eventually(async () => expect(new URL(page.url()).searchParams.get('c')).toBe(account.longId));

        // Jump to latest: hidden at the end, shown once scrolled up, and it brings the reader back.
        const log = page.getByRole('log', { name: 'Messages' });
        await log.getByText('Answer number 39.').waitFor();
        const jump = page.getByRole('button', { name: 'Jump to latest' });
        expect(await jump.count()).toBe(0);
        await page.locator('.chat-scroll').evaluate((el) => {
          el.scrollTop = 0;
          el.dispatchEvent(new Event('scroll'));
        });
        await jump.waitFor();
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `conversation-jump-${size.name}.png`) });
        await jump.click();
        await jump.waitFor({ state: 'detached' });
        const fromEnd = await page.locator('.chat-scroll').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
        expect(fromEnd).toBeLessThan(2);

        // Copy the last reply: its text as written (Markdown source), not the rendered page.
        const lastReply = log.getByRole('article', { name: 'Assistant' }).last();
        await lastReply.getByRole('button', { name: 'Copy reply' }).click();
        await lastReply.getByRole('button', { name: 'Copied' }).waitFor();
        const stored = await server.deps.prisma.message.findFirstOrThrow({
          where: { conversationId: account.longId },
          orderBy: { createdAt: 'desc' },
          select: { content: true },
        });
        await expect(page.evaluate<string>('navigator.clipboard.readText()')).resolves.toBe(stored.content);
        const lastQuestion = log.getByRole('article', { name: 'You' }).last();
        await lastQuestion.getByRole('button', { name: 'Copy your message' }).click();
        await expect(page.evaluate<string>('navigator.clipboard.readText()')).resolves.toBe('Question number 38 about polar bears and sea ice.');
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `conversation-copy-${size.name}.png`) });
        await fitsWidth();
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
