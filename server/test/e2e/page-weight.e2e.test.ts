// What a real browser downloads: the built client, served by the server, in
// Chromium at a phone's and a desktop's size. The main script arrives compressed
// (Brotli or gzip, whichever Chromium offers over plain HTTP) and cached as an
// immutable asset, index.html is revalidated, the landing page's JavaScript stays
// within the 200 KB budget on the wire, and the chart library arrives only when
// a page that draws charts opens.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ARTIFACTS_DIR, CLIENT_DIST, describeBrowser, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const SIZES = [
  { name: 'desktop', viewport: { width: 1280, height: 800 } },
  { name: 'phone', viewport: { width: 390, height: 844 } },
] as const;

interface Loaded {
  url: string;
  status: number;
  headers: Record<string, string>;
  /** What Chromium offered: "gzip, deflate, br, zstd" (over plain HTTP too, in Chromium 14x). */
  acceptEncoding: string;
  encodedBytes: number;
}

describeBrowser('page weight in the browser', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Every response the page receives, with its headers and its size on the wire. */
  function record(page: Page): Loaded[] {
    const loaded: Loaded[] = [];
    const pending: Promise<void>[] = [];
    page.on('response', (response: Response) => {
      pending.push(
        (async () => {
          const sizes = await response.request().sizes();
          const acceptEncoding = (await response.request().allHeaders())['accept-encoding'] ?? '';
          loaded.push({
            url: new URL(response.url()).pathname,
            status: response.status(),
            headers: await response.allHeaders(),
            acceptEncoding,
            encodedBytes: sizes.responseBodySize,
          });
        })(),
      );
    });
    Object.defineProperty(loaded, 'settle', { value: () => Promise.all(pending) });
    return loaded;
  }
  /** The build compresses files of 1 KiB and more (client/build/precompress.ts): smaller ones come as they are. */
  const uncompressedAndLarge = (r: Loaded) => !r.headers['content-encoding'] && Number(r.headers['content-length']) >= 1024;
  const settle = (loaded: Loaded[]) => (loaded as Loaded[] & { settle: () => Promise<void[]> }).settle();

  it('offers a reload when a page cannot be loaded (its chunk is gone after a deploy), and the reload brings it', async () => {
    const context: BrowserContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const watch = await watchPage(page);
      // The failed fetch and React's report of the error it caught are expected here.
      watch.allow(/Failed to load resource|dynamically imported module|Failed to fetch|could not be loaded|error occurred|planner-page/i);
      await page.goto(`${server.url}/`, { waitUntil: 'networkidle' });
      await page.route(/\/assets\/planner-page-[\w-]+\.js$/, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{}' }));
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cost planner' }).click();
      const alert = page.getByRole('alert').filter({ hasText: 'This page could not be loaded' });
      await alert.waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'page-weight-chunk-failed-phone.png') });
      await page.unroute(/\/assets\/planner-page-[\w-]+\.js$/);
      await alert.getByRole('button', { name: 'Reload' }).click();
      await page.getByRole('heading', { level: 1, name: 'Cost planner' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/planner');
      expect(watch.problems()).toEqual([]);
    } finally {
      await context.close();
    }
  });

  for (const size of SIZES) {
    it(`loads the app with a compressed, immutable main script (${size.name})`, async () => {
      const context: BrowserContext = await browser.newContext({ viewport: size.viewport });
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(15_000);
        const watch: PageWatch = await watchPage(page);
        const loaded = record(page);

        await page.goto(`${server.url}/`, { waitUntil: 'networkidle' });
        await page.getByRole('textbox', { name: 'Message' }).waitFor();
        await settle(loaded);

        const html = loaded.find((r) => r.url === '/')!;
        expect(html.headers['cache-control']).toBe('no-cache');
        expect(html.headers['content-type']).toBe('text/html; charset=utf-8');

        const mainSrc = await page.locator('script[type="module"][src]').first().getAttribute('src');
        expect(mainSrc).toMatch(/^\/assets\/index-[\w-]+\.js$/);
        const main = loaded.find((r) => r.url === mainSrc);
        expect(main, `${mainSrc} was not loaded`).toBeDefined();
        expect(main!.status).toBe(200);
        // Brotli whenever Chromium offers it (smaller), gzip otherwise.
        const expected = /\bbr\b/.test(main!.acceptEncoding) ? 'br' : 'gzip';
        expect(main!.headers['content-encoding'], `offered "${main!.acceptEncoding}" (is client/dist built with the precompress plugin?)`).toBe(expected);
        expect(main!.headers.vary).toMatch(/accept-encoding/i);
        expect(main!.headers['cache-control']).toBe('public, max-age=31536000, immutable');

        // Every script of the landing page came compressed (but the tiny ones, not worth it), and together they fit the budget on the wire.
        const scripts = loaded.filter((r) => r.url.endsWith('.js'));
        expect(scripts.filter(uncompressedAndLarge).map((r) => r.url)).toEqual([]);
        const wire = scripts.reduce((sum, r) => sum + r.encodedBytes, 0);
        expect(wire).toBeGreaterThan(0);
        expect(wire, scripts.map((r) => `${r.url} ${r.encodedBytes} B`).join('\n')).toBeLessThanOrEqual(200_000);
        // No page that draws charts was opened: the chart library was not fetched.
        expect(scripts.map((r) => r.url).filter((url) => /CartesianChart|planner-page|usage-page|admin-page/.test(url))).toEqual([]);
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `page-weight-chat-${size.name}.png`) });

        // The planner brings its chart code with it, compressed and immutable like the rest.
        const before = loaded.length;
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cost planner' }).click();
        await page.getByRole('heading', { level: 1, name: 'Cost planner' }).waitFor();
        await page.waitForLoadState('networkidle');
        await settle(loaded);
        const lazy = loaded.slice(before).filter((r) => r.url.endsWith('.js'));
        expect(lazy.some((r) => /planner-page/.test(r.url))).toBe(true);
        expect(lazy.filter(uncompressedAndLarge).map((r) => r.url)).toEqual([]);
        for (const chunk of lazy) {
          expect(chunk.headers['cache-control'], chunk.url).toBe('public, max-age=31536000, immutable');
        }
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `page-weight-planner-${size.name}.png`) });
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
