// Yearly billing in a real browser with the offline simulator, at 360 px and at
// desktop width: the Billing tab's monthly/yearly toggle shows the year's price,
// the yearly test checkout makes a yearly subscription, and nothing overflows.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('yearly billing in the browser (simulator)', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', BILLING_SIMULATOR: '1' });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function signedUpPage(width: number, height: number, email: string): Promise<{ page: Page; watch: PageWatch; close(): Promise<void> }> {
    const context = await browser.newContext({ viewport: { width, height }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const watch = await watchPage(page);
    await page.goto(`${server.url}/sign-up`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    return { page, watch, close: () => context.close() };
  }

  const overflow = async (page: Page) => Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
  const proCard = (page: Page) =>
    page
      .getByRole('list', { name: 'Plans' })
      .getByRole('listitem')
      .filter({ has: page.getByRole('heading', { name: 'Pro', exact: true }) });

  it('at 360 px: toggles to yearly, buys Pro for a year with the test checkout, and shows it billed yearly', async () => {
    const { page, watch, close } = await signedUpPage(360, 780, 'yearly-phone@example.com');
    try {
      await page.goto(`${server.url}/billing`);
      const toggle = page.getByRole('group', { name: 'Billing interval' });
      await toggle.waitFor();
      expect(await toggle.getByRole('button', { name: /^Monthly/ }).getAttribute('aria-pressed')).toBe('true');
      await proCard(page).getByText('/ month', { exact: true }).waitFor();

      await toggle.getByRole('button', { name: /^Yearly/ }).click();
      expect(await toggle.getByRole('button', { name: /^Yearly/ }).getAttribute('aria-pressed')).toBe('true');
      await proCard(page).getByText('$150').waitFor();
      await proCard(page).getByText('/ year', { exact: true }).waitFor();
      await proCard(page).getByText('$12.50 a month, billed yearly · save $30').waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'billing-yearly-360.png'), fullPage: true });

      await proCard(page).getByRole('button', { name: 'Upgrade to Pro' }).click();
      await page.waitForURL((url) => url.searchParams.has('simulated_checkout'));
      await page.getByText('Pro plan, yearly').waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await page.getByRole('button', { name: /^Pay .* \(test\)$/ }).click();
      await page.waitForURL((url) => url.searchParams.get('checkout') === 'success');

      await page.getByText(/Pro · active · billed yearly/).waitFor();
      // Back on the Billing tab the toggle starts where the subscription is billed.
      await page.goto(`${server.url}/billing`);
      // Once the subscription has loaded (the page itself is loaded on demand, then asks for it).
      await proCard(page).getByText('Your plan').waitFor();
      expect(
        await page
          .getByRole('group', { name: 'Billing interval' })
          .getByRole('button', { name: /^Yearly/ })
          .getAttribute('aria-pressed'),
      ).toBe('true');
      await page
        .getByRole('group', { name: 'Billing interval' })
        .getByRole('button', { name: /^Monthly/ })
        .click();
      await proCard(page).getByRole('button', { name: 'Switch to monthly billing' }).waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);

      const user = await server.deps.prisma.user.findUnique({ where: { email: 'yearly-phone@example.com' }, select: { planId: true, id: true } });
      expect(user?.planId).toBe('pro');
      const sub = await server.deps.prisma.subscription.findFirst({
        where: { userId: user!.id },
        select: { priceId: true, currentPeriodStart: true, currentPeriodEnd: true },
      });
      expect(sub?.priceId).toBe('price_sim_pro_yearly');
      expect(sub!.currentPeriodEnd!.getTime() - sub!.currentPeriodStart!.getTime()).toBeGreaterThanOrEqual(365 * 24 * 3600 * 1000);
      expect(watch.problems()).toEqual([]);
    } finally {
      await close();
    }
  });

  it('at desktop width: the plans sit side by side with the toggle beside the heading', async () => {
    const { page, watch, close } = await signedUpPage(1280, 900, 'yearly-desk@example.com');
    try {
      await page.goto(`${server.url}/billing`);
      const toggle = page.getByRole('group', { name: 'Billing interval' });
      await toggle.getByRole('button', { name: /^Yearly/ }).click();
      await proCard(page).getByText('/ year', { exact: true }).waitFor();
      const enterprise = page
        .getByRole('list', { name: 'Plans' })
        .getByRole('listitem')
        .filter({ has: page.getByRole('heading', { name: 'Enterprise', exact: true }) });
      await enterprise.getByText('$990').waitFor();
      const [proBox, entBox, headingBox, toggleBox] = await Promise.all([
        proCard(page).boundingBox(),
        enterprise.boundingBox(),
        page.getByRole('heading', { name: 'Plans', exact: true }).boundingBox(),
        toggle.boundingBox(),
      ]);
      expect(Math.abs(proBox!.y - entBox!.y)).toBeLessThan(2);
      expect(Math.abs(headingBox!.y + headingBox!.height / 2 - (toggleBox!.y + toggleBox!.height / 2))).toBeLessThan(12);
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'billing-yearly-desktop.png'), fullPage: true });
      expect(watch.problems()).toEqual([]);
    } finally {
      await close();
    }
  });
});
