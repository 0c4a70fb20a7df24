// The Admin tab in a real browser: an admin (ADMIN_EMAIL's account, made by
// deps.auth.ensureAdmin) signs in, sees the overview chart, finds a user and
// adjusts their credits; the user, in another browser context, sees the new
// balance. Support sees the read-only parts and the credit form only. The admin
// gives a user the support role from the user detail (also at 360 px wide).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { insertEvents } from '../helpers/admin.ts';
import { send } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const DAY = 24 * 60 * 60 * 1000;

describeBrowser('the Admin tab in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const admin = { email: 'root@example.com', password: 'admin password for the e2e' };
  const user = { email: 'customer@example.com', password: 'customer password 123', id: '' };
  const staff = { email: 'helper@example.com', password: 'support password 123' };
  let adminPage: Page;
  let userPage: Page;
  let adminWatch: PageWatch;
  let userWatch: PageWatch;

  async function openPage(width = 1280): Promise<{ page: Page; watch: PageWatch }> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: 'light' });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { page, watch: await watchPage(page) };
  }

  async function signIn(page: Page, who: { email: string; password: string }) {
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel('E-mail').fill(who.email);
    await page.getByLabel('Password', { exact: true }).fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
  }

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', SUPPORT_MAX_ADJUSTMENT_TOKENS: '10000' });
    await server.deps.auth.ensureAdmin(admin.email, admin.password);
    // The customer, with a message sent today and some usage on earlier days for the chart.
    const api = server.browser({ ip: '10.55.0.1' });
    user.id = (await api.trpc.auth.signUp.mutate({ email: user.email, password: user.password })).user.id;
    await send(api, { content: 'Hello from the customer' });
    await insertEvents(
      server,
      [1, 2, 3, 5, 8, 13].map((d) => ({
        userId: user.id,
        promptTokens: 400 * d,
        completionTokens: 90 * d,
        costMicroUsd: 1_500 * d,
        createdAt: new Date(Date.now() - d * DAY),
      })),
    );
    const staffApi = server.browser({ ip: '10.55.0.2' });
    const staffId = (await staffApi.trpc.auth.signUp.mutate({ email: staff.email, password: staff.password })).user.id;
    await server.deps.prisma.user.update({ where: { id: staffId }, data: { role: 'support' } });
    browser = await launchChromium();
    ({ page: adminPage, watch: adminWatch } = await openPage());
    ({ page: userPage, watch: userWatch } = await openPage());
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it('the admin signs in and sees the totals and the daily chart', async () => {
    await signIn(adminPage, admin);
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await adminPage.waitForURL((url) => url.pathname === '/admin');
    await adminPage.getByRole('heading', { name: 'Tokens and cost per day' }).waitFor();
    await adminPage.locator('.recharts-surface').first().waitFor();
    // Seven days with usage in the 30-day window: seven bars.
    await adminPage.locator('.recharts-bar-rectangle').nth(6).waitFor();
    const today = adminPage.getByRole('region', { name: 'Today' });
    await today.getByText('Requests').waitFor();
    expect(await today.locator('dd').first().textContent()).toBe('1');
    await adminPage.getByRole('heading', { name: /projection and revenue/ }).waitFor();
    await adminPage
      .getByRole('region', { name: /Top users by cost/ })
      .getByRole('button', { name: user.email })
      .waitFor();
    // Switch the window to 7 days.
    await adminPage.getByRole('button', { name: '7 days' }).click();
    await adminPage.waitForURL((url) => url.searchParams.get('days') === '7');
    await adminPage.getByRole('heading', { name: 'By model · 7 days' }).waitFor();
    await adminPage.screenshot({ path: path.join(ARTIFACTS_DIR, 'admin-overview.png'), fullPage: true });
    expect(adminWatch.problems()).toEqual([]);
  });

  it('the user sees no credits yet', async () => {
    await signIn(userPage, user);
    await userPage.goto(`${server.url}/usage`);
    await userPage
      .getByText(/^0\s*tokens$/)
      .first()
      .waitFor();
    expect(userWatch.problems()).toEqual([]);
  });

  it('the admin finds the user and adjusts their credits, with a reason', async () => {
    await adminPage.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name: 'Users' }).click();
    await adminPage.getByLabel('Search users').fill('customer@');
    await adminPage.getByRole('table', { name: 'Users' }).getByRole('button', { name: user.email }).click();
    await adminPage.getByRole('heading', { name: user.email }).waitFor();

    const form = adminPage.getByRole('form', { name: 'Adjust credits' });
    // A reason is required.
    await form.getByLabel('Tokens').fill('5000');
    await form.getByLabel('Reason').fill('sorry');
    await form.getByRole('button', { name: 'Adjust credits' }).click();
    await form.getByText(/at least 10 characters/).waitFor();
    expect(await server.deps.prisma.creditLedgerEntry.count({ where: { userId: user.id } })).toBe(0);

    await form.getByLabel('Reason').fill('Goodwill credit after the outage');
    await form.getByRole('button', { name: 'Adjust credits' }).click();
    await adminPage.getByRole('status').filter({ hasText: 'New balance 5,000 tokens' }).waitFor();
    const ledger = adminPage.getByRole('table', { name: 'Credit ledger' });
    await ledger.getByRole('cell', { name: 'Goodwill credit after the outage' }).waitFor();
    await ledger.getByRole('cell', { name: admin.email }).waitFor();

    const entries = await server.deps.prisma.creditLedgerEntry.findMany({ where: { userId: user.id } });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ kind: 'adjustment', deltaTokens: 5_000n, reason: 'Goodwill credit after the outage' });
    await adminPage.screenshot({ path: path.join(ARTIFACTS_DIR, 'admin-user.png'), fullPage: true });

    // The audit log has it.
    await adminPage.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name: 'Audit log' }).click();
    const audit = adminPage.getByRole('table', { name: 'Audit log' });
    await audit.getByRole('cell', { name: 'Adjusted credits' }).waitFor();
    await audit.getByText('credits: 0 → 5,000').waitFor();
    expect(adminWatch.problems()).toEqual([]);
  });

  it('the user sees the new balance', async () => {
    await userPage.reload();
    await userPage
      .getByText(/^5,000\s*tokens$/)
      .first()
      .waitFor();
    await userPage.screenshot({ path: path.join(ARTIFACTS_DIR, 'admin-user-credits.png'), fullPage: true });
    expect(userWatch.problems()).toEqual([]);
  });

  it('support sees the read-only parts and the credit form, not the admin-only controls', async () => {
    const { page, watch } = await openPage();
    await signIn(page, staff);
    await page.goto(`${server.url}/admin?view=controls`);
    await page.getByRole('heading', { name: 'Kill switch' }).waitFor();
    expect(await page.getByText('Only an admin can change this.').count()).toBe(4); // the kill switch, the daily token cap, the daily and monthly dollar caps
    expect(await page.getByRole('button', { name: /Pause chat/ }).count()).toBe(0);
    await page.goto(`${server.url}/admin?view=users&user=${user.id}`);
    await page.getByRole('form', { name: 'Adjust credits' }).waitFor();
    await page.getByText('Support can adjust up to 10,000 tokens at a time and 1,000,000 tokens a day in all.', { exact: false }).waitFor();
    expect(await page.getByRole('button', { name: /Delete account/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /Block/ }).count()).toBe(0);
    expect(watch.problems()).toEqual([]);
  });

  it('the admin gives a user the support role from the user detail, at 360 px wide and on the desktop; support cannot adjust staff', async () => {
    const promoted = { email: 'promoted@example.com', password: 'promoted password 123', id: '' };
    promoted.id = (await server.browser({ ip: '10.55.0.3' }).trpc.auth.signUp.mutate({ email: promoted.email, password: promoted.password })).user.id;
    for (const width of [360, 1280]) {
      const { page, watch } = await openPage(width);
      await signIn(page, admin);
      await page.goto(`${server.url}/admin?view=users&user=${promoted.id}`);
      const form = page.getByRole('form', { name: 'Role' });
      const target = width === 360 ? 'support' : 'user';
      await form.getByLabel('Role').selectOption(target);
      await form.getByRole('button', { name: 'Set role' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: target === 'support' ? 'now has the support role' : 'now a plain user' })
        .waitFor();
      expect((await server.deps.prisma.user.findUniqueOrThrow({ where: { id: promoted.id }, select: { role: true } })).role).toBe(target);
      expect(await form.getByRole('button', { name: 'Set role' }).isDisabled()).toBe(true);
      // Nothing wider than the screen.
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(width);
      const box = await form.boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(width);
      // The admin's own account (an admin): no role control, no credit form.
      const self = (await server.deps.prisma.user.findUniqueOrThrow({ where: { email: admin.email }, select: { id: true } })).id;
      await page.goto(`${server.url}/admin?view=users&user=${self}`);
      await page.getByText('Admin: an admin is made or removed by the operator (ADMIN_EMAIL), not here.').waitFor();
      await page.getByText('You cannot adjust your own credits; ask another admin.').waitFor();
      expect(await page.getByRole('form', { name: 'Adjust credits' }).count()).toBe(0);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, `admin-role-${width}.png`), fullPage: true });
      expect(watch.problems()).toEqual([]);
    }
    const audit = await server.deps.prisma.auditLogEntry.findMany({ where: { targetUserId: promoted.id, action: 'user.set_role' }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.after)).toEqual([{ role: 'support' }, { role: 'user' }]);

    // Support sees another staff account's credit panel as a note, not a form.
    const { page, watch } = await openPage(360);
    await signIn(page, staff);
    const adminId = (await server.deps.prisma.user.findUniqueOrThrow({ where: { email: admin.email }, select: { id: true } })).id;
    await page.goto(`${server.url}/admin?view=users&user=${adminId}`);
    await page.getByText('This is an admin account: only an admin can adjust its credits.').waitFor();
    expect(await page.getByRole('form', { name: 'Adjust credits' }).count()).toBe(0);
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(360);
    expect(watch.problems()).toEqual([]);
  }, 180_000);
});
