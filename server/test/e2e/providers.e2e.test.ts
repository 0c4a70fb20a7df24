// Two providers in a real browser (PROVIDERS_FILE with two fake OpenAI-compatible
// servers): the composer's picker offers each model with its provider, a message goes
// to the provider of the model picked, and the Usage tab's "This period by model" names
// both providers. At desktop size and 360 px, screenshots in test-artifacts/e2e.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../fakes/openai-server.ts';
import { eventually } from '../helpers/chat.ts';
import { LLAMA, twoProviderEnv } from '../helpers/providers.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describeBrowser('several providers: model picker and usage breakdown', () => {
  let alpha: FakeOpenAIServer;
  let beta: FakeOpenAIServer;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    alpha = await startFakeOpenAIServer();
    beta = await startFakeOpenAIServer();
    alpha.setDefault({ reply: 'Alpha answers.' });
    beta.setDefault({ reply: 'Beta answers.' });
    server = await startTestServer({ CLIENT_DIST, CAPTCHA: 'off', ...twoProviderEnv(alpha, beta) });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch = await watchPage(page);
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await alpha?.close();
    await beta?.close();
  });

  const input = () => page.getByRole('textbox', { name: 'Message' });
  const picker = () => page.getByRole('combobox', { name: 'Model' });
  const replies = () => page.getByRole('log', { name: 'Messages' }).getByRole('article', { name: 'Assistant' });

  async function ask(model: string, question: string, answer: string, count: number) {
    await picker().selectOption(model);
    await input().fill(question);
    await input().press('Enter');
    await eventually(async () => expect(await replies().count()).toBe(count), 15_000);
    await replies()
      .nth(count - 1)
      .getByText(answer)
      .waitFor();
  }

  it('picks a model per message and the Usage tab breaks this period down by model and provider (1280 px)', async () => {
    await page.goto(`${server.url}/`);
    await picker().waitFor();
    const options = await picker().locator('option').allTextContents();
    expect(options).toEqual(['GPT-4o mini · alpha', 'Llama 3.3 70B · beta']);

    await ask(LLAMA, 'Hello Llama', 'Beta answers.', 1);
    await ask('gpt-4o-mini', 'Hello GPT', 'Alpha answers.', 2);
    expect(beta.requests.map((r) => r.body.model)).toEqual([LLAMA]);
    expect(alpha.requests.map((r) => r.body.model)).toEqual(['gpt-4o-mini']);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'providers-picker-desktop.png') });

    await page.goto(`${server.url}/usage`);
    const panel = page.getByRole('region', { name: 'This period by model' });
    await panel.waitFor();
    const bars = panel.getByRole('list', { name: 'Cost per model and provider' });
    await bars.getByText(`${LLAMA} · beta`).waitFor();
    await bars.getByText('gpt-4o-mini · alpha').waitFor();
    const rows = panel.getByRole('table').getByRole('row');
    await eventually(async () => expect(await rows.count()).toBe(3));
    const cells = await rows.evaluateAll((trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)));
    expect(cells).toEqual(
      expect.arrayContaining([
        [LLAMA, 'beta', '1'],
        ['gpt-4o-mini', 'alpha', '1'],
      ]),
    );
    await panel.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'providers-breakdown-desktop.png'), fullPage: true });
    expect(watch.problems()).toEqual([]);
  });

  it('fits a 360 px screen: picker and breakdown', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${server.url}/usage`);
    const panel = page.getByRole('region', { name: 'This period by model' });
    await panel.getByText(`${LLAMA} · beta`).waitFor();
    await panel.scrollIntoViewIfNeeded();
    const box = await panel.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(360);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'providers-breakdown-mobile.png'), fullPage: true });

    await page.goto(`${server.url}/`);
    await picker().waitFor();
    const pick = await picker().boundingBox();
    expect(pick!.x + pick!.width).toBeLessThanOrEqual(360);
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(360);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'providers-picker-mobile.png') });
    expect(watch.problems()).toEqual([]);
  });
});
