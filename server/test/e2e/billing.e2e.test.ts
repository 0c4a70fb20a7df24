// Billing in a real browser with the offline simulator: a Free user hits the
// limit in the chat, upgrades through the Billing tab's test checkout (signed
// Stripe-shaped events into the real webhook handler) and keeps chatting.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('billing in the browser (simulator)', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  const email = 'upgrader@example.com';

  beforeAll(async () => {
    ensureClientBuilt();
    // Two messages a day on Free, so the limit comes quickly.
    const plans = DEFAULT_PLANS.map((p) => (p.id === 'free' ? { ...p, limits: { ...p.limits, messagesPerDay: 2 } } : p));
    const plansFile = path.join(mkdtempSync(path.join(tmpdir(), 'chatmeter-e2e-billing-')), 'plans.json');
    writeFileSync(plansFile, JSON.stringify(plans));
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', BILLING_SIMULATOR: '1', PLANS_FILE: plansFile });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch = await watchPage(page);
    // The refused third message is a 402 the browser logs; it is the point of the test.
    watch.allow(/status of 402/);
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  const usageEvents = async () => {
    const user = await server.deps.prisma.user.findUnique({ where: { email }, select: { id: true } });
    return user ? server.deps.prisma.usageEvent.count({ where: { userId: user.id, status: 'ok' } }) : 0;
  };

  async function sendMessage(text: string): Promise<void> {
    const input = page.getByRole('textbox', { name: 'Message' });
    await input.fill(text);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
  }

  it('hits the Free limit, upgrades with the test checkout, and keeps chatting', async () => {
    await page.goto(`${server.url}/sign-up`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((url) => url.pathname === '/');

    await sendMessage('Hello there');
    await eventually(async () => expect(await usageEvents()).toBe(1), 15_000);
    await page.getByRole('button', { name: 'Send', exact: true }).waitFor();
    await sendMessage('And a second question');
    await eventually(async () => expect(await usageEvents()).toBe(2), 15_000);
    await page.getByRole('button', { name: 'Send', exact: true }).waitFor();

    await sendMessage('A third one, over the limit');
    await page.getByText("Today's messages are used up").waitFor();
    await page.getByRole('link', { name: 'Upgrade', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/billing');

    await page.getByText('Test mode.').waitFor();
    await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
    await page.waitForURL((url) => url.searchParams.has('simulated_checkout'));
    await page.getByRole('heading', { name: 'Test checkout' }).waitFor();
    await page.getByText('Pro plan, monthly').waitFor();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'billing-test-checkout.png'), fullPage: true });
    await page.getByRole('button', { name: /^Pay .* \(test\)$/ }).click();
    await page.waitForURL((url) => url.searchParams.get('checkout') === 'success');
    await page.getByRole('banner').getByText('Pro plan').waitFor();
    await page.getByRole('listitem').filter({ hasText: 'Your plan' }).getByRole('heading', { name: 'Pro' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'billing-upgraded.png'), fullPage: true });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await sendMessage('Now on Pro: still there?');
    await eventually(async () => expect(await usageEvents()).toBe(3), 15_000);
    const user = await server.deps.prisma.user.findUnique({ where: { email }, select: { planId: true } });
    expect(user?.planId).toBe('pro');
    expect(watch.problems()).toEqual([]);
  });
});
