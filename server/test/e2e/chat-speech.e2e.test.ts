// Speech while the reply streams, in a real browser: with "Read new answers aloud" on,
// a slow demo model (DEMO_DELAY_MS=60) streams the answer while the real TTS worker
// speaks its sentences; the page plays them one after the other, in sentence order,
// never two at once, and the first starts while the text is still arriving. Chromium
// runs with --autoplay-policy=no-user-gesture-required (the test sends with Enter, which
// a browser would count as the gesture anyway). An init script records every play(),
// `ended` and `pause` of a media element with the time and whether a reply was streaming.
import { rm } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { speechSentences } from '@chatmeter/shared/speech-text';
import { describeBrowser, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { buildWorker, startRealWorker, tempDataDir } from '../helpers/tts.ts';
import type { TtsWorkerProcess } from '../../src/tts/worker-process.ts';

interface MediaLog {
  kind: 'play' | 'ended';
  src: string;
  at: number;
  streaming: boolean;
  playing: number;
}

describeBrowser('a reply read aloud while it streams', () => {
  let build: Awaited<ReturnType<typeof buildWorker>>;
  let worker: TtsWorkerProcess;
  let dataDir: string;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    ensureClientBuilt();
    build = await buildWorker();
    worker = await startRealWorker(build.script, { TTS_THREADS: '2' });
    dataDir = await tempDataDir();
    server = await startTestServer({
      CLIENT_DIST,
      CAPTCHA: 'off',
      DEMO_DELAY_MS: '60',
      DATA_DIR: dataDir,
      TTS_WORKER_URL: worker.target()!.url,
      TTS_WORKER_SECRET: worker.secret,
    });
    browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    context = await browser.newContext({ viewport: { width: 360, height: 780 } });
    // Auto-play on before the app starts, and a log of what the media elements do.
    await context.addInitScript({
      content: `
        localStorage.setItem('chatmeter.voice', JSON.stringify({ voice: null, autoPlay: true }));
        window.__media = [];
        let playing = 0;
        const streaming = () => !!document.querySelector('article[aria-label="Assistant"][aria-busy="true"]');
        const play = HTMLMediaElement.prototype.play;
        HTMLMediaElement.prototype.play = function () {
          const el = this;
          if (!el.__watched) {
            el.__watched = true;
            // Capture listeners run before the page's own onended handler (which starts the next clip).
            el.addEventListener('playing', () => { playing++; }, true);
            el.addEventListener('ended', () => { playing--; window.__media.push({ kind: 'ended', src: el.src, at: performance.now(), streaming: streaming(), playing }); }, true);
          }
          window.__media.push({ kind: 'play', src: el.src, at: performance.now(), streaming: streaming(), playing });
          return play.call(this);
        };`,
    });
    page = await context.newPage();
    page.setDefaultTimeout(60_000);
    watch = await watchPage(page);
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await worker?.stop();
    await build?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('plays the sentences in order, back to back, starting while the reply still streams', async () => {
    await page.goto(`${server.url}/`);
    const input = page.getByRole('textbox', { name: 'Message' });
    await input.fill('How do plans and quotas work here?');
    await input.press('Enter');

    // The reply finishes; its sentence clips are known on the server, in order.
    const conversationId = await eventually(async () => {
      const id = new URL(page.url()).searchParams.get('c');
      expect(id).toBeTruthy();
      return id!;
    }, 20_000);
    const reply = await eventually(async () => {
      const row = await server.deps.prisma.message.findFirst({ where: { conversationId, role: 'assistant' }, select: { id: true, content: true } });
      expect(row).not.toBeNull();
      return row!;
    }, 60_000);
    const clips = await eventually(async () => {
      const rows = await server.deps.prisma.sentenceClip.findMany({
        where: { messageId: reply.id },
        orderBy: { idx: 'asc' },
        select: { clipId: true, idx: true },
      });
      // Every sentence of the stored reply spoken (the last ones after the text ended).
      expect(rows.length).toBe(speechSentences(reply.content, { language: 'en-US' }).length);
      return rows;
    }, 30_000);
    expect(clips.length).toBeGreaterThan(2);
    const urls = clips.map((c) => `${server.url}/audio/${c.clipId}`);

    // Every clip plays to its end.
    const log = await eventually(async () => {
      const media = (await page.evaluate('window.__media')) as MediaLog[];
      expect(media.filter((m) => m.kind === 'ended').map((m) => m.src)).toEqual(urls);
      return media;
    }, 90_000);
    const plays = log.filter((m) => m.kind === 'play');
    // In sentence order, each once.
    expect(plays.map((m) => m.src)).toEqual(urls);
    // Back to back: each starts when the one before it ended (never two at once, no long gap).
    for (let i = 1; i < plays.length; i++) {
      const endedBefore = log.find((m) => m.kind === 'ended' && m.src === urls[i - 1])!;
      expect(plays[i]!.playing).toBe(0);
      expect(plays[i]!.at).toBeGreaterThanOrEqual(endedBefore.at);
    }
    expect(Math.max(...log.map((m) => m.playing))).toBeLessThanOrEqual(1);
    // The first sentence started while the text was still arriving.
    expect(plays[0]!.streaming).toBe(true);
    expect(watch.problems()).toEqual([]);
  }, 180_000);
});
