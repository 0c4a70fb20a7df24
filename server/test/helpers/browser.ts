import { describe, it } from 'vitest';
// A real Chromium for end-to-end tests (playwright-core drives the system's
// Debian `chromium`; no browser download). Every page is watched: a console
// error, an uncaught exception or a CSP violation is a test failure.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLIENT_DIR = path.join(repoRoot, 'client');
export const CLIENT_DIST = path.join(CLIENT_DIR, 'dist');
export const ARTIFACTS_DIR = path.join(repoRoot, 'test-artifacts', 'e2e');

/**
 * Whether browser tests can run here. Without Chromium they are skipped with a
 * warning on a developer machine, but fail in CI, where a silent skip would hide
 * that the UI was never tested.
 */
export function browserSupport(): { run: true } | { run: false; mustFail: boolean; message: string } {
  if (existsSync(CHROMIUM_PATH)) return { run: true };
  const message = `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install -y chromium); the browser tests cannot run.`;
  return { run: false, mustFail: Boolean(process.env.CI), message };
}

/**
 * A describe block for browser tests: runs when Chromium is there, fails with a
 * clear message in CI when it is missing, and is skipped with a warning elsewhere.
 */
export function describeBrowser(name: string, body: () => void): void {
  const support = browserSupport();
  if (support.run) {
    describe(name, body);
  } else if (support.mustFail) {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(support.message);
      });
    });
  } else {
    console.warn(`[e2e] skipped: ${support.message}`);
    describe.skip(name, () => {
      it('needs Chromium', () => {});
    });
  }
}

/** The server serves client/dist; build it once if a previous step has not. */
export function ensureClientBuilt(): void {
  if (existsSync(path.join(CLIENT_DIST, 'index.html'))) return;
  execFileSync('npx', ['--no-install', 'vite', 'build'], { cwd: CLIENT_DIR, stdio: 'pipe' });
}

/** `extraArgs`: e.g. `--autoplay-policy=no-user-gesture-required` for audio that plays without a click. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

export interface PageWatch {
  /** Console errors, page errors and CSP violations seen so far, minus the allowed ones. */
  problems(): string[];
  /** Allow console errors matching this pattern (e.g. the 409 of a deliberate duplicate sign-up). */
  allow(pattern: RegExp): void;
}

export async function watchPage(page: Page): Promise<PageWatch> {
  const seen: string[] = [];
  const allowed: RegExp[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') seen.push(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => seen.push(`uncaught: ${error.message}`));
  // Chrome logs CSP violations as console errors already; this also catches report-only
  // cases and names the directive.
  await page.exposeFunction('__cmReportViolation', (text: string) => seen.push(`CSP violation: ${text}`));
  // A string, not a function: the server's tsconfig has no DOM types.
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      window.__cmReportViolation(event.violatedDirective + ' blocked ' + (event.blockedURI || '(inline)') + ' at ' + event.sourceFile + ':' + event.lineNumber);
    });`,
  });
  return {
    problems: () => seen.filter((text) => !allowed.some((pattern) => pattern.test(text))),
    allow: (pattern) => allowed.push(pattern),
  };
}

/**
 * How far the page reaches past the right edge of the window (0: it fits), and
 * the outermost elements that stick out, to say what to fix.
 */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; culprits: string[] }> {
  // A string, not a function: the server's tsconfig has no DOM types.
  return page.evaluate(`(() => {
    const innerWidth = window.innerWidth;
    const scrollWidth = document.documentElement.scrollWidth;
    const culprits = [];
    if (scrollWidth > innerWidth) {
      const sticksOut = (el) => el.getBoundingClientRect().right > innerWidth + 0.5;
      for (const el of document.body.querySelectorAll('*')) {
        if (!sticksOut(el) || (el.parentElement && sticksOut(el.parentElement) && el.parentElement !== document.body)) continue;
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
        culprits.push(name + ' right=' + Math.round(el.getBoundingClientRect().right));
        if (culprits.length >= 8) break;
      }
    }
    return { scrollWidth, innerWidth, culprits };
  })()`);
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in the page and returns the violations of the given impacts
 * (serious and critical by default). axe is evaluated through the DevTools
 * protocol, not added as a <script>, so the page's CSP does not block it.
 */
export async function axeViolations(page: Page, impacts: readonly string[] = ['serious', 'critical']): Promise<AxeFinding[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  const found = (await page.evaluate(`window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + (n.failureSummary ? ' — ' + n.failureSummary.split('\\n').slice(1, 2).join('').trim() : '')),
  })))`)) as AxeFinding[];
  return found.filter((v) => impacts.includes(v.impact));
}

/**
 * Runs only axe's color-contrast rule on the elements matching `selector` and
 * returns those it could not pass (a violation, or "incomplete": axe could not
 * work out the background, which would otherwise let a failure through).
 */
export async function contrastNotPassed(page: Page, selector: string): Promise<string[]> {
  if ((await page.locator(selector).count()) === 0) return [];
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  return (await page.evaluate(`window.axe.run({ include: [[${JSON.stringify(selector)}]] }, { runOnly: ['color-contrast'] }).then((r) =>
    [...r.violations, ...r.incomplete].flatMap((v) => v.nodes.map((n) => n.target.join(' ') + ': ' + (n.any[0] && n.any[0].message))))`)) as string[];
}
