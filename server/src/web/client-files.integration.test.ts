// The web client's files as the server sends them: the precompressed Brotli or
// gzip copy the browser accepts (or the file itself), with the caching each kind
// of file needs; source maps hidden in production; nothing outside the build
// reachable however the path is spelt. And the streamed /trpc answers are left
// alone: not compressed, not buffered. A small build is made here (with the same
// layout the Vite plugin writes) so each case knows its exact bytes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const SECRET = 'top-secret-outside-the-build';
const SCRIPT = Buffer.from(`console.log(${JSON.stringify('chatmeter '.repeat(400))});\n`);
const STYLE = Buffer.from('.chat{color:red}\n'.repeat(200));
const MAP = Buffer.from(JSON.stringify({ version: 3, sources: ['../../src/main.tsx'], sourcesContent: ['const apiKey = "original source";'], mappings: '' }));
const INDEX = Buffer.from(
  `<!doctype html><html><head><title>ChatMeter</title><script type="module" crossorigin src="/assets/index-AbCd_123.js"></script></head><body><div id="root"></div>${'<!-- padding -->'.repeat(80)}</body></html>`,
);

let root: string;
let dist: string;
let prod: TestServer;
let dev: TestServer;

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the path exactly as given (fetch would normalise `..`) and no automatic decompression. */
function raw(server: TestServer, rawPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: rawPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'client-files-'));
  dist = path.join(root, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  await writeFile(path.join(root, 'secret.txt'), SECRET);
  await writeFile(path.join(dist, 'index.html'), INDEX);
  await writeFile(path.join(dist, 'index.html.br'), brotliCompressSync(INDEX));
  await writeFile(path.join(dist, 'index.html.gz'), gzipSync(INDEX));
  await writeFile(path.join(dist, 'assets', 'index-AbCd_123.js'), SCRIPT);
  await writeFile(path.join(dist, 'assets', 'index-AbCd_123.js.br'), brotliCompressSync(SCRIPT));
  await writeFile(path.join(dist, 'assets', 'index-AbCd_123.js.gz'), gzipSync(SCRIPT));
  await writeFile(path.join(dist, 'assets', 'index-AbCd_123.js.map'), MAP);
  // Only a gzip copy: a browser that prefers Brotli gets gzip, not the file as it is.
  await writeFile(path.join(dist, 'assets', 'style-XyZw9876.css'), STYLE);
  await writeFile(path.join(dist, 'assets', 'style-XyZw9876.css.gz'), gzipSync(STYLE));
  await writeFile(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(path.join(dist, '.env'), SECRET);
  prod = await startTestServer({ CLIENT_DIST: dist, NODE_ENV: 'production' });
  dev = await startTestServer({ CLIENT_DIST: dist, DEMO_DELAY_MS: '40' });
});

