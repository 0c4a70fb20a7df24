// The founder's wallet on the Usage tab, in a real Chromium at 360 px: a signed-in user
// sees the plan's monthly cost cap as a bar, is told why a bad amount is refused, sets a
// monthly spending limit of their own (saved as integer micro-USD), finds it again after a
// reload with what is left of the budget, removes it, and nothing pushes the page sideways.
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

describeBrowser('the spending limit on the Usage tab', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let userId: string;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off' });
    browser = await launchChromium();
    const api = server.browser();
    const { user } = await api.trpc.auth.signUp.mutate({ email: `wallet-${Date.now()}@example.com`, password: 'correct horse battery staple' });
    userId = user.id;
    context = await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: 'light' });
    await context.addCookies([{ name: SESSION_COOKIE, value: api.cookies.get(SESSION_COOKIE)!.value, url: server.url }]);
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

  const panel = () => page.getByRole('region', { name: 'Your spending limit' });
  const field = () => panel().getByRole('textbox', { name: 'Monthly spending limit' });
  const savedLimit = async () =>
    (await server.deps.prisma.userPreference.findUnique({ where: { userId }, select: { monthlySpendLimitMicroUsd: true } }))?.monthlySpendLimitMicroUsd ?? null;
  const fits = async () => {
    const overflow = await horizontalOverflow(page);
    expect(overflow.culprits).toEqual([]);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
  };

  it('shows the plan cost cap and refuses an amount it cannot save, saying why', async () => {
    await page.goto(`${server.url}/usage`);
    // The free plan's cap, with what this period has cost (nothing yet).
    await page.getByRole('progressbar', { name: "Plan's monthly cost cap" }).waitFor();
    expect(await page.getByRole('progressbar', { name: "Plan's monthly cost cap" }).getAttribute('aria-valuetext')).toBe('$0.00 of $0.10 used');
    await panel().getByText('$0.10 left to spend this period.').waitFor();
    await fits();

    await field().fill('0');
    await panel().getByRole('button', { name: 'Save' }).click();
    await panel().getByText('Enter an amount above $0, or remove the limit.').waitFor();
    expect(await field().getAttribute('aria-invalid')).toBe('true');
    await field().fill('0.0000001');
    await panel().getByRole('button', { name: 'Save' }).click();
    await panel().getByText('Use at most 6 decimals: the smallest step is $0.000001.').waitFor();
    await fits();
    expect(await savedLimit()).toBeNull();
  });

  it('saves a limit, keeps it after a reload with the remaining budget, and removes it', async () => {
    await field().fill('$0.045');
    await panel().getByRole('button', { name: 'Save' }).click();
    await panel().getByRole('status').filter({ hasText: 'Saved: at most $0.045 a month.' }).waitFor();
    expect(await field().getAttribute('aria-invalid')).toBeNull();
    await eventually(async () => expect(await savedLimit()).toBe(45_000n));
    // The tightest budget is now the user's own.
    await panel().getByText('$0.045 left to spend this period.').waitFor();

    await page.reload();
    await eventually(async () => expect(await field().inputValue()).toBe('0.045'));
    await panel().getByText('$0.045 left to spend this period.').waitFor();
    await fits();
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'wallet-usage-360.png'), fullPage: true });
    await panel().screenshot({ path: path.join(ARTIFACTS_DIR, 'wallet-spend-limit-360.png') });
    await page.getByRole('region', { name: 'Limits' }).screenshot({ path: path.join(ARTIFACTS_DIR, 'wallet-limits-360.png') });

    await panel().getByRole('button', { name: 'Remove' }).click();
    await panel().getByRole('status').filter({ hasText: 'Your spending limit is removed.' }).waitFor();
    await eventually(async () => expect(await savedLimit()).toBeNull());
    expect(await field().inputValue()).toBe('');
    await panel().getByText('$0.10 left to spend this period.').waitFor();
    expect(watch.problems()).toEqual([]);
  });
});
