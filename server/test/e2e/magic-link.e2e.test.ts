// The magic-link landing page in a real browser: opening a link shows whom it
// signs in (masked) and uses nothing until the visitor clicks; a guest who opens
// a link someone else requested keeps its conversations out of that account,
// while a guest who requested the link itself moves into it.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/auth-service.ts';
import { SESSION_COOKIE } from '../../src/auth/session.ts';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('magic links in the browser', () => {
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

  async function openPage(viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; watch: PageWatch }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { context, page, watch: await watchPage(page) };
  }

  async function tokenFromOutbox(email: string): Promise<string> {
    const mail = await server.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email }, orderBy: { id: 'desc' } });
    return decodeURIComponent(/magic-link\?token=([\w%-]+)/.exec(mail.body)![1]!);
  }

  const usedAt = async (token: string) =>
    (await server.deps.prisma.magicLinkToken.findUniqueOrThrow({ where: { tokenHash: hashToken(token) }, select: { usedAt: true } })).usedAt;

  /** The visitor chats once, which starts its guest session; returns the guest's id and conversation. */
  async function chatAsGuest(page: Page, context: BrowserContext): Promise<{ guestId: string; conversationId: string }> {
    await page.goto(`${server.url}/`);
    const input = page.getByRole('textbox', { name: 'Message' });
    await input.fill('A secret only this guest knows.');
    await input.press('Enter');
    await page
      .getByRole('log', { name: 'Messages' })
      .getByRole('article', { name: 'Assistant' })
      .last()
      .getByText('Offline demo model', { exact: false })
      .waitFor();
    const user = await signedInUser(context);
    const conversation = await server.deps.prisma.conversation.findFirstOrThrow({ where: { userId: user!.id }, select: { id: true } });
    return { guestId: user!.id, conversationId: conversation.id };
  }

  async function signedInUser(context: BrowserContext) {
    const cookie = (await context.cookies(server.url)).find((c) => c.name === SESSION_COOKIE);
    if (!cookie) return null;
    return (await server.deps.sessions.validate(decodeURIComponent(cookie.value)))?.user ?? null;
  }

  const owner = async (conversationId: string) =>
    (await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { userId: true } })).userId;

  describe('a link someone else requested, opened by a guest', () => {
    it('loading the page shows the masked address and uses nothing; the click signs in without the guest’s conversations', async () => {
      const { context, page, watch } = await openPage();
      const guest = await chatAsGuest(page, context);

      const email = 'mallory@example.com';
      await server.browser({ ip: '10.90.0.1' }).trpc.auth.requestMagicLink.mutate({ email });
      const token = await tokenFromOutbox(email);

      await page.goto(`${server.url}/magic-link?token=${encodeURIComponent(token)}`);
      await page.locator('#root *').first().waitFor();
      await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
      // The page has loaded and settled: the link is still unused, and the guest still signed in.
      expect(await usedAt(token)).toBeNull();
      expect((await signedInUser(context))?.id).toBe(guest.guestId);
      const button = page.getByRole('button', { name: 'Sign in as m…@example.com' });
      await button.waitFor();
      await page.getByText('its conversations stay with it and do not move to this account').waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'magic-link-confirm-guest.png') });

      await button.click();
      await page.waitForURL((url) => url.pathname === '/');
      expect(await usedAt(token)).not.toBeNull();
      const now = await signedInUser(context);
      expect(now).toMatchObject({ email, isGuest: false });
      expect(now!.id).not.toBe(guest.guestId);
      expect(await owner(guest.conversationId)).toBe(guest.guestId);
      expect(await server.deps.prisma.conversation.count({ where: { userId: now!.id } })).toBe(0);
      expect(watch.problems()).toEqual([]);
      await context.close();
    });
  });

  describe('a link the guest requested itself', () => {
    it('moves the guest, conversations and all, into the new account on the click', async () => {
      const { context, page, watch } = await openPage();
      const guest = await chatAsGuest(page, context);
      const email = 'grace@example.com';

      await page.goto(`${server.url}/magic-link`);
      await page.getByLabel('E-mail').fill(email);
      await page.getByRole('button', { name: 'Send sign-in link' }).click();
      await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
      const token = await tokenFromOutbox(email);

      await page.goto(`${server.url}/magic-link?token=${encodeURIComponent(token)}`);
      await page.getByText('Your conversations and usage so far move to this account').waitFor();
      expect(await usedAt(token)).toBeNull();
      await page.getByRole('button', { name: 'Sign in as g…@example.com' }).click();
      await page.waitForURL((url) => url.pathname === '/');
      expect(await signedInUser(context)).toMatchObject({ id: guest.guestId, email, isGuest: false });
      expect(await owner(guest.conversationId)).toBe(guest.guestId);
      expect(watch.problems()).toEqual([]);
      await context.close();
    });
  });

  describe('at 360 px', () => {
    it('a long address wraps inside the button, and a spent link leads back to the request form', async () => {
      const { context, page, watch } = await openPage({ width: 360, height: 740 });
      const email = 'someone-with-a-long-address@a-rather-long-subdomain.example-company.com';
      await server.browser({ ip: '10.90.0.2' }).trpc.auth.requestMagicLink.mutate({ email });
      const token = await tokenFromOutbox(email);
      await page.goto(`${server.url}/magic-link?token=${encodeURIComponent(token)}`);
      const button = page.getByRole('button', { name: 'Sign in as s…@a-rather-long-subdomain.example-company.com' });
      await button.waitFor();
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
      const box = (await button.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(360);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'magic-link-confirm-360.png') });
      expect(await usedAt(token)).toBeNull();

      // Used elsewhere meanwhile: the click says so, and offers a new link.
      await server.browser({ ip: '10.90.0.3' }).trpc.auth.verifyMagicLink.mutate({ token });
      watch.allow(/401|Unauthorized/i);
      await button.click();
      await page.getByText('This sign-in link is invalid, expired or already used').waitFor();
      await page.getByRole('button', { name: 'Send a new link' }).waitFor();
      expect(new URL(page.url()).searchParams.has('token')).toBe(false);

      // An unknown link goes straight to the form, without a click (the browser reports the query's 404).
      watch.allow(/status of 404/);
      await page.goto(`${server.url}/magic-link?token=${'x'.repeat(43)}`);
      await page.getByText('This sign-in link is invalid, expired or already used').waitFor();
      expect(new URL(page.url()).searchParams.has('token')).toBe(false);
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
      expect(watch.problems()).toEqual([]);
      await context.close();
    });
  });
});
