// Markdown replies in a real browser, at 1280 and 360 px: the demo model streams a reply
// with a table, a task list, strikethrough, italic and a TypeScript code block (it does so
// when asked for a table). Every state of the reply the page showed while it streamed is
// recorded by a MutationObserver, and none may show a stray `**`, `_`, `~~`, backtick or
// table pipe; the finished reply has a real table, highlighted code and read-only
// checkboxes, and the header shows the conversation's title without Markdown.
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Outside code: markers that are markup, never text, in this reply. Underscores inside a
// word (OPENAI_API_KEY in the demo's footer) are text.
const STRAY = /\*|~|`|\||(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\[[ x]\]/;

describeBrowser('Markdown replies', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ensureClientBuilt();
    // A pause between the demo's chunks, so the reply reaches the page in many steps.
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', DEMO_DELAY_MS: '40' });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /**
   * Records the text (code blocks left out) of the newest rendered reply, and the header's
   * title, each time the page changes them. A string: the server's TypeScript has no DOM types, the browser runs it.
   */
  const recordReplyStates = (page: Page) =>
    page.evaluate(`(() => {
      const states = [];
      const titles = [];
      window.__replyStates = states;
      window.__titleStates = titles;
      new MutationObserver(() => {
        const title = document.getElementById('chat-title')?.textContent ?? '';
        if (titles[titles.length - 1] !== title) titles.push(title);
        const replies = document.querySelectorAll('[role="log"] article[aria-label="Assistant"] .md:not(.md--plain)');
        const reply = replies[replies.length - 1];
        if (!reply) return;
        const copy = reply.cloneNode(true);
        for (const code of copy.querySelectorAll('.md__code')) code.remove();
        const text = copy.textContent ?? '';
        if (states[states.length - 1] !== text) states.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);

  for (const width of [1280, 360]) {
    it(`streams a table, a task list and highlighted code without stray markers at ${width} px`, async () => {
      const context = await browser.newContext({ viewport: { width, height: width > 400 ? 800 : 740 }, colorScheme: 'light' });
      try {
        const page = await context.newPage();
        // A long reply streamed with pauses, on a shared 2-core machine.
        page.setDefaultTimeout(30_000);
        const watch = await watchPage(page);
        await page.goto(`${server.url}/`);
        await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
        await recordReplyStates(page);
        // The renderer's chunk is fetched when the first reply needs it, and the reply shows as
        // plain text until it is there; a person reading gives it time, this test does not: load
        // it first (the app's own import() of the same address then resolves at once).
        const chunk = readdirSync(path.join(CLIENT_DIST, 'assets')).find((name) => /^markdown-view-[\w-]+\.js$/.test(name));
        expect(chunk).toBeDefined();
        // A string: vitest would rewrite an import() written in this file.
        await page.evaluate(`import(${JSON.stringify(`/assets/${chunk}`)}).then(() => true)`);

        const input = page.getByRole('textbox', { name: 'Message' });
        await input.fill('Show me a **Markdown** table of `models`');
        await input.press('Enter');

        const reply = page.getByRole('log', { name: 'Messages' }).getByRole('article', { name: 'Assistant' }).last();
        // Done: the usage line of the finished reply.
        await reply.getByLabel('Usage of this reply').waitFor();

        // The title made from the first message, without its Markdown, from the start: the
        // header never showed the message's markup.
        await expect(page.locator('#chat-title').innerText()).resolves.toBe('Show me a Markdown table of models');
        const titles = (await page.evaluate('window.__titleStates')) as string[];
        expect(titles.filter((title) => title !== 'New conversation')).toEqual(['Show me a Markdown table of models']);

        // A real table.
        const table = reply.locator('.md__table table');
        await expect(table.locator('th').allInnerTexts()).resolves.toEqual(['Model', 'Speed', 'Prompt price']);
        await expect(table.locator('tbody tr').count()).resolves.toBe(2);
        await expect(table.locator('tbody tr').first().locator('td').first().innerText()).resolves.toBe('gpt-4o-mini');
        // A task list with read-only boxes, strikethrough and italic.
        const boxes = reply.locator('input[type="checkbox"]');
        await expect(boxes.count()).resolves.toBe(2);
        await expect(boxes.first().isChecked()).resolves.toBe(true);
        await expect(boxes.first().isDisabled()).resolves.toBe(true);
        await expect(reply.locator('del').innerText()).resolves.toBe('Guess');
        await expect(reply.locator('em').first().innerText()).resolves.toBe('monthly');
        // Highlighted TypeScript with its copy button.
        const code = reply.locator('.md__code code.hljs.language-ts');
        await expect(code.locator('.hljs-keyword').first().innerText()).resolves.toBe('const');
        await expect(code.locator('.hljs-number').count()).resolves.toBeGreaterThan(0);
        await reply.getByRole('button', { name: 'Copy ts' }).waitFor();
        // Keyword colour differs from plain code text: the highlight.js styles apply.
        const [plainColour, keywordColour] = (await page.evaluate(
          `(() => { const code = [...document.querySelectorAll('.md__code code.language-ts')].at(-1); return [getComputedStyle(code).color, getComputedStyle(code.querySelector('.hljs-keyword')).color]; })()`,
        )) as [string, string];
        expect(keywordColour).not.toBe(plainColour);

        // Every state the reader saw while it streamed: no stray markup.
        const states = (await page.evaluate('window.__replyStates ?? []')) as string[];
        expect(states.length).toBeGreaterThan(5);
        for (const state of states) expect(state, state).not.toMatch(STRAY);
        const finalText = states[states.length - 1]!;
        expect(finalText).toContain('A small comparison for Show me a Markdown table of models:');
        expect(finalText).toContain('(Offline demo model: canned answer. Set OPENAI_API_KEY to chat with a real model.)');

        // Nothing is wider than the screen: a wide table scrolls inside the reply.
        await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(width);
        await table.scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(ARTIFACTS_DIR, `chat-markdown-${width}.png`) });
        expect(watch.problems()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
