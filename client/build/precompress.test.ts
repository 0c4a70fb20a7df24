import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { MIN_BYTES, precompressDirectory } from './precompress.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('precompressDirectory', () => {
  it('writes .br and .gz copies that decompress to the original, for text files above the threshold only', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'precompress-'));
    await mkdir(path.join(dir, 'assets'));
    const script = Buffer.from('export const greeting = "hello";\n'.repeat(200));
    await writeFile(path.join(dir, 'assets', 'app-abcdefgh.js'), script);
    await writeFile(path.join(dir, 'assets', 'tiny-abcdefgh.js'), 'export{}'.padEnd(MIN_BYTES - 1, ' '));
    await writeFile(path.join(dir, 'logo.png'), Buffer.alloc(4096, 7));

    const results = await precompressDirectory(dir);

    expect(results.map((r) => path.relative(dir!, r.file)).sort()).toEqual(['assets/app-abcdefgh.js', 'assets/tiny-abcdefgh.js']);
    expect((await readdir(path.join(dir, 'assets'))).sort()).toEqual(['app-abcdefgh.js', 'app-abcdefgh.js.br', 'app-abcdefgh.js.gz', 'tiny-abcdefgh.js']);
    expect(await readdir(dir)).not.toContain('logo.png.gz');
    const br = await readFile(path.join(dir, 'assets', 'app-abcdefgh.js.br'));
    const gz = await readFile(path.join(dir, 'assets', 'app-abcdefgh.js.gz'));
    expect(brotliDecompressSync(br).equals(script)).toBe(true);
    expect(gunzipSync(gz).equals(script)).toBe(true);
    expect(br.length).toBeLessThan(gz.length);
  });
});
