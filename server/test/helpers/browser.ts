import { describe, it } from 'vitest';
// A real Chromium for end-to-end tests (playwright-core drives the system's
// Debian `chromium`; no browser download). Every page is watched: a console
// error, an uncaught exception or a CSP violation is a test failure.
import { existsSync } from 'node:fs';
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

export function launchChromium(): Promise<Browser> {
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
