// E-mail verification in a real browser (EMAIL_VERIFICATION=required): the
// banner of an unverified account, its resend button, and the /verify-email
// page, which spends the link only when its button is pressed. At 360 px and
// at desktop width.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/auth-service.ts';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('e-mail verification in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  const email = 'grace@example.com';
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', EMAIL_VERIFICATION: 'required' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: 'light' });
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

  const banner = () => page.getByRole('region', { name: 'Verify your e-mail address.' });
  /** Nothing wider than the window (no sideways scrolling). */
  const overflow = () => page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as Promise<number>;
  const links = async () => {
    const mails = await server.deps.prisma.emailOutbox.findMany({ where: { to: email, subject: { contains: 'Confirm' } }, orderBy: { id: 'asc' } });
    return mails.map((m) => new URL(/(\S+\/verify-email\?token=[\w%-]+)/.exec(m.body)![1]!));
  };

  it('after sign-up, a phone shows the banner: the guest plan’s limits until the address is verified', async () => {
    await page.goto(`${server.url}/sign-up`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((url) => url.pathname === '/');

    await banner().waitFor();
    await expect(banner().textContent()).resolves.toMatch(
      /We sent a link to grace@example\.com\. Until you open it, your account has the guest plan’s limits\./,
    );
    expect(await overflow()).toBeLessThanOrEqual(0);
    // The chat still fits under it.
    await expect(page.getByRole('heading', { name: 'Start a conversation' }).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'verify-banner-360.png') });
    expect(await links()).toHaveLength(1);
    expect(watch.problems()).toEqual([]);
  });

  it('resends the link, and says when it is asked too often', async () => {
    const resend = banner().getByRole('button', { name: 'Send the link again' });
    await resend.click();
    await banner().getByRole('status').filter({ hasText: 'Sent to grace@example.com.' }).waitFor();
    expect(await links()).toHaveLength(2);
    await resend.click();
    await resend.click();
    await expect.poll(async () => (await links()).length).toBe(4);
    await resend.click();
    await banner().getByRole('alert').filter({ hasText: 'Too many verification e-mails requested' }).waitFor();
    expect(await links()).toHaveLength(4);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'verify-banner-limited-360.png') });
    // The refusal is an answer, not a fault of the page.
    watch.allow(/status of 429/);
    expect(watch.problems()).toEqual([]);
  });

  it('at desktop width the banner sits under the top bar, and the header shows the guest plan', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${server.url}/usage`);
    await banner().waitFor();
    await expect(page.getByRole('banner').getByText('Guest plan').isVisible()).resolves.toBe(true);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'verify-banner-desktop.png') });
    await page.setViewportSize({ width: 360, height: 740 });
  });

  it('opening the link spends nothing; the button verifies, and the full plan applies', async () => {
    const link = (await links())[0]!;
    const token = link.searchParams.get('token')!;
    const linkPage = await context.newPage();
    const linkWatch = await watchPage(linkPage);
    await linkPage.goto(`${server.url}${link.pathname}${link.search}`);
    await linkPage.getByRole('heading', { name: 'Verify your e-mail address' }).waitFor();
    // A mail scanner that opened the page would not have used the link up.
    const stored = await server.deps.prisma.emailVerificationToken.findUnique({ where: { tokenHash: hashToken(token) }, select: { usedAt: true } });
    expect(stored).toEqual({ usedAt: null });
    expect(await linkPage.evaluate('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);

    await linkPage.getByRole('button', { name: 'Verify my e-mail' }).click();
    await linkPage.getByRole('heading', { name: 'E-mail address verified' }).waitFor();
    await linkPage.getByText('Your plan’s full limits apply now.').waitFor();
    await linkPage.screenshot({ path: path.join(ARTIFACTS_DIR, 'verify-email-done-360.png') });
    await linkPage.getByRole('link', { name: 'Continue to ChatMeter' }).click();
    await linkPage.waitForURL((url) => url.pathname === '/');
    await linkPage.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    expect(await linkPage.getByRole('region', { name: 'Verify your e-mail address.' }).count()).toBe(0);

    // The first tab drops its banner when it is looked at again.
    await page.bringToFront();
    await page.evaluate('window.dispatchEvent(new Event("focus"))');
    await banner().waitFor({ state: 'detached' });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('banner').getByText('Free plan').waitFor();

    // The link works once: a second visit says so and offers no button.
    await linkPage.goto(`${server.url}${link.pathname}${link.search}`);
    await linkPage.getByRole('button', { name: 'Verify my e-mail' }).click();
    await linkPage.getByRole('alert').filter({ hasText: 'already been used' }).waitFor();
    expect(await linkPage.getByRole('button', { name: 'Verify my e-mail' }).count()).toBe(0);
    linkWatch.allow(/status of 400/);
    expect(linkWatch.problems()).toEqual([]);
    expect(watch.problems()).toEqual([]);
    await linkPage.close();
  });
});
