// Writes a Brotli (.br) and a gzip (.gz) copy beside each compressible file of
// the build, at the highest levels: this runs once per build, so the server can
// send the smallest bytes without compressing anything per request (and without a
// compression middleware that could buffer the streaming /trpc responses).
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Plugin, ResolvedConfig } from 'vite';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Text formats worth compressing; images and fonts are compressed already. Source maps are not served in production. */
export const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|webmanifest|txt|xml|wasm)$/;
/** Below this a compressed copy saves less than its headers and a round of negotiation cost. */
export const MIN_BYTES = 1024;

export interface PrecompressResult {
  file: string;
  bytes: number;
  br?: number;
  gz?: number;
}

export async function precompressDirectory(dir: string): Promise<PrecompressResult[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && COMPRESSIBLE.test(entry.name)).map((entry) => path.join(entry.parentPath, entry.name));
  return Promise.all(files.map(precompressFile));
}

async function precompressFile(file: string): Promise<PrecompressResult> {
  const size = (await stat(file)).size;
  const result: PrecompressResult = { file, bytes: size };
  if (size < MIN_BYTES) return result;
  const source = await readFile(file);
  const [br, gz] = await Promise.all([
    brotli(source, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: size,
      },
    }),
    gzipAsync(source, { level: constants.Z_BEST_COMPRESSION }),
  ]);
  // A copy that is not smaller is not worth serving; the server then sends the file as it is.
  if (br.length < size) {
    await writeFile(`${file}.br`, br);
    result.br = br.length;
  }
  if (gz.length < size) {
    await writeFile(`${file}.gz`, gz);
    result.gz = gz.length;
  }
  return result;
}

export function precompress(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'chatmeter:precompress',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    // After every file, public/ ones included, is on disk.
    async closeBundle() {
      const outDir = path.resolve(config.root, config.build.outDir);
      const results = await precompressDirectory(outDir);
      const compressed = results.filter((r) => r.br !== undefined || r.gz !== undefined);
      config.logger.info(`precompressed ${compressed.length} of ${results.length} files (.br, .gz)`);
    },
  };
}
