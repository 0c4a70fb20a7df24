// Every page at a phone's width and on the desktop, light and dark, signed out,
// signed in and as admin: nothing is wider than the window (no sideways
// scrolling at 360 px), and axe-core finds no serious or critical accessibility
// violation. One browser, one context per kind of visitor; the viewport and the
// colour scheme change between visits. Screenshots of every visit are kept in
// test-artifacts/e2e/layout/.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ARTIFACTS_DIR,
  axeViolations,
  CLIENT_DIST,
  contrastNotPassed,
  describeBrowser,
  ensureClientBuilt,
  horizontalOverflow,
  launchChromium,
  watchPage,
  type PageWatch,
} from '../helpers/browser.ts';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { DAY_MS, insertEvents } from '../helpers/admin.ts';
import { send } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const SIZES = [
  { width: 360, height: 740 },
  { width: 1280, height: 800 },
] as const;
const SCHEMES = ['light', 'dark'] as const;
/** The page's --bg in each scheme (#f6f7fb, #0c0e16). */
const BACKGROUND = { light: 'rgb(246, 247, 251)', dark: 'rgb(12, 14, 22)' } as const;
const SHOTS = path.join(ARTIFACTS_DIR, 'layout');

interface Visit {
  name: string;
  path: string;
  /** Done after the page has loaded, before measuring (e.g. open a panel); returns what is wrong, if anything. */
  act?: (page: Page) => Promise<string | null>;
}

