// Stop in a real browser: a slow demo model (DEMO_DELAY_MS=80 between chunks) so
// the button can be pressed while the reply streams. The partial answer stays on
// screen, nothing more arrives, and the server keeps (and meters) what it relayed.
// A double click on Send sends once: Stop appears beside Send, not under the
// pointer, so neither the second click nor a nervous click mid-stream stops it.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('stopping a reply in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', DEMO_DELAY_MS: '80' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
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

  const log = () => page.getByRole('log', { name: 'Messages' });
  const input = () => page.getByRole('textbox', { name: 'Message' });
  const replyText = () => log().getByRole('article', { name: 'Assistant' }).last().locator('.md').innerText();

  it('stops a streaming reply and keeps the partial answer', async () => {
    await page.goto(`${server.url}/`);
    await input().fill('Write a Python function for Fibonacci numbers');
    await input().press('Enter');

    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor();
    // Some of the reply, not all of it (the demo's answers end with their footer).
    await eventually(async () => expect((await replyText()).length).toBeGreaterThan(25), 10_000);
    await stop.click();

    const reply = log().getByRole('article', { name: 'Assistant' }).last();
    await reply.getByText('Stopped', { exact: true }).waitFor();
    await reply.getByText('partial answer kept').waitFor();
    await page.getByRole('button', { name: 'Send' }).waitFor();
    const partial = await replyText();
    expect(partial.length).toBeGreaterThan(25);
    expect(partial).not.toContain('Offline demo model');
    // Nothing more arrives after Stop (the demo would send a chunk every 80 ms).
    await page.waitForTimeout(500);
    expect(await replyText()).toBe(partial);
    await expect(reply.getAttribute('aria-busy')).resolves.toBeNull();
    // Focus is back in the composer for the next message.
    await expect(page.evaluate('document.activeElement?.tagName')).resolves.toBe('TEXTAREA');
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-stopped.png') });

    // The server kept what it relayed (at least what is on screen) and metered it as aborted.
    const conversationId = new URL(page.url()).searchParams.get('c');
    expect(conversationId).toBeTruthy();
    const saved = await eventually(async () => {
      const row = await server.deps.prisma.message.findFirst({
        where: { conversationId: conversationId!, role: 'assistant' },
        select: { content: true, status: true },
      });
      expect(row).not.toBeNull();
      return row!;
    });
    expect(saved.status).toBe('aborted');
    // The page shows text without Markdown marks; compare the words that arrived first.
    const firstWords = partial.split(/\s+/).slice(0, 4).join(' ').replace(/[*_`]/g, '');
    expect(saved.content.replace(/[*_`]/g, '')).toContain(firstWords);
    expect(watch.problems()).toEqual([]);
  });

  it('shows the stopped reply again after a reload', async () => {
    await page.reload();
    const reply = log().getByRole('article', { name: 'Assistant' }).last();
    await reply.getByText('Stopped', { exact: true }).waitFor();
    expect(watch.problems()).toEqual([]);
  });

  it('a double click on Send sends exactly once, and a second click on Send while the reply streams does not stop it, at 360 px and on the desktop', async () => {
    for (const viewport of [
      { width: 360, height: 740 },
      { width: 1280, height: 800 },
    ]) {
      await page.setViewportSize(viewport);
      await page.goto(`${server.url}/`);
      await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
      await input().fill('Write a Python function for Fibonacci numbers');
      const send = page.getByRole('button', { name: 'Send', exact: true });
      const sendBox = (await send.boundingBox())!;
      await send.dblclick();

      const stop = page.getByRole('button', { name: 'Stop' });
      await stop.waitFor();
      // Send stays where it was, Stop is beside it (not where Send was clicked), and both are on screen.
      const stopBox = (await stop.boundingBox())!;
      const sendNow = (await send.boundingBox())!;
      expect(Math.abs(sendNow.x - sendBox.x)).toBeLessThan(1);
      expect(Math.abs(sendNow.y - sendBox.y)).toBeLessThan(1);
      expect(stopBox.x).toBeGreaterThanOrEqual(0);
      expect(sendNow.x + sendNow.width).toBeLessThanOrEqual(viewport.width);
      const overlaps =
        stopBox.x < sendBox.x + sendBox.width &&
        sendBox.x < stopBox.x + stopBox.width &&
        stopBox.y < sendBox.y + sendBox.height &&
        sendBox.y < stopBox.y + stopBox.height;
      expect(overlaps).toBe(false);
      // Some of the reply has arrived; a nervous click on the same spot does nothing.
      await eventually(async () => expect((await replyText()).length).toBeGreaterThan(25), 15_000);
      await page.mouse.click(sendBox.x + sendBox.width / 2, sendBox.y + sendBox.height / 2);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, `chat-double-click-${viewport.width}.png`) });

      // The reply runs to its end (the demo's answers end with their footer), not stopped.
      const reply = log().getByRole('article', { name: 'Assistant' }).last();
      await reply.getByText('Offline demo model', { exact: false }).waitFor({ timeout: 30_000 });
      await stop.waitFor({ state: 'detached' });
      expect(await reply.getByText('Stopped', { exact: true }).count()).toBe(0);
      expect(await log().getByRole('article', { name: 'You' }).count()).toBe(1);

      // The server got one message and one complete reply.
      const conversationId = new URL(page.url()).searchParams.get('c');
      expect(conversationId).toBeTruthy();
      const rows = await eventually(async () => {
        const found = await server.deps.prisma.message.findMany({
          where: { conversationId: conversationId! },
          select: { role: true, status: true },
          orderBy: { createdAt: 'asc' },
        });
        expect(found).toHaveLength(2);
        return found;
      });
      expect(rows).toEqual([
        { role: 'user', status: 'ok' },
        { role: 'assistant', status: 'ok' },
      ]);
    }
    expect(watch.problems()).toEqual([]);
  }, 120_000);

  it('after a click on Send the focus is back in the input, where Escape stops the reply', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    await input().fill('Write a Python function for Fibonacci numbers');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByRole('button', { name: 'Stop' }).waitFor();
    await expect(page.evaluate('document.activeElement?.tagName')).resolves.toBe('TEXTAREA');
    await eventually(async () => expect((await replyText()).length).toBeGreaterThan(25), 15_000);
    await page.keyboard.press('Escape');
    await log().getByRole('article', { name: 'Assistant' }).last().getByText('Stopped', { exact: true }).waitFor();
    expect(watch.problems()).toEqual([]);
  });
});
