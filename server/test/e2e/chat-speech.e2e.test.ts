// Speech while the reply streams, in a real browser, with either engine: with "Read new
// answers aloud" on, a slow demo model (DEMO_DELAY_MS) streams the answer while the
// engine speaks its sentences (the real TTS worker with eSpeak NG, or TTS_ENGINE=
// openai-compatible against the fake speech server, which answers real MP3 bytes and is
// priced); the page plays them one after the other, in sentence order, never two at
// once, and the first starts while the text is still arriving. Stop silences the speech
// and stops the text. Chromium runs with --autoplay-policy=no-user-gesture-required (the
// test sends with Enter, which a browser would count as the gesture anyway). An init
// script records every play() and `ended` of a media element with the time and whether a
// reply was streaming, and keeps the elements so a test can ask whether one still plays.
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatMicroUsd, ttsCostMicroUsd } from '@chatmeter/shared/money';
import { speechSentences } from '@chatmeter/shared/speech-text';
import { describeBrowser, ARTIFACTS_DIR, CLIENT_DIST, ensureClientBuilt, launchChromium, watchPage, type PageWatch } from '../helpers/browser.ts';
import { eventually } from '../helpers/chat.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { buildWorker, startRealWorker, tempDataDir } from '../helpers/tts.ts';
import { startFakeSpeechServer, type FakeSpeechServer } from '../fakes/speech-server.ts';
import type { TtsWorkerProcess } from '../../src/tts/worker-process.ts';

interface MediaLog {
  kind: 'play' | 'ended';
  src: string;
  at: number;
  streaming: boolean;
  playing: number;
}

interface SpeechPage {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
}

