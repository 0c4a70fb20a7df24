// Serves the built web client (client/dist): the Brotli or gzip copy written at
// build time (client/build/precompress.ts) when the browser accepts it, chosen
// with `negotiator`; hashed assets cached for a year, index.html revalidated on
// every load. Only the files listed when the server starts can be served: a
// request names a key of that list, never a path on disk, so `..`, encoded
// slashes or symlinks cannot reach anything else. Nothing here compresses on the
// fly, so no compression layer sits in front of the streaming /trpc responses.
import { readdirSync, statSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import Negotiator from 'negotiator';

export type ContentCoding = 'br' | 'gzip' | 'identity';

interface Representation {
  file: string;
  size: number;
  etag: string;
}

export interface ClientFile {
  /** The extension, for the Content-Type (express's `res.type`, from mime-types). */
  ext: string;
  cacheControl: string;
  variants: Partial<Record<ContentCoding, Representation>>;
}

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';
/** Files copied from client/public keep their names, so they may change under the same URL. */
export const SHORT = 'public, max-age=3600';

/** Vite names what it emits under assets/ `<name>-<8-character hash>.<ext>`. */
const HASHED_ASSET = /^\/assets\/.+-[\w-]{8}\.[a-z0-9]+$/i;
/** Preferred when the browser accepts several at the same quality: Brotli is 15-20 % smaller than gzip on our bundles. */
const PREFERRED: ContentCoding[] = ['br', 'gzip', 'identity'];
const SUFFIX: Record<Exclude<ContentCoding, 'identity'>, string> = { br: '.br', gzip: '.gz' };

function etagOf(stats: Stats, coding: ContentCoding): string {
  // Like `send`'s weak ETag (size and mtime), plus the coding: each representation needs its own.
  return `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}-${coding}"`;
}

/**
 * Lists the servable files of a build directory, keyed by URL path ("/assets/index-abc.js").
 * Source maps are left out in production: they would hand out the original sources.
 */
export function listClientFiles(dist: string, { serveSourceMaps }: { serveSourceMaps: boolean }): Map<string, ClientFile> {
  const files = new Map<string, ClientFile>();
  const entries = readdirSync(dist, { recursive: true, withFileTypes: true });
  const names = new Set(entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name)));
  for (const file of names) {
    if (file.endsWith('.br') || file.endsWith('.gz')) continue;
    const relative = path.relative(dist, file).split(path.sep);
    // Dotfiles (.DS_Store, .vite/manifest.json) are not part of the site.
    if (relative.some((segment) => segment.startsWith('.'))) continue;
    if (!serveSourceMaps && file.endsWith('.map')) continue;
    const url = `/${relative.join('/')}`;
    const stats = statSync(file);
    const variants: ClientFile['variants'] = { identity: { file, size: stats.size, etag: etagOf(stats, 'identity') } };
    for (const coding of ['br', 'gzip'] as const) {
      const compressed = file + SUFFIX[coding];
      if (!names.has(compressed)) continue;
      const compressedStats = statSync(compressed);
      variants[coding] = { file: compressed, size: compressedStats.size, etag: etagOf(compressedStats, coding) };
    }
    const cacheControl = url === '/index.html' ? REVALIDATE : HASHED_ASSET.test(url) ? IMMUTABLE : SHORT;
    files.set(url, { ext: path.extname(file), cacheControl, variants });
  }
  return files;
}

/** The representation to send: the client's choice among those on disk, `undefined` when it accepts none of them (406). */
export function chooseCoding(req: Pick<Request, 'headers'>, file: ClientFile): ContentCoding | undefined {
  const available = PREFERRED.filter((coding) => file.variants[coding]);
  // @types/negotiator (0.6) does not declare the `preferred` option negotiator 1.x has.
  const negotiator = new Negotiator(req) as unknown as {
    encoding(available: readonly string[], options: { preferred: readonly string[] }): string | undefined;
  };
  return negotiator.encoding(available, { preferred: PREFERRED }) as ContentCoding | undefined;
}

async function send(req: Request, res: Response, file: ClientFile): Promise<void> {
  // Set before any early answer: a cache must key every response of this URL on Accept-Encoding.
  res.vary('Accept-Encoding');
  const coding = chooseCoding(req, file);
  const representation = coding && file.variants[coding];
  if (!coding || !representation) {
    res.status(406).type('text').send('None of the accepted content codings is available.');
    return;
  }
  res.type(file.ext);
  res.setHeader('Cache-Control', file.cacheControl);
  res.setHeader('ETag', representation.etag);
  if (coding !== 'identity') res.setHeader('Content-Encoding', coding);
  if (req.fresh) return void res.status(304).end();
  res.setHeader('Content-Length', representation.size);
  if (req.method === 'HEAD') return void res.end();
  let handle: FileHandle;
  try {
    handle = await open(representation.file, 'r');
  } catch (error) {
    // Whatever answers instead (a 404 for a file removed since the start) must not carry this file's headers.
    for (const header of ['Content-Type', 'Cache-Control', 'ETag', 'Content-Encoding', 'Content-Length']) res.removeHeader(header);
    throw error;
  }
  await pipeline(handle.createReadStream(), res);
}

/** The request's path, percent-decoded; `undefined` when it does not decode (a 404 then). */
function decodedPath(req: Request): string | undefined {
  try {
    return decodeURIComponent(req.path);
  } catch {
    return undefined;
  }
}

export interface ClientFilesHandlers {
  /** GET/HEAD of a file of the build; anything else goes on. */
  files: RequestHandler;
  /** index.html for the SPA's own routes (a GET for HTML of an extensionless path). */
  index: RequestHandler;
  count: number;
}

export function clientFiles(dist: string, options: { serveSourceMaps: boolean }): ClientFilesHandlers {
  const files = listClientFiles(dist, options);
  const index = files.get('/index.html');
  if (!index) throw new Error(`${dist} has no index.html`);
  const onError = (res: Response, next: (error?: unknown) => void) => (error: unknown) => {
    // Mid-file (the client went away, or the disk failed) all that can be done is to cut the response.
    if (res.headersSent) return void res.destroy();
    // A file removed since the start (the client rebuilt under a running server) is a 404 like any missing file.
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return next();
    next(error);
  };
  return {
    count: files.size,
    files: (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      const key = decodedPath(req);
      const file = key === undefined ? undefined : files.get(key);
      if (!file) return next();
      send(req, res, file).catch(onError(res, next));
    },
    index: (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      // A missing file (an old chunk after a deploy, a source map in production) is a 404, not the app's HTML.
      const decoded = decodedPath(req);
      if (decoded === undefined || decoded.startsWith('/assets/')) return next();
      if (decoded.slice(decoded.lastIndexOf('/') + 1).includes('.')) return next();
      if (!req.accepts('html')) return next();
      send(req, res, index).catch(onError(res, next));
    },
  };
}