afterAll(async () => {
  await prod?.close();
  await dev?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const JS = '/assets/index-AbCd_123.js';

describe('content coding', () => {
  it('sends the Brotli copy to a browser that accepts it (Chromium sends gzip first, all at q=1)', async () => {
    const res = await raw(prod, JS, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.length).toBeLessThan(SCRIPT.length / 4);
    expect(brotliDecompressSync(res.body).equals(SCRIPT)).toBe(true);
  });

  it('sends gzip when Brotli is not accepted, or ranked lower by q', async () => {
    for (const accept of ['gzip', 'gzip, deflate', 'br;q=0.5, gzip']) {
      const res = await raw(prod, JS, { 'accept-encoding': accept });
      expect(res.headers['content-encoding'], accept).toBe('gzip');
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      expect(gunzipSync(res.body).equals(SCRIPT)).toBe(true);
    }
  });

  it('falls back to the copy that exists: gzip for a file with no Brotli copy', async () => {
    const res = await raw(prod, '/assets/style-XyZw9876.css', { 'accept-encoding': 'br, gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(gunzipSync(res.body).equals(STYLE)).toBe(true);
  });

  it('sends the file as it is without Accept-Encoding, or with identity only', async () => {
    for (const headers of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'br;q=0, gzip;q=0' }] as Record<string, string>[]) {
      const res = await raw(prod, JS, headers);
      expect(res.headers['content-encoding'], JSON.stringify(headers)).toBeUndefined();
      expect(res.headers.vary).toMatch(/accept-encoding/i);
      expect(Number(res.headers['content-length'])).toBe(SCRIPT.length);
      expect(res.body.equals(SCRIPT)).toBe(true);
    }
  });

  it('answers 406 when the browser refuses every coding, identity included', async () => {
    const res = await raw(prod, JS, { 'accept-encoding': 'br;q=0, gzip;q=0, identity;q=0' });
    expect(res.status).toBe(406);
    expect(res.headers.vary).toMatch(/accept-encoding/i);
  });

  it('answers HEAD with the headers of the chosen copy and no body', async () => {
    const res = await raw(prod, JS, { 'accept-encoding': 'br' }, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(Number(res.headers['content-length'])).toBe(brotliCompressSync(SCRIPT).length);
    expect(res.body.length).toBe(0);
  });

  it('gives each copy its own ETag and answers a matching If-None-Match with 304', async () => {
    const br = await raw(prod, '/', { accept: 'text/html', 'accept-encoding': 'br' });
    const gz = await raw(prod, '/', { accept: 'text/html', 'accept-encoding': 'gzip' });
    expect(br.headers.etag).toBeTruthy();
    expect(br.headers.etag).not.toBe(gz.headers.etag);
    const again = await raw(prod, '/', { accept: 'text/html', 'accept-encoding': 'br', 'if-none-match': br.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    // The gzip ETag does not validate the Brotli copy.
    const other = await raw(prod, '/', { accept: 'text/html', 'accept-encoding': 'br', 'if-none-match': gz.headers.etag! });
    expect(other.status).toBe(200);
  });
});

describe('caching', () => {
  it('caches hashed assets for a year, immutable', async () => {
    for (const file of [JS, '/assets/style-XyZw9876.css']) {
      const res = await raw(prod, file, { 'accept-encoding': 'br, gzip' });
      expect(res.headers['cache-control'], file).toBe('public, max-age=31536000, immutable');
    }
  });

  it('revalidates index.html on every load, at / , at /index.html and as the fallback of the app routes', async () => {
    for (const url of ['/', '/index.html', '/usage', '/billing?from=mail', '/admin/users']) {
      const res = await raw(prod, url, { accept: 'text/html,application/xhtml+xml', 'accept-encoding': 'gzip, deflate, br, zstd' });
      expect(res.status, url).toBe(200);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
      expect(res.headers['content-encoding'], url).toBe('br');
      expect(brotliDecompressSync(res.body).equals(INDEX), url).toBe(true);
      // Helmet's headers are on the page too.
      expect(res.headers['content-security-policy'], url).toContain("script-src 'self'");
    }
  });

  it('keeps files from client/public (unhashed names) for an hour only', async () => {
    const res = await raw(prod, '/favicon.svg');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.headers['content-type']).toBe('image/svg+xml');
  });

  it('answers a missing asset (an old chunk after a deploy) with 404, not the app page', async () => {
    for (const url of ['/assets/index-Old_0000.js', '/assets/nothing', '/robots.txt']) {
      const res = await raw(prod, url, { accept: '*/*' });
      expect(res.status, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/json/);
    }
  });
});

describe('a file removed after the start', () => {
  it("is a plain 404, without the removed copy's headers", async () => {
    const name = path.join(dist, 'assets', 'style-XyZw9876.css.gz');
    await rm(name);
    try {
      const res = await raw(prod, '/assets/style-XyZw9876.css', { accept: '*/*', 'accept-encoding': 'gzip' });
      expect(res.status).toBe(404);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error: { reason: 'not_found' } });
    } finally {
      await writeFile(name, gzipSync(STYLE));
    }
  });
});

describe('source maps', () => {
  it('are not served in production', async () => {
    const res = await raw(prod, `${JS}.map`, { accept: '*/*' });
    expect(res.status).toBe(404);
    expect(res.body.toString()).not.toContain('original source');
  });

  it('are served outside production (local debugging)', async () => {
    const res = await raw(dev, `${JS}.map`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('original source');
  });
});

describe('paths outside the build', () => {
  const attempts = [
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/assets/..%5c..%5csecret.txt',
    '//secret.txt',
    `${JS}%00.html`,
    '/.env',
    '/%2eenv',
    `${JS}.br`,
    `${JS}.gz`,
    '/%E0%A4%A',
  ];

  it.each(attempts)('refuses %s', async (attempt) => {
    const res = await raw(prod, attempt, { accept: '*/*', 'accept-encoding': 'identity' });
    expect(res.status).toBe(404);
    expect(res.body.toString('latin1')).not.toContain(SECRET);
  });
});

describe('streamed /trpc answers', () => {
  it('are neither compressed nor buffered, whatever the browser accepts', async () => {
    const b = dev.browser();
    await b.trpc.auth.signUp.mutate({ email: `stream-${Date.now()}@example.com`, password: 'correct horse battery' });
    const response = await b.fetch('/trpc/chat.send?batch=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'trpc-accept': 'application/jsonl', 'accept-encoding': 'gzip, deflate, br, zstd' },
      body: JSON.stringify({ 0: { json: { content: 'Write a Python function for Fibonacci numbers' } } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const reads: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      reads.push(decoder.decode(value, { stream: true }));
    }
    // The first delta came in a read of its own, before the end of the reply: the
    // answer was relayed as it was produced, not collected and sent at the end.
    const firstDelta = reads.findIndex((text) => text.includes('"type":"delta"'));
    const doneAt = reads.findIndex((text) => text.includes('"type":"done"'));
    expect(firstDelta).toBeGreaterThanOrEqual(0);
    expect(doneAt).toBeGreaterThan(firstDelta);
    expect(reads.filter((text) => text.includes('"type":"delta"')).length).toBeGreaterThan(2);
  });
});