/** A phone-sized page with auto-play on and its media elements watched. */
async function openSpeechPage(): Promise<SpeechPage> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  const context = await browser.newContext({ viewport: { width: 360, height: 780 } });
  // Auto-play on before the app starts, and a log of what the media elements do.
  await context.addInitScript({
    content: `
      localStorage.setItem('chatmeter.voice', JSON.stringify({ voice: null, autoPlay: true }));
      window.__media = [];
      window.__audios = [];
      // The elements sounding now: 'playing' fires again after a stall, so a count of events would drift.
      const sounding = new Set();
      const streaming = () => !!document.querySelector('article[aria-label="Assistant"][aria-busy="true"]');
      const play = HTMLMediaElement.prototype.play;
      HTMLMediaElement.prototype.play = function () {
        const el = this;
        if (!el.__watched) {
          el.__watched = true;
          window.__audios.push(el);
          // Capture listeners run before the page's own onended handler (which starts the next clip).
          el.addEventListener('playing', () => { sounding.add(el); }, true);
          el.addEventListener('pause', () => { sounding.delete(el); }, true);
          el.addEventListener('ended', () => { sounding.delete(el); window.__media.push({ kind: 'ended', src: el.src, at: performance.now(), streaming: streaming(), playing: sounding.size }); }, true);
        }
        window.__media.push({ kind: 'play', src: el.src, at: performance.now(), streaming: streaming(), playing: sounding.size });
        return play.call(this);
      };`,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  const watch = await watchPage(page);
  return { browser, context, page, watch };
}

/** Sends a question that the demo model answers in several sentences, and returns the new conversation's id. */
async function ask(page: Page, url: string, question: string): Promise<string> {
  await page.goto(`${url}/`);
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill(question);
  await input.press('Enter');
  return eventually(async () => {
    const id = new URL(page.url()).searchParams.get('c');
    expect(id).toBeTruthy();
    return id!;
  }, 20_000);
}

/** The reply's sentence clips as the server stored them, once every sentence of it was spoken. */
async function spokenClips(server: TestServer, conversationId: string): Promise<string[]> {
  const reply = await eventually(async () => {
    const row = await server.deps.prisma.message.findFirst({ where: { conversationId, role: 'assistant' }, select: { id: true, content: true } });
    expect(row).not.toBeNull();
    return row!;
  }, 60_000);
  const clips = await eventually(async () => {
    const rows = await server.deps.prisma.sentenceClip.findMany({ where: { messageId: reply.id }, orderBy: { idx: 'asc' }, select: { clipId: true } });
    // Every sentence of the stored reply spoken (the last ones after the text ended).
    expect(rows.length).toBe(speechSentences(reply.content, { language: 'en-US' }).length);
    return rows;
  }, 30_000);
  expect(clips.length).toBeGreaterThan(2);
  return clips.map((c) => `${server.url}/audio/${c.clipId}`);
}

/** Every clip played to its end, in sentence order, back to back, the first while the reply still streamed. */
async function expectPlayedInOrder(page: Page, urls: string[]): Promise<void> {
  const log = await eventually(async () => {
    const media = (await page.evaluate('window.__media')) as MediaLog[];
    expect(media.filter((m) => m.kind === 'ended').map((m) => m.src)).toEqual(urls);
    return media;
  }, 120_000);
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
}

/** Media elements still sounding: not paused, with a source, not at their end. */
const stillPlaying = (page: Page) =>
  page.evaluate('window.__audios.filter((a) => !a.paused && !a.ended && a.currentSrc && a.getAttribute("src")).length') as Promise<number>;

describeBrowser('a reply read aloud while it streams (built-in engine)', () => {
  let build: Awaited<ReturnType<typeof buildWorker>>;
  let worker: TtsWorkerProcess;
  let dataDir: string;
  let server: TestServer;
  let s: SpeechPage;

  beforeAll(async () => {
    ensureClientBuilt();
    build = await buildWorker();
    worker = await startRealWorker(build.script, { TTS_THREADS: '2' });
    dataDir = await tempDataDir();
    server = await startTestServer({
      CLIENT_DIST,
      CAPTCHA: 'off',
      // 150 ms a chunk: the answers stream for about 5 s. At 60 ms (2 s) a CI run under load
      // started the first eSpeak clip so late that Stop came after the last chunk.
      DEMO_DELAY_MS: '150',
      DATA_DIR: dataDir,
      TTS_WORKER_URL: worker.target()!.url,
      TTS_WORKER_SECRET: worker.secret,
    });
    s = await openSpeechPage();
  }, 180_000);

  afterAll(async () => {
    await s?.context.close();
    await s?.browser.close();
    await server?.close();
    await worker?.stop();
    await build?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('plays the sentences in order, back to back, starting while the reply still streams', async () => {
    const conversationId = await ask(s.page, server.url, 'How do plans and quotas work here?');
    const urls = await spokenClips(server, conversationId);
    await expectPlayedInOrder(s.page, urls);
    await s.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-speech-espeak.png') });
    expect(s.watch.problems()).toEqual([]);
  }, 180_000);

  it('Stop while the reply is read aloud silences the speech and stops the text', async () => {
    const { page } = s;
    await ask(page, server.url, 'How do plans and quotas work for a stopped reading?');
    const reply = page.getByRole('log').getByRole('article', { name: 'Assistant' }).last();
    // The first sentence is sounding and the text still arrives.
    await eventually(async () => {
      expect(await stillPlaying(page)).toBe(1);
      expect(await reply.getAttribute('aria-busy')).toBe('true');
    }, 30_000);
    await page.getByRole('button', { name: 'Stop' }).click();

    await reply.getByText('Stopped', { exact: true }).waitFor();
    await eventually(async () => expect(await stillPlaying(page)).toBe(0), 5_000);
    const stoppedAt = (await page.evaluate('performance.now()')) as number;
    const text = await reply.locator('.md').innerText();
    // Nothing more: no clip starts and no text arrives (the demo would send a chunk every 60 ms,
    // a sentence's audio every second or two).
    await page.waitForTimeout(2_500);
    expect(await stillPlaying(page)).toBe(0);
    const media = (await page.evaluate('window.__media')) as MediaLog[];
    expect(media.filter((m) => m.kind === 'play' && m.at > stoppedAt)).toEqual([]);
    expect(await reply.locator('.md').innerText()).toBe(text);
    expect(text).not.toContain('Offline demo model');
    await expect(reply.getAttribute('aria-busy')).resolves.toBeNull();
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-speech-stopped.png') });
    expect(s.watch.problems()).toEqual([]);
  }, 120_000);
});

describeBrowser('a reply read aloud while it streams (OpenAI-compatible engine, priced)', () => {
  const PRICE = 12_345_678;
  let fake: FakeSpeechServer;
  let dir: string;
  let server: TestServer;
  let s: SpeechPage;

  beforeAll(async () => {
    ensureClientBuilt();
    fake = await startFakeSpeechServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-e2e-speech-'));
    const pricingFile = path.join(dir, 'pricing.json');
    await writeFile(
      pricingFile,
      JSON.stringify([
        { model: 'demo', inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000, contextWindow: 128_000, maxOutputTokens: 16_384 },
        { model: 'tts-fake', kind: 'tts', microsPerMillionChars: PRICE },
      ]),
    );
    server = await startTestServer({
      CLIENT_DIST,
      CAPTCHA: 'off',
      DEMO_DELAY_MS: '60',
      DATA_DIR: path.join(dir, 'data'),
      PRICING_FILE: pricingFile,
      TTS_ENGINE: 'openai-compatible',
      TTS_BASE_URL: fake.baseUrl,
      TTS_API_KEY: 'sk-fake',
      TTS_MODEL: 'tts-fake',
      TTS_DEFAULT_VOICE: 'af_bella',
    });
    s = await openSpeechPage();
  }, 180_000);

  afterAll(async () => {
    await s?.context.close();
    await s?.browser.close();
    await server?.close();
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plays the MP3 sentences in order while the reply streams, and shows their cost beside the chat cost', async () => {
    const conversationId = await ask(s.page, server.url, 'How do plans and quotas work here?');
    const urls = await spokenClips(server, conversationId);
    // Every sentence went to the speech server.
    expect(fake.speeches().length).toBe(urls.length);
    await expectPlayedInOrder(s.page, urls);

    // The reply's usage line: its chat cost, then what reading it aloud cost (the sentences' usage events).
    const voice = await server.deps.prisma.usageEvent.findMany({ where: { conversationId, kind: 'tts' }, select: { ttsChars: true, costMicroUsd: true } });
    expect(voice).toHaveLength(urls.length);
    const cost = voice.reduce((sum, e) => sum + Number(e.costMicroUsd), 0);
    expect(cost).toBe(voice.reduce((sum, e) => sum + ttsCostMicroUsd(e.ttsChars, PRICE), 0));
    const usageLine = s.page.getByRole('log').getByRole('article', { name: 'Assistant' }).last().getByRole('group', { name: 'Usage of this reply' });
    await usageLine.getByText(`voice ${formatMicroUsd(cost)}`, { exact: true }).waitFor();
    await s.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'chat-speech-openai-compatible.png') });
    expect(s.watch.problems()).toEqual([]);
  }, 180_000);
});
