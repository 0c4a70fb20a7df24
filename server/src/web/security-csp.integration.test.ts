// The Content-Security-Policy is one the SPA really works under: headless Chromium
// loads every route (signed out, then signed in as an admin so /admin renders),
// with the captcha widget on, and watchPage() fails on any CSP violation, console
// error or uncaught exception.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ARTIFACTS_DIR, CLIENT_DIST, describeBrowser, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../../test/helpers/browser.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const admin = { email: 'csp-admin@example.com', password: 'correct horse battery staple' };

function checkPolicy(csp: string | null): void {
  expect(csp, 'Content-Security-Policy header').toBeTruthy();
  const directives = Object.fromEntries(
    csp!
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name, values]),
  );
  expect(directives['default-src']).toEqual(["'self'"]);
  expect(directives['script-src']).toEqual(["'self'"]);
  expect(directives['frame-ancestors']).toEqual(["'none'"]);
  expect(directives['object-src']).toEqual(["'none'"]);
  expect(directives['connect-src']).toEqual(["'self'"]);
}

describeBrowser('CSP in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'on' });
    await server.deps.auth.ensureAdmin(admin.email, admin.password);
    // Something to show on /usage and /admin.
    const api = server.browser({ ip: '10.70.0.1' });
    await api.trpc.auth.signIn.mutate(admin);
    await send(api, { content: 'Hello, policy.' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch = await watchPage(page);
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  async function visit(route: string): Promise<void> {
    const response = await page.goto(`${server.url}${route}`);
    expect(response?.status(), route).toBe(200);
    checkPolicy(response!.headers()['content-security-policy'] ?? null);
    await page.locator('#root *').first().waitFor();
    // Let lazy chunks, queries, charts and the captcha worker run.
    await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
    expect(watch.problems(), route).toEqual([]);
  }

  it('every public route renders with no violation', async () => {
    for (const route of ['/sign-in', '/sign-up', '/magic-link', '/planner', '/']) await visit(route);
    // The captcha widget (a proof-of-work in a worker) ran under the policy on /sign-up.
    await page.goto(`${server.url}/sign-up`);
    await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
    expect(watch.problems()).toEqual([]);
  });

  it('every signed-in route, /admin as an admin, renders with no violation', async () => {
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel('E-mail').fill(admin.email);
    await page.getByLabel('Password', { exact: true }).fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    for (const route of ['/', '/usage', '/billing', '/admin', '/account', '/planner']) await visit(route);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'csp-admin.png') });
    expect(watch.problems()).toEqual([]);
  });
});
