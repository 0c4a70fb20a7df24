// The whole customer journey through the real UI in headless Chromium: a guest
// asks a question and sees the streamed answer and the quota meter; signs up and
// keeps the conversation; has the reply read aloud by the real TTS worker; runs
// out of free messages and sees when they reset; upgrades with the billing
// simulator's test checkout; chats again; an admin, in another browser context,
// finds the user in the analytics and adds credits, which the user then sees.
// Screenshots of each step: test-artifacts/e2e/journey-*.png.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { COUNTER, userSubject } from '../../src/metering/counters.ts';
import { dayStart } from '../../src/metering/periods.ts';
import type { TtsWorkerProcess } from '../../src/tts/worker-process.ts';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { buildWorker, startRealWorker, tempDataDir } from '../helpers/tts.ts';

describeBrowser('customer journey (guest -> account -> voice -> limit -> upgrade -> admin credits)', () => {
  let build: Awaited<ReturnType<typeof buildWorker>>;
  let worker: TtsWorkerProcess;
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let page: Page;
  let watch: PageWatch;
  const email = `journey-${Date.now().toString(36)}@example.com`;
  const password = 'correct horse battery staple';
  const admin = { email: 'journey-admin@example.com', password: 'correct horse battery staple' };
  const question = 'What is a good name for a tea shop?';

  const shot = (p: Page, name: string) => p.screenshot({ path: path.join(ARTIFACTS_DIR, `journey-${name}.png`), fullPage: true });
  const log = (p: Page) => p.getByRole('log', { name: 'Messages' });
  const meter = (p: Page) => p.getByRole('group', { name: 'Your allowance' });
  async function sendMessage(p: Page, text: string): Promise<void> {
    await p.getByRole('textbox', { name: 'Message' }).fill(text);
    await p.getByRole('button', { name: 'Send', exact: true }).click();
  }
  async function openPage(): Promise<{ page: Page; watch: PageWatch }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    contexts.push(context);
    const p = await context.newPage();
    p.setDefaultTimeout(20_000);
    return { page: p, watch: await watchPage(p) };
  }
  const userId = async () => (await server.deps.prisma.user.findUniqueOrThrow({ where: { email }, select: { id: true } })).id;

  beforeAll(async () => {
    ensureClientBuilt();
    build = await buildWorker();
    worker = await startRealWorker(build.script);
    server = await startTestServer({
      CLIENT_DIST,
      CAPTCHA: 'off',
      BILLING_SIMULATOR: '1',
      DATA_DIR: await tempDataDir(),
      TTS_WORKER_URL: worker.target()!.url,
      TTS_WORKER_SECRET: worker.secret,
    });
    await server.deps.auth.ensureAdmin(admin.email, admin.password);
    browser = await launchChromium();
    ({ page, watch } = await openPage());
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    await worker?.stop();
    await build?.cleanup();
  });

  it('walks through the product', async () => {
    // 1. A guest asks and sees the streamed answer and the meter go down.
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
    await meter(page).getByText('5 of 5 messages left today').waitFor();
    await sendMessage(page, question);
    await log(page).getByRole('article', { name: 'You' }).getByText(question).waitFor();
    const reply = log(page).getByRole('article', { name: 'Assistant' }).last();
    await reply.getByText('Offline demo model', { exact: false }).waitFor();
    await meter(page).getByText('4 of 5 messages left today').waitFor();
    await page.getByRole('banner').getByText('Guest plan').waitFor();
    await shot(page, '1-guest-answer');

    // 2. Signs up; the conversation is still there.
    const here = new URL(page.url());
    const backHere = `${here.pathname}${here.search}`;
    expect(here.searchParams.get('c')).toBeTruthy();
    await page.getByRole('banner').getByText('Create account', { exact: true }).click();
    // It comes back to this conversation after signing up.
    await page.waitForURL((url) => url.pathname === '/sign-up' && url.searchParams.get('next') === backHere);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((url) => `${url.pathname}${url.search}` === backHere);
    await page.getByRole('banner').getByText(email).waitFor();
    await page.getByRole('banner').getByText('Free plan').waitFor();
    const sidebar = page.getByRole('complementary', { name: 'Conversations' });
    await sidebar.getByRole('link', { name: /good name for a tea shop/ }).click();
    await log(page).getByRole('article', { name: 'You' }).getByText(question).waitFor();
    await shot(page, '2-signed-up-kept-conversation');

    // 3. Has the reply read aloud: tts.speak synthesizes with the real worker, the audio element loads /audio/:id.
    const audioResponse = page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/audio/'), { timeout: 30_000 });
    await log(page)
      .getByRole('article', { name: 'Assistant' })
      .last()
      .getByRole('button', { name: /^Read aloud/ })
      .click();
    const audio = await audioResponse;
    expect([200, 206]).toContain(audio.status());
    expect(audio.headers()['content-type']).toMatch(/^audio\//);
    const spoken = await server.deps.prisma.usageEvent.findFirst({ where: { userId: await userId(), kind: 'tts' }, select: { status: true, ttsChars: true } });
    expect(spoken).toMatchObject({ status: 'ok' });
    expect(spoken!.ttsChars).toBeGreaterThan(0);
    await shot(page, '3-read-aloud');

    // 4. Runs out of free messages (the day's counter pre-filled to the Free limit) and sees when they come back.
    const id = await userId();
    await server.deps.prisma.$executeRaw(Prisma.sql`
      INSERT INTO quota_counters (subject, kind, period_start, used)
      VALUES (${userSubject(id)}, ${COUNTER.messagesDay}, ${dayStart(new Date())}::timestamptz, 20)
      ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
    watch.allow(/status of 402/);
    await page.goto(`${server.url}/`);
    await meter(page).getByText('0 of 20 messages left today').waitFor();
    await sendMessage(page, 'One more question, please?');
    const alert = page.getByRole('alert').filter({ hasText: "Today's messages are used up" });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Resets at 00:00 UTC \(in (\d+ h )?\d+ (s|min|h)\)/);
    await shot(page, '4-limit-reached');

    // 5. Upgrades through the billing simulator's test checkout.
    await alert.getByRole('link', { name: 'Upgrade', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/billing');
    await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
    await page.waitForURL((url) => url.searchParams.has('simulated_checkout'));
    await page.getByRole('heading', { name: 'Test checkout' }).waitFor();
    await page.getByRole('button', { name: /^Pay .* \(test\)$/ }).click();
    await page.waitForURL((url) => url.searchParams.get('checkout') === 'success');
    await page.getByRole('banner').getByText('Pro plan').waitFor();
    await shot(page, '5-upgraded');

    // 6. Chats again.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/');
    const okBefore = await server.deps.prisma.usageEvent.count({ where: { userId: id, kind: 'chat', status: 'ok' } });
    await sendMessage(page, 'Now on Pro: still there?');
    await eventually(
      async () => expect(await server.deps.prisma.usageEvent.count({ where: { userId: id, kind: 'chat', status: 'ok' } })).toBe(okBefore + 1),
      20_000,
    );
    await log(page).getByRole('article', { name: 'Assistant' }).last().getByText('Offline demo model', { exact: false }).waitFor();
    await shot(page, '6-chatting-on-pro');

    // 7. An admin, in another browser context, finds the user in the analytics and adds credits.
    const { page: adminPage, watch: adminWatch } = await openPage();
    await adminPage.goto(`${server.url}/sign-in`);
    await adminPage.getByLabel('E-mail').fill(admin.email);
    await adminPage.getByLabel('Password', { exact: true }).fill(admin.password);
    await adminPage.getByRole('button', { name: 'Sign in' }).click();
    await adminPage.waitForURL((url) => url.pathname === '/');
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await adminPage.getByRole('heading', { name: 'Tokens and cost per day' }).waitFor();
    await adminPage
      .getByRole('region', { name: /Top users by cost/ })
      .getByRole('button', { name: email })
      .waitFor();
    await shot(adminPage, '7-admin-analytics');
    await adminPage.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name: 'Users' }).click();
    await adminPage.getByLabel('Search users').fill(email);
    await adminPage.getByRole('table', { name: 'Users' }).getByRole('button', { name: email }).click();
    await adminPage.getByRole('heading', { name: email }).waitFor();
    const form = adminPage.getByRole('form', { name: 'Adjust credits' });
    await form.getByLabel('Tokens').fill('5000');
    await form.getByLabel('Reason').fill('Welcome credit for the journey test');
    await form.getByRole('button', { name: 'Adjust credits' }).click();
    await adminPage.getByRole('status').filter({ hasText: 'New balance 5,000 tokens' }).waitFor();
    await shot(adminPage, '8-admin-added-credits');
    expect(adminWatch.problems()).toEqual([]);

    // 8. The user sees them.
    await page.goto(`${server.url}/usage`);
    await page
      .getByText(/^5,000\s*tokens$/)
      .first()
      .waitFor();
    await shot(page, '9-user-sees-credits');
    expect(watch.problems()).toEqual([]);
  }, 150_000);
});
