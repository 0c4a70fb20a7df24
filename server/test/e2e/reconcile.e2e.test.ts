// The reconciliation panel of the Admin overview in a real browser, at desktop
// size and at 360 px: first the empty state (how to enable it), then, with the
// provider's figures stored, the metered-vs-provider chart and the drift table.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addDays, utcDay } from '../../src/lib/days.ts';
import { SESSION_COOKIE } from '../../src/auth/session.ts';
import { ARTIFACTS_DIR, CLIENT_DIST, describeBrowser, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { insertEvents, person } from '../helpers/admin.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('the reconciliation panel in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const yesterday = addDays(utcDay(new Date()), -1);

  async function adminPage(width: number, height: number): Promise<{ page: Page; watch: PageWatch }> {
    const admin = await person(server, 'admin');
    const context = await browser.newContext({ viewport: { width, height }, colorScheme: 'light' });
    contexts.push(context);
    await context.addCookies([{ name: SESSION_COOKIE, value: admin.b.cookies.get(SESSION_COOKIE)!.value, url: server.url }]);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { page, watch: await watchPage(page) };
  }

  /** The page itself does not scroll sideways (a wide table scrolls inside its own box). */
  async function fitsWidth(page: Page, width: number) {
    expect(await page.evaluate('document.scrollingElement.scrollWidth')).toBeLessThanOrEqual(width);
  }

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it('without figures, says how to enable it (desktop and 360 px)', async () => {
    for (const [width, height] of [
      [1280, 900],
      [360, 780],
    ] as const) {
      const { page, watch } = await adminPage(width, height);
      await page.goto(`${server.url}/admin?view=overview&days=7`);
      const panel = page.getByRole('region', { name: /Meter vs OpenAI's bill/ });
      await panel.getByText('No figures from OpenAI for these days yet.').waitFor();
      await panel.getByText('npm run reconcile -- --file costs.json').waitFor();
      expect(await panel.getByText('OPENAI_ADMIN_KEY', { exact: true }).count()).toBeGreaterThan(0);
      await fitsWidth(page, width);
      await panel.screenshot({ path: path.join(ARTIFACTS_DIR, `reconcile-empty-${width}.png`) });
      expect(watch.problems()).toEqual([]);
    }
  });

  it('with figures: the chart of metered vs provider and the drift table (desktop and 360 px)', async () => {
    const customer = await person(server);
    const days = [6, 5, 4, 3, 2, 1, 0].map((i) => addDays(yesterday, -i));
    await insertEvents(
      server,
      days.map((day, i) => ({ userId: customer.id, costMicroUsd: 1_000_000 + i * 100_000, createdAt: new Date(`${day}T12:00:00Z`) })),
    );
    // The provider agrees within 2 % except on yesterday (+20 %), the last figure of the week.
    await server.deps.reconcile.store(
      days.map((day, i) => ({ day, costMicroUsd: day === yesterday ? Math.round((1_000_000 + i * 100_000) * 1.25) : 1_000_000 + i * 100_000 + 10_000 })),
      'file',
    );
    for (const [width, height] of [
      [1280, 900],
      [360, 780],
    ] as const) {
      const { page, watch } = await adminPage(width, height);
      await page.goto(`${server.url}/admin?view=overview&days=7`);
      const panel = page.getByRole('region', { name: /Meter vs OpenAI's bill · 7 days/ });
      await panel.getByText('1 of 7 days past 5 %').waitFor();
      const table = panel.getByRole('table', { name: 'Reconciliation by day' });
      await table.getByRole('row').nth(7).waitFor(); // header + 7 days
      // Newest first: yesterday, $1.60 metered, $2.00 reported, +20 %.
      const first = table.getByRole('row').nth(1);
      await first.getByRole('img', { name: 'past 5 %' }).waitFor();
      expect((await first.getByRole('cell').allTextContents()).map((t) => t.trim())).toEqual([
        expect.stringMatching(/^\d{1,2} \w{3}$/),
        '$1.60',
        '$2.00',
        '+20.00 %!',
      ]);
      await panel.getByText('All of these figures came from a file (npm run reconcile).', { exact: false }).waitFor();
      // The table fits: no sideways scrolling inside it either.
      const box = `document.querySelector('table[aria-label="Reconciliation by day"]').parentElement`;
      expect(await page.evaluate(`${box}.scrollWidth <= ${box}.clientWidth`)).toBe(true);
      // Two bars a day.
      await panel.locator('.recharts-bar-rectangle').nth(13).waitFor();
      await fitsWidth(page, width);
      expect((await panel.boundingBox())!.width).toBeLessThanOrEqual(width);
      await panel.screenshot({ path: path.join(ARTIFACTS_DIR, `reconcile-figures-${width}.png`) });
      expect(watch.problems()).toEqual([]);
    }
  });
});
