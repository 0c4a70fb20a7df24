// Sign-up through the real UI in a real browser: the built SPA served by the
// real server (its CSP included), a fresh database, Chromium via playwright-core.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startTestServer, trpcError, type TestServer } from '../helpers/server.ts';

describeBrowser('sign-up in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  const email = 'ada@example.com';
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    ensureClientBuilt();
    // The captcha is on, as in production: the form solves the proof-of-work in the browser.
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'on', CAPTCHA_HMAC_KEY: 'e2e-signup-captcha-key' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch = await watchPage(page);
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  const sessionCookie = async () => (await context.cookies(server.url)).find((cookie) => cookie.name === 'cm_session');
  const header = () => page.getByRole('banner');
  const mainNav = () => page.getByRole('navigation', { name: 'Main' });

  it('shows a visitor the chat on / and sends them from the other tabs to sign-in', async () => {
    // The Chat tab is open to visitors (their first message starts a guest session); looking creates nothing.
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await sessionCookie()).toBeUndefined();
    await page.goto(`${server.url}/usage`);
    await page.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === '/usage');
    await page.getByRole('heading', { name: 'Sign in to ChatMeter' }).waitFor();
    expect(await sessionCookie()).toBeUndefined();
    expect(watch.problems()).toEqual([]);
  });

  it('checks the form in the browser before sending it', async () => {
    await page.goto(`${server.url}/sign-up`);
    const emailInput = page.getByLabel('E-mail');
    const passwordInput = page.getByLabel('Password', { exact: true });
    await page.getByRole('button', { name: 'Create account' }).click();

    await expect(emailInput.getAttribute('aria-invalid')).resolves.toBe('true');
    await page.getByText('Enter your e-mail address').waitFor();
    // The error text is the input's description, and focus went to the first bad field.
    const describedBy = (await emailInput.getAttribute('aria-describedby')) ?? '';
    expect(await page.locator(`[id="${describedBy.split(' ')[0]}"]`).textContent()).toContain('Enter your e-mail address');
    // (Browser-side code as strings: the server's tsconfig has no DOM types.)
    await expect(page.evaluate('document.activeElement?.id')).resolves.toBe(await emailInput.getAttribute('id'));

    await emailInput.fill(email);
    await passwordInput.fill('too short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(emailInput.getAttribute('aria-invalid')).resolves.toBeNull();
    await expect(passwordInput.getAttribute('aria-invalid')).resolves.toBe('true');
    await page.getByText('Use at least 10 characters').waitFor();
    // Nothing was sent: still no account, no session.
    expect(await sessionCookie()).toBeUndefined();
  });

  it('creates the account and enters the signed-in shell', async () => {
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((url) => url.pathname === '/');

    await header().getByText(email).waitFor();
    for (const tab of ['Chat', 'Usage', 'Billing']) {
      await expect(mainNav().getByRole('link', { name: tab, exact: true }).isVisible()).resolves.toBe(true);
    }
    expect(await mainNav().getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await expect(page.getByRole('heading', { name: 'Start a conversation' }).isVisible()).resolves.toBe(true);
    await expect(header().getByText('Free plan').isVisible()).resolves.toBe(true);

    const cookie = await sessionCookie();
    expect(cookie).toBeDefined();
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Lax');
    // HttpOnly: page scripts cannot read the session.
    await expect(page.evaluate('document.cookie')).resolves.not.toContain('cm_session');

    const user = await server.deps.prisma.user.findUnique({ where: { email }, select: { isGuest: true, planId: true } });
    expect(user).toEqual({ isGuest: false, planId: 'free' });
    // The account was paid for with one solved challenge (the server refuses a sign-up without one).
    expect(await server.deps.prisma.captchaUse.count()).toBe(1);

    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'signup-shell.png'), fullPage: true });
    expect(watch.problems()).toEqual([]);
  });

  it('stays signed in across a reload', async () => {
    await page.reload();
    await header().getByText(email).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    expect(watch.problems()).toEqual([]);
  });

  it('signs out and lands on sign-in', async () => {
    await header().getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    await page.getByRole('status').filter({ hasText: 'You have signed out.' }).waitFor();
    expect(await sessionCookie()).toBeUndefined();

    // The shell is closed again.
    await page.goto(`${server.url}/billing`);
    await page.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === '/billing');
    expect(watch.problems()).toEqual([]);
  });

  it('refuses a second account for the same e-mail with a form-level alert', async () => {
    watch.allow(/Failed to load resource: the server responded with a status of 409/);
    await page.goto(`${server.url}/sign-up`);
    await page.getByLabel('E-mail').fill(email.toUpperCase());
    await page.getByLabel('Password', { exact: true }).fill('another long password');
    await page.getByRole('button', { name: 'Create account' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('An account with this e-mail already exists');
    expect(await sessionCookie()).toBeUndefined();
    // That attempt used a fresh challenge too.
    expect(await server.deps.prisma.captchaUse.count()).toBe(2);
    expect(watch.problems()).toEqual([]);
  });

  it('fits a 360 px wide screen, the human check included, and a retry after a refusal solves a new check', async () => {
    watch.allow(/Failed to load resource: the server responded with a status of 409/);
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${server.url}/sign-up`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('yet another long password');
    // The check starts by itself when the page opens and is done in well under the test's patience.
    await page.locator('altcha-widget[name="captcha"]').waitFor();
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: 'An account with this e-mail already exists' }).waitFor();
    expect(await server.deps.prisma.captchaUse.count()).toBe(3);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => server.deps.prisma.captchaUse.count(), { timeout: 15_000 }).toBe(4);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBe(0);
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'signup-360.png'), fullPage: true });
    expect(watch.problems()).toEqual([]);
  });

  it('a throttled sign-in offers a sign-in link instead (360 px)', async () => {
    watch.allow(/Failed to load resource: the server responded with a status of 429/);
    // Eight wrong passwords from this network (the browser and these calls both come from loopback).
    for (let i = 0; i < 8; i++) {
      expect((await trpcError(server.browser().trpc.auth.signIn.mutate({ email, password: `wrong password ${i}` }))).reason).toBe('unauthenticated');
    }
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.getByText('Too many failed sign-in attempts').waitFor();
    const link = alert.getByRole('link', { name: 'E-mail me a sign-in link instead' });
    await expect(link.isVisible()).resolves.toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'signin-throttled-360.png'), fullPage: true });
    await link.click();
    await page.waitForURL((url) => url.pathname === '/magic-link');
    await expect(page.getByLabel('E-mail').inputValue()).resolves.toBe(email);
    expect(watch.problems()).toEqual([]);
  });
});
