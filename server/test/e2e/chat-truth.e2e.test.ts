// The chat tells the truth, in a real browser at desktop and phone width: stored
// replies show their tokens and cost after a reload; the limit notice names the
// limit that refused and the real wait; signing up from it returns the guest to
// the conversation it was in, without the old notice; an interrupted reply offers
// Retry. Screenshots go to test-artifacts/e2e/chat-truth-*.png.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800, ip: '10.63.0.1' },
  { name: 'phone', width: 360, height: 740, ip: '10.63.0.2' },
] as const;

describeBrowser('the chat tells the truth about usage, limits and broken replies', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ensureClientBuilt();
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', EMAIL_VERIFICATION: 'off' });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const viewport of VIEWPORTS) {
    const shot = (page: Page, step: string) => page.screenshot({ path: path.join(ARTIFACTS_DIR, `chat-truth-${viewport.name}-${step}.png`) });

    it(`${viewport.name} (${viewport.width} px): usage after reload, the real wait, sign-up back to the conversation, Retry`, async () => {
      // Each width is another guest network (TRUST_PROXY=loopback), so the guests' per-network day does not carry over.
      const context: BrowserContext = await browser.newContext({
        viewport: { width: viewport.width, height: viewport.height },
        extraHTTPHeaders: { 'x-forwarded-for': viewport.ip },
      });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const watch: PageWatch = await watchPage(page);
      // The refused message is an HTTP 402 in the console: expected here.
      watch.allow(/status of 402/);
      const log = () => page.getByRole('log', { name: 'Messages' });
      const input = () => page.getByRole('textbox', { name: 'Message' });
      const replies = () => log().getByRole('article', { name: 'Assistant' });
      const sendMessage = async (text: string) => {
        const before = await replies().count();
        await input().fill(text);
        await input().press('Enter');
        await eventually(async () => expect(await replies().count()).toBe(before + 1), 10_000);
        await page.getByRole('button', { name: 'Send' }).waitFor();
      };
      try {
        // 1. A guest's five messages (the guest plan: 5 a day), then a reload: every stored reply shows tokens and cost.
        await page.goto(`${server.url}/`);
        for (let i = 1; i <= 5; i++) {
          await sendMessage(`Question number ${i}`);
          if (i === 1) await page.waitForURL(/\?c=/);
          await replies().last().getByLabel('Usage of this reply').waitFor();
        }
        const conversationId = new URL(page.url()).searchParams.get('c')!;
        await page.reload();
        await eventually(async () => expect(await replies().count()).toBe(5), 10_000);
        const metas = await replies().getByLabel('Usage of this reply').allInnerTexts();
        expect(metas).toHaveLength(5);
        for (const meta of metas) expect(meta).toMatch(/\d[\d,]* tokens[\s\S]*\$\d/);
        // The numbers are the metered ones.
        const events = await server.deps.prisma.usageEvent.findMany({
          where: { conversationId },
          orderBy: { id: 'asc' },
          select: { promptTokens: true, completionTokens: true },
        });
        expect(metas.map((m) => /([\d,]+) tokens/.exec(m)![1]!.replace(/,/g, ''))).toEqual(events.map((e) => String(e.promptTokens + e.completionTokens)));
        await shot(page, '1-usage-after-reload');

        // 2. The sixth: the day is used up. The notice names it and waits until midnight UTC, not "29 min" or "45 seconds".
        await input().fill('One more, please');
        const sentAt = new Date();
        await input().press('Enter');
        const notice = page.getByRole('alert').filter({ hasText: "Today's messages are used up" });
        await notice.waitFor();
        const resetText = await notice.locator('.notice__reset').innerText();
        const readAt = new Date();
        expect(resetText).toMatch(/^Resets at 00:00 UTC \(in /);
        // The wait's hours as the page counts them (minutes rounded up), at some moment between
        // sending and reading: in an hour's last minute "18 h 59.5 min" reads "19 h".
        const midnight = new Date(Date.UTC(sentAt.getUTCFullYear(), sentAt.getUTCMonth(), sentAt.getUTCDate() + 1));
        const hoursAt = (t: Date) => Math.floor(Math.ceil((midnight.getTime() - t.getTime()) / 60_000) / 60);
        const hours = [hoursAt(sentAt), hoursAt(readAt)].filter((h) => h > 0 && h < 24);
        if (hours.length > 0)
          expect(
            hours.some((h) => resetText.includes(`(in ${h} h`)),
            `${resetText} names one of ${hours.join(', ')} h`,
          ).toBe(true);
        expect(await notice.innerText()).toContain("You have used today's 5 messages.");
        expect(await input().inputValue()).toBe('One more, please');
        await shot(page, '2-limit-notice');

        // Five guest messages, two notifications: 80 % (4 of 5) and all (5 of 5) of today's messages; nothing for the hour.
        await page.getByRole('button', { name: /^Notifications/ }).click();
        const panel = page.getByRole('region', { name: 'Notifications' });
        await panel.getByText("You have used all of today's messages").waitFor();
        await panel.getByText("You have used 80% of today's messages").waitFor();
        const bodies = await panel.locator('.bell__body').allInnerTexts();
        expect(bodies).toHaveLength(2);
        expect(bodies.map((b) => /\d+ of \d+/.exec(b)?.[0])).toEqual(['5 of 5', '4 of 5']);
        await shot(page, '2b-notifications');
        await page.keyboard.press('Escape');

        // 3. Sign up from the notice: back in the same conversation, the notice gone, the draft kept.
        await notice.getByRole('link', { name: 'Sign up to keep chatting' }).click();
        await page.waitForURL(/\/sign-up\?next=/);
        await page.getByLabel('E-mail').fill(`truth-${viewport.name}-${Date.now()}@example.com`);
        await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.waitForURL((url) => url.pathname === '/' && url.searchParams.get('c') === conversationId);
        await eventually(async () => expect(await replies().count()).toBe(5), 10_000);
        expect(await page.getByRole('alert').filter({ hasText: 'used up' }).count()).toBe(0);
        await shot(page, '3-back-after-sign-up');
        // The account's own limits: the message goes through in the same conversation.
        await sendMessage('Now as an account');
        await replies().last().getByLabel('Usage of this reply').waitFor();
        expect(new URL(page.url()).searchParams.get('c')).toBe(conversationId);

        // 4. A reply whose server died mid-stream (the sweeper kept what was relayed, marked interrupted): Retry resends the question.
        const last = await server.deps.prisma.message.findFirstOrThrow({
          where: { conversationId, role: 'assistant' },
          orderBy: { createdAt: 'desc' },
          select: { id: true, content: true },
        });
        await server.deps.prisma.message.update({ where: { id: last.id }, data: { status: 'interrupted', content: last.content.slice(0, 40) } });
        await page.reload();
        const broken = replies().last();
        await broken.getByText('Interrupted', { exact: true }).waitFor();
        const retry = broken.getByRole('button', { name: 'Retry' });
        await retry.waitFor();
        await shot(page, '4-interrupted-retry');
        await retry.click();
        await eventually(async () => expect(await replies().count()).toBe(7), 10_000);
        await replies().last().getByLabel('Usage of this reply').waitFor();
        expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
        const questions = await server.deps.prisma.message.findMany({
          where: { conversationId, role: 'user' },
          orderBy: { createdAt: 'asc' },
          select: { content: true },
        });
        expect(questions.map((q) => q.content).slice(-2)).toEqual(['Now as an account', 'Now as an account']);
        await shot(page, '5-retried');
        // Nothing wider than the screen.
        expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
