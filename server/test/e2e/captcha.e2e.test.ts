// The proof-of-work captcha in a real browser: a visitor on `/` with CAPTCHA on,
// the altcha widget solving the server's challenge in its Web Workers, and the
// first message creating the guest session with that solution.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CAPTCHA_COUNTER_RANGE } from '../../src/auth/captcha.ts';
import { describeBrowser, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('captcha in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'on', CAPTCHA_HMAC_KEY: 'e2e-captcha-key-0123456789' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    watch = await watchPage(page);
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it("the widget solves the server's challenge and the visitor's first message starts a guest session with it", async () => {
    const payloads: string[] = [];
    page.on('request', (request) => {
      if (!request.url().includes('/trpc/chat.send')) return;
      const match = /"captcha":"([A-Za-z0-9+/=]+)"/.exec(request.postData() ?? '');
      if (match) payloads.push(match[1]!);
    });
    await page.goto(`${server.url}/`);
    await page.getByText('A quick check that you are human runs in your browser').waitFor();
    const input = page.getByRole('textbox', { name: 'Message' });
    await input.fill('Hello from behind a captcha.');
    // Solved: the composer stops waiting for the check and Send is enabled.
    await page.getByText('Verified', { exact: true }).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Send' }).isEnabled(), { timeout: 20_000 }).toBe(true);
    await input.press('Enter');
    const reply = page.getByRole('log', { name: 'Messages' }).getByRole('article', { name: 'Assistant' }).last();
    await reply.getByText('Offline demo model', { exact: false }).waitFor();

    expect(payloads).toHaveLength(1);
    const { solution } = JSON.parse(Buffer.from(payloads[0]!, 'base64').toString('utf8')) as { solution: { counter: number } };
    expect(solution.counter).toBeGreaterThanOrEqual(0);
    expect(solution.counter).toBeLessThan(CAPTCHA_COUNTER_RANGE);
    // The solution was accepted once, for a new guest.
    expect(await server.deps.prisma.captchaUse.count()).toBe(1);
    const guests = await server.deps.prisma.user.findMany({ where: { isGuest: true }, select: { id: true } });
    expect(guests).toHaveLength(1);
    expect((await context.cookies(server.url)).some((cookie) => cookie.name === 'cm_session')).toBe(true);
    expect(watch.problems()).toEqual([]);
  });
});
