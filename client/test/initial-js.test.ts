// The JavaScript a first visit must download before the app runs, measured on the
// real build: the entry script of dist/index.html, the chunks it modulepreloads,
// and every chunk they import statically (dynamic imports load later, on the pages
// that use them). turbo builds the client before this runs (turbo.json).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { init, parse } from 'es-module-lexer';
import { beforeAll, describe, expect, it } from 'vitest';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
/** The budget from issue 15: 200 KB of gzip for the initial JavaScript. */
const BUDGET_GZIP_BYTES = 200_000;

interface Chunk {
  url: string;
  bytes: number;
  gzipBytes: number;
  sources: string[];
}

/** `/assets/x.js` from index.html, or `./y.js` from inside /assets/x.js, as a path under dist/. */
function resolveUrl(specifier: string, fromUrl: string): string {
  return new URL(specifier, `http://build${fromUrl}`).pathname;
}

function initialUrls(html: string): string[] {
  const scripts = [...html.matchAll(/<script\b[^>]*\btype="module"[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!);
  const preloads = [...html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]!);
  return [...scripts, ...preloads].map((url) => resolveUrl(url, '/index.html'));
}

function staticImports(code: string, fromUrl: string): string[] {
  const [imports] = parse(code);
  // d === -1: a static `import ... from` or `export ... from`; dynamic imports (d >= 0) and import.meta (-2) are not followed.
  return imports.filter((i) => i.d === -1 && i.n !== undefined).map((i) => resolveUrl(i.n!, fromUrl));
}

function readChunk(url: string): Chunk {
  const file = path.join(DIST, url);
  const code = readFileSync(file);
  const mapFile = `${file}.map`;
  const sources = existsSync(mapFile) ? (JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[] }).sources : [];
  return { url, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, sources };
}

let entries: string[] = [];
const chunks: Chunk[] = [];

beforeAll(async () => {
  const html = path.join(DIST, 'index.html');
  if (!existsSync(html)) throw new Error(`${html} is missing: build the client first (npx turbo run build --filter=@chatmeter/client)`);
  await init;
  entries = initialUrls(readFileSync(html, 'utf8'));
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const chunk = readChunk(url);
    chunks.push(chunk);
    queue.push(...staticImports(readFileSync(path.join(DIST, url), 'utf8'), url));
  }
});

describe('the initial JavaScript of the built client', () => {
  it('starts from one module script in index.html', () => {
    expect(entries.filter((url) => url.endsWith('.js')).length).toBeGreaterThanOrEqual(1);
    expect(chunks.length).toBeGreaterThanOrEqual(1);
  });

  it(`is at most ${BUDGET_GZIP_BYTES / 1000} KB gzip, all chunks together`, () => {
    const total = chunks.reduce((sum, chunk) => sum + chunk.gzipBytes, 0);
    const table = chunks.map((c) => `${c.url}: ${c.bytes} B, ${c.gzipBytes} B gzip`).join('\n');
    expect(total, `initial chunks:\n${table}\ntotal ${total} B gzip`).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });

  it('leaves the chart and captcha libraries to the pages that use them', () => {
    const sources = chunks.flatMap((chunk) => chunk.sources);
    // The hidden source maps name every module of a chunk; without them this check would pass on nothing.
    expect(sources.length).toBeGreaterThan(0);
    const heavy = sources.filter((source) => /node_modules\/(recharts|d3-[a-z]+|victory-vendor|altcha)\//.test(source));
    expect(heavy).toEqual([]);
  });

  it('leaves the Markdown renderer and the highlighter to the first reply that needs them', () => {
    const sources = chunks.flatMap((chunk) => chunk.sources);
    expect(sources.length).toBeGreaterThan(0);
    const markdown = sources.filter((source) =>
      /node_modules\/(react-markdown|remark-[a-z-]+|micromark[a-z-]*|mdast-[a-z-]+|highlight\.js|lowlight)\//.test(source),
    );
    expect(markdown).toEqual([]);
    // They are in the build, in chunks of their own (else the check above would pass on nothing).
    expect(
      readdirSync(path.join(DIST, 'assets')).some(
        (file) => file.endsWith('.js.map') && /react-markdown|highlight\.js/.test(readFileSync(path.join(DIST, 'assets', file), 'utf8')),
      ),
    ).toBe(true);
  });
});