describeBrowser('every page fits a phone and passes axe-core, light and dark', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const admin = { email: 'layout-admin@example.com', password: 'admin password for layout' };
  // A long address (people have them): every place that shows it must still fit 360 px.
  const user = { email: 'layoutuserwitharatherlongaddressforanarrowscreen@examplecompany.com', password: 'user password for layout', id: '' };

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', BILLING_SIMULATOR: '1' });
    await server.deps.auth.ensureAdmin(admin.email, admin.password);
    // A user with a conversation (Markdown, a code block), usage over several days and notifications.
    const api = server.browser({ ip: '10.66.0.1' });
    user.id = (await api.trpc.auth.signUp.mutate({ email: user.email, password: user.password })).user.id;
    await send(api, { content: 'Write a Python function for Fibonacci numbers' });
    await insertEvents(
      server,
      [1, 2, 3, 5, 8, 13].map((d) => ({
        userId: user.id,
        promptTokens: 400 * d,
        completionTokens: 90 * d,
        costMicroUsd: 1_500 * d,
        createdAt: new Date(Date.now() - d * DAY_MS),
      })),
    );
    await server.deps.prisma.notification.createMany({
      data: [
        {
          userId: user.id,
          kind: 'messages_day',
          threshold: 80,
          periodKey: 'layout-1',
          title: '80% of today’s messages used',
          body: 'You have used 16 of 20 messages today.',
        },
        {
          userId: user.id,
          kind: 'messages_day',
          threshold: 90,
          periodKey: 'layout-1',
          title: '90% of today’s messages used',
          body: 'You have used 18 of 20 messages today.',
          readAt: new Date(),
        },
      ],
    });
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  async function openPage(): Promise<{ page: Page; watch: PageWatch }> {
    const context = await browser.newContext({ viewport: SIZES[0], reducedMotion: 'reduce' });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    return { page, watch: await watchPage(page) };
  }

  async function signIn(page: Page, who: { email: string; password: string }) {
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel('E-mail').fill(who.email);
    await page.getByLabel('Password', { exact: true }).fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
  }

  /** Loaded: the page's heading is there and no spinner is left (charts and lists have their data). */
  async function settle(page: Page) {
    await page.locator('h1').first().waitFor();
    // A locator, not waitForFunction: the page's CSP forbids the eval that a string predicate needs.
    await expect.poll(() => page.locator('.spinner, .page-loading').count(), { timeout: 20_000 }).toBe(0);
  }

  /** Visits each page at each size and scheme; returns what does not fit and what axe reports. */
  async function visitAll(who: string, page: Page, watch: PageWatch, visits: Visit[]): Promise<string[]> {
    const problems: string[] = [];
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const size of SIZES) {
        await page.setViewportSize(size);
        for (const visit of visits) {
          const where = `${who} ${visit.name} ${size.width}px ${scheme}`;
          await page.goto(`${server.url}${visit.path}`);
          await settle(page);
          const wrong = await visit.act?.(page);
          if (wrong) problems.push(`${where}: ${wrong}`);
          // The OS scheme picks the palette (theme.css: light-dark(), --bg).
          const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
          if (background !== BACKGROUND[scheme]) problems.push(`${where}: background ${background}, not the ${scheme} palette's ${BACKGROUND[scheme]}`);
          const fit = await horizontalOverflow(page);
          if (fit.scrollWidth > fit.innerWidth)
            problems.push(`${where}: ${fit.scrollWidth}px wide in a ${fit.innerWidth}px window (${fit.culprits.join(', ')})`);
          for (const v of await axeViolations(page)) problems.push(`${where}: axe ${v.impact} ${v.id} (${v.help}): ${v.targets.join(' | ')}`);
          // The inactive main tabs reach 4.5:1, checked outright (axe may leave a see-through bar's contrast undecided).
          for (const tab of await contrastNotPassed(page, '.tabs__link:not(.active)'))
            problems.push(`${where}: inactive tab contrast not shown to pass: ${tab}`);
          await page.screenshot({ path: path.join(SHOTS, `${who}-${visit.name}-${size.width}-${scheme}.png`), fullPage: true });
        }
      }
    }
    problems.push(...watch.problems().map((p) => `${who}: ${p}`));
    return problems;
  }

  it('signed out: chat, cost planner, sign-in, sign-up, magic link, e-mail check, not found', async () => {
    const { page, watch } = await openPage();
    const problems = await visitAll('visitor', page, watch, [
      { name: 'chat', path: '/' },
      { name: 'planner', path: '/planner' },
      { name: 'sign-in', path: '/sign-in' },
      { name: 'sign-up', path: '/sign-up' },
      { name: 'magic-link', path: '/magic-link' },
      { name: 'verify-email', path: '/verify-email' },
      { name: 'not-found', path: '/no-such-page' },
    ]);
    expect(problems).toEqual([]);
  }, 600_000);

  it('signed in: chat, usage, billing, cost planner, account, the notifications panel open', async () => {
    const { page, watch } = await openPage();
    await signIn(page, user);
    const conversation = await server.deps.prisma.conversation.findFirstOrThrow({ where: { userId: user.id }, select: { id: true } });
    const problems = await visitAll('user', page, watch, [
      { name: 'chat', path: `/?c=${conversation.id}` },
      { name: 'new-chat', path: '/' },
      { name: 'usage', path: '/usage' },
      {
        name: 'billing',
        path: '/billing',
        // Each plan card lists the hourly message cap, the limit people reach first.
        act: async (p) => {
          const missing: string[] = [];
          for (const plan of DEFAULT_PLANS.filter((x) => x.id !== 'guest')) {
            const card = p.getByRole('listitem').filter({ has: p.getByRole('heading', { name: plan.name, exact: true }) });
            const text = await card.innerText();
            if (!text.includes(`${plan.limits.messagesPerHour.toLocaleString('en-US')} messages an hour`)) missing.push(plan.name);
          }
          return missing.length > 0 ? `plan cards without the hourly cap: ${missing.join(', ')}` : null;
        },
      },
      { name: 'planner', path: '/planner' },
      { name: 'account', path: '/account' },
      {
        name: 'notifications',
        path: '/usage',
        act: async (p) => {
          await p.getByRole('button', { name: /^Notifications/ }).click();
          const panel = p.getByRole('region', { name: 'Notifications' });
          await panel.getByText('80% of today’s messages used').waitFor();
          // The whole panel is on screen.
          const box = (await panel.boundingBox())!;
          const width = p.viewportSize()!.width;
          return box.x < 0 || box.x + box.width > width ? `the notifications panel spans ${box.x}..${box.x + box.width} in a ${width}px window` : null;
        },
      },
    ]);
    expect(problems).toEqual([]);
  }, 600_000);

  it('admin: every Admin section, a user, and Admin reachable from the nav', async () => {
    const { page, watch } = await openPage();
    await signIn(page, admin);
    // At 360 px the Admin tab can be reached and pressed.
    await page.setViewportSize(SIZES[0]);
    const tab = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' });
    await tab.click();
    await page.waitForURL((url) => url.pathname === '/admin');
    const box = (await tab.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(SIZES[0].width);
    const problems = await visitAll('admin', page, watch, [
      { name: 'admin-overview', path: '/admin' },
      { name: 'admin-users', path: '/admin?view=users' },
      { name: 'admin-user', path: `/admin?view=users&user=${user.id}` },
      { name: 'admin-audit', path: '/admin?view=audit' },
      { name: 'admin-controls', path: '/admin?view=controls' },
      { name: 'usage', path: '/usage' },
    ]);
    expect(problems).toEqual([]);
  }, 600_000);
});
