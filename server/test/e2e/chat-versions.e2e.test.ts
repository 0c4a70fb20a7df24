// Regenerate, edit and versions in a real browser (issue 15), at desktop size and on a
// phone: a reply regenerated shows ‹ 2/2 ›, switching back (by keyboard) shows 1/2 and
// survives a reload; editing a message in place resends it and shows the new reply, with
// the message's own ‹ 2/2 ›. The fake OpenAI server numbers its replies so each version is
// told apart. axe-core finds no serious or critical problem with the switch or the editor.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../fakes/openai-server.ts';
import {
  axeViolations,
  describeBrowser,
  ARTIFACTS_DIR,
  CLIENT_DIST,
  ensureClientBuilt,
  launchChromium,
  watchPage,
  type PageWatch,
} from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('regenerate, edit and versions', () => {
  let fake: FakeOpenAIServer;
  let server: TestServer;
  let browser: Browser;
  let replies = 0;

  beforeAll(async () => {
    ensureClientBuilt();
    fake = await startFakeOpenAIServer();
    fake.setHandler(() => ({ reply: `Reply number ${++replies}.` }));
    server = await startTestServer({
      CLIENT_DIST,
      CAPTCHA: 'off',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_MAX_RETRIES: '0',
      CHAT_CACHE_TTL_SECONDS: '0',
    });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await fake?.close();
  });

  for (const size of [
    // Guests on one network share 5 messages a day: each size is its own network.
    { name: 'desktop', width: 1280, height: 800, ip: '10.64.0.1' },
    { name: 'mobile', width: 390, height: 844, ip: '10.64.0.2' },
  ]) {
    it(`at ${size.width}x${size.height}: regenerate shows 2/2, switching back shows 1/2 (kept after a reload), edit resends and shows the new reply`, async () => {
      const context: BrowserContext = await browser.newContext({
        viewport: { width: size.width, height: size.height },
        colorScheme: 'light',
        extraHTTPHeaders: { 'x-forwarded-for': size.ip },
      });
      try {
        const page: Page = await context.newPage();
        page.setDefaultTimeout(15_000);
        const watch: PageWatch = await watchPage(page);
        const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS_DIR, `chat-versions-${name}-${size.name}.png`) });
        const log = () => page.getByRole('log', { name: 'Messages' });
        const reply = () => log().getByRole('article', { name: 'Assistant' }).last();
        const mine = () => log().getByRole('article', { name: 'You' }).last();
        const replyVersions = () => reply().getByRole('group', { name: 'Versions of this reply' });
        const accessible = async () => expect(await axeViolations(page)).toEqual([]);
        const fitsWidth = async () =>
          // A string, not a function: the server's tsconfig has no DOM types.
          expect(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);

        await page.goto(`${server.url}/`);
        const input = page.getByRole('textbox', { name: 'Message' });
        await input.fill('What is a version?');
        const first = replies + 1;
        await input.press('Enter');
        await reply().getByText(`Reply number ${first}.`).waitFor();
        await page.waitForURL((url) => url.searchParams.has('c'));
        // No version switcher yet (the reply's usage line is a group of its own).
        expect(
          await log()
            .getByRole('group', { name: /^Versions of/ })
            .count(),
        ).toBe(0);

        // Regenerate: a second reply to the same message, the first kept as version 1.
        await reply().getByRole('button', { name: 'Regenerate reply' }).click();
        await reply()
          .getByText(`Reply number ${first + 1}.`)
          .waitFor();
        await replyVersions().getByText('2/2').waitFor();
        await replyVersions().getByText('Version 2 of 2').waitFor();
        expect(await log().getByRole('article', { name: 'You' }).count()).toBe(1);
        expect(await log().getByText(`Reply number ${first}.`).count()).toBe(0);
        await fitsWidth();
        await accessible();
        await shot('regenerated');

        // Back to the first version, by keyboard.
        const previous = replyVersions().getByRole('button', { name: 'Previous version' });
        await previous.focus();
        await page.keyboard.press('Enter');
        await reply().getByText(`Reply number ${first}.`).waitFor();
        await replyVersions().getByText('1/2').waitFor();
        await expect(replyVersions().getByRole('button', { name: 'Previous version' }).isDisabled()).resolves.toBe(true);
        await shot('switched');
        // The choice is the server's: a reload shows it again.
        await page.reload();
        await reply().getByText(`Reply number ${first}.`).waitFor();
        await replyVersions().getByText('1/2').waitFor();

        // Edit the message in place and send it again: a new reply, and the message's own versions.
        await mine().getByRole('button', { name: 'Edit your message' }).click();
        const editor = log().getByRole('textbox', { name: 'Edit your message' });
        await expect(editor.inputValue()).resolves.toBe('What is a version?');
        await fitsWidth();
        await accessible();
        await shot('editing');
        // Escape leaves it as it was.
        await editor.press('Escape');
        await mine().getByText('What is a version?').waitFor();
        await mine().getByRole('button', { name: 'Edit your message' }).click();
        await editor.fill('What is a branch?');
        await log().getByRole('button', { name: 'Save & send' }).click();
        await mine().getByText('What is a branch?').waitFor();
        await reply()
          .getByText(`Reply number ${first + 2}.`)
          .waitFor();
        const messageVersions = mine().getByRole('group', { name: 'Versions of your message' });
        await messageVersions.getByText('2/2').waitFor();
        // The new branch has one reply so far: no versions on it.
        expect(await replyVersions().count()).toBe(0);
        expect(fake.requests.at(-1)!.body.messages.filter((m: { role: string }) => m.role !== 'system')).toEqual([
          { role: 'user', content: 'What is a branch?' },
        ]);
        await fitsWidth();
        await accessible();
        await shot('edited');

        // The first version of the message comes back with the newest message of its branch (the regenerated reply).
        await messageVersions.getByRole('button', { name: 'Previous version' }).click();
        await mine().getByText('What is a version?').waitFor();
        await reply()
          .getByText(`Reply number ${first + 1}.`)
          .waitFor();
        await replyVersions().getByText('2/2').waitFor();
        await mine().getByRole('group', { name: 'Versions of your message' }).getByText('1/2').waitFor();
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
