/**
 * A `fetch` for the openai SDK built on node:http / node:https with keep-alive agents.
 *
 * Why: Node's built-in fetch (undici) wraps every response in WHATWG streams and creates
 * AbortSignals, DOMExceptions and transferable objects per request; in CPU profiles that
 * was about 15 % of the server's CPU per chat. The SDK only needs what is below, and it
 * iterates `response.body` directly when the body is async-iterable, so the body here is
 * the Node `IncomingMessage` itself (or a zlib stream when the response is compressed).
 *
 * What it keeps from fetch, because the SDK and our provider depend on it:
 *  - `init.signal` aborts before the request, while waiting for headers and while the
 *    body is read; the socket is destroyed so the upstream sees the client go away, and
 *    the promise / body iteration fails with `signal.reason` (an `AbortError`
 *    DOMException for a plain `abort()`), which is how the SDK tells an abort or its own
 *    timeout from a failure;
 *  - network failures reject with `TypeError('fetch failed', { cause })` like undici, so
 *    the SDK turns them into `APIConnectionError` (or `APIConnectionTimeoutError` when the
 *    cause says "timed out"); a connection lost mid-body fails the body iteration
 *    (`Error: aborted`, code ECONNRESET) instead of undici's `TypeError: terminated`;
 *  - status, ok, statusText, url, redirected, a real `Headers`, text() / json() /
 *    arrayBuffer() / bytes() / blob(); redirects are followed as fetch does
 *    (303 and POST 301/302 become GET, credentials dropped across origins, 20 at most);
 *  - request headers as Headers, pairs or a record; string, byte and URLSearchParams
 *    bodies with fetch's default content types.
 *
 * Deliberately different: no `accept-encoding` is advertised unless the caller sets one
 * (undici asks for gzip/deflate/br; decompressing costs CPU and the SSE stream is small),
 * but a compressed response is still decoded. Every method is upper-cased (Node's http
 * client does it; fetch leaves e.g. `patch` alone). No `clone()` or `formData()`.
 * Anything this does not handle itself (a `Request` object, non-HTTP URLs, stream, Blob
 * or FormData bodies, an undici `dispatcher`) goes to the fallback, the global fetch.
 */
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';

export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface NodeFetchOptions {
  httpAgent?: http.Agent;
  httpsAgent?: https.Agent;
  /** For what this fetch leaves alone (see the module comment). Default: the global fetch. */
  fallback?: FetchFunction;
}

// 4 s idle, as undici's default keepAliveTimeout; Node shortens it further when the
// server announces a shorter `Keep-Alive: timeout=N`, so we rarely reuse a socket the
// server is about to close. `timeout` only expires free sockets: on a socket in use it
// merely emits 'timeout', which nothing here listens to.
const AGENT_OPTIONS = { keepAlive: true, timeout: 4_000 } as const;

const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
// Fetch drops these when a redirect turns the request into a body-less GET...
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'];
// ...and these when it leaves the origin.
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'host'];

function noop() {}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function fetchFailed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

function isHttpWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function trimHttpWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

type HeaderRecord = Record<string, string>;

/** Lower-cased names, duplicates joined with ", ", values trimmed, as `new Headers(init)` would. */
function toHeaderRecord(init: unknown): HeaderRecord {
  const out: HeaderRecord = Object.create(null) as HeaderRecord;
  const add = (name: unknown, value: unknown) => {
    const key = String(name).toLowerCase();
    const normalized = trimHttpWhitespace(String(value));
    const previous = out[key];
    out[key] = previous === undefined ? normalized : `${previous}, ${normalized}`;
  };
  if (init === undefined || init === null) return out;
  if (init instanceof Headers) {
    for (const [name, value] of init) add(name, value);
  } else if (typeof init === 'object' && Symbol.iterator in init) {
    for (const pair of init as Iterable<unknown>) {
      const entry = Array.isArray(pair) ? pair : Array.from(pair as Iterable<unknown>);
      if (entry.length !== 2) throw new TypeError(`Headers: expected a name/value pair, found ${entry.length} elements`);
      add(entry[0], entry[1]);
    }
  } else if (typeof init === 'object') {
    const record = init as Record<string, unknown>;
    for (const name of Object.keys(record)) add(name, record[name]);
  } else {
    throw new TypeError('Headers: init must be a Headers object, a sequence of pairs or a record');
  }
  return out;
}

function toResponseHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // A value Node's parser let through but Headers refuses: leave it out rather than fail the response.
    }
  }
  return headers;
}

/** `undefined`: a body this fetch does not handle, for the fallback. */
function extractBody(body: unknown): { data: string | Buffer | null; type?: string } | undefined {
  if (body === undefined || body === null) return { data: null };
  if (typeof body === 'string') return { data: body, type: 'text/plain;charset=UTF-8' };
  // Fetch takes a copy of byte bodies when it is called.
  if (ArrayBuffer.isView(body)) return { data: Buffer.from(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)) };
  if (body instanceof ArrayBuffer) return { data: Buffer.from(new Uint8Array(body)) };
  if (body instanceof URLSearchParams) {
    return { data: body.toString(), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  return undefined;
}

// Node's http client upper-cases every method; fetch only the six standard ones (it
// would send `patch` as is). The SDK upper-cases its methods itself.
function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return 'GET';
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  return upper;
}

/** Decodes what the server compressed, as undici does; unknown codings pass through as they are. */
function decodeBody(res: http.IncomingMessage, contentEncoding: string | null): Readable {
  if (!contentEncoding) return res;
  const decoders: Transform[] = [];
  const codings = contentEncoding.toLowerCase().split(',');
  // Codings are listed in the order they were applied: undo them from the last.
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!.trim();
    // Sync flush also on finish, so a truncated stream ends instead of erroring (undici does the same).
    if (coding === 'gzip' || coding === 'x-gzip') {
      decoders.push(zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    } else if (coding === 'deflate') {
      decoders.push(zlib.createInflate({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    } else if (coding === 'br') {
      decoders.push(
        zlib.createBrotliDecompress({
          flush: zlib.constants.BROTLI_OPERATION_FLUSH,
          finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
        }),
      );
    } else if (coding !== 'identity' && coding !== '') {
      for (const decoder of decoders) decoder.destroy();
      return res;
    }
  }
  if (decoders.length === 0) return res;
  // pipeline() destroys every stage when one fails or is destroyed, so an abort or an
  // early return of the reader still reaches the socket; errors surface on the last stage.
  pipeline([res, ...decoders], noop);
  return decoders[decoders.length - 1]!;
}

class NodeFetchResponse {
  readonly type = 'basic';
  readonly ok: boolean;
  private consumed = false;

  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly headers: Headers,
    readonly url: string,
    readonly redirected: boolean,
    readonly body: Readable | null,
  ) {
    this.ok = status >= 200 && status <= 299;
  }

  /** As fetch's: true once the body was read, by text() & co. or by iterating it. */
  get bodyUsed(): boolean {
    return this.consumed || (this.body?.readableDidRead ?? false);
  }

  private async consume(): Promise<Buffer> {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    this.consumed = true;
    if (this.body === null) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const chunk of this.body) chunks.push(chunk as Buffer);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    const text = (await this.consume()).toString('utf8');
    // TextDecoder, which fetch uses, drops a byte order mark.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.consume();
    // A copy: small Buffers are views into a shared pool.
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()], { type: this.headers.get('content-type') ?? '' });
  }

  formData(): Promise<never> {
    return Promise.reject(new TypeError('nodeFetch: Response.formData() is not supported'));
  }

  clone(): never {
    throw new TypeError('nodeFetch: Response.clone() is not supported');
  }
}

export function createNodeFetch(options: NodeFetchOptions = {}): FetchFunction {
  const httpAgent = options.httpAgent ?? new http.Agent(AGENT_OPTIONS);
  const httpsAgent = options.httpsAgent ?? new https.Agent(AGENT_OPTIONS);
  const fallback: FetchFunction = options.fallback ?? ((input, init) => globalThis.fetch(input, init));

  return function nodeFetch(input, init) {
    if (typeof input !== 'string' && !(input instanceof URL)) return fallback(input, init);
    if (init && (init as { dispatcher?: unknown }).dispatcher !== undefined) return fallback(input, init);
    let url: URL;
    try {
      url = new URL(input);
    } catch (cause) {
      return Promise.reject(new TypeError(`Failed to parse URL from ${String(input)}`, { cause }));
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fallback(input, init);
    const body = extractBody(init?.body);
    if (body === undefined) return fallback(input, init);

    return new Promise<Response>((resolve, reject) => {
      const signal = init?.signal ?? null;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let method: string;
      let headers: HeaderRecord;
      try {
        if (url.username || url.password) {
          throw new TypeError('Request cannot be constructed from a URL that includes credentials');
        }
        method = normalizeMethod(init?.method);
        if (body.data !== null && (method === 'GET' || method === 'HEAD')) {
          throw new TypeError('Request with GET/HEAD method cannot have body.');
        }
        headers = toHeaderRecord(init?.headers);
      } catch (error) {
        reject(error);
        return;
      }
      if (body.type !== undefined && headers['content-type'] === undefined) headers['content-type'] = body.type;
      if (headers.accept === undefined) headers.accept = '*/*';
      const redirectMode = init?.redirect ?? 'follow';

      let settled = false;
      let current: http.ClientRequest | undefined;
      let responseBody: Readable | undefined;

      const onAbort = () => {
        const reason = abortReason(signal!);
        signal!.removeEventListener('abort', onAbort);
        if (!settled) {
          settled = true;
          reject(reason);
        }
        // The body first, so that its reader sees the abort reason and not the
        // connection reset that destroying the socket causes.
        if (responseBody && !responseBody.destroyed) responseBody.destroy(reason as Error);
        current?.destroy();
      };
      const detach = () => signal?.removeEventListener('abort', onAbort);
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        detach();
        current?.destroy();
        reject(error);
      };
      signal?.addEventListener('abort', onAbort);

      const send = (target: URL, data: string | Buffer | null, redirects: number) => {
        if (data !== null) {
          headers['content-length'] = String(typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
        } else if (method === 'POST' || method === 'PUT') {
          headers['content-length'] = '0';
        } else {
          delete headers['content-length'];
        }
        const secure = target.protocol === 'https:';
        let req: http.ClientRequest;
        try {
          req = (secure ? https : http).request(target, { method, headers, agent: secure ? httpsAgent : httpAgent });
        } catch (error) {
          // Invalid header names or values (Node throws TypeErrors for them, as fetch would).
          fail(error);
          return;
        }
        current = req;
        // Kept for the life of the request: Node also reports late socket errors here,
        // and an 'error' without a listener would crash the process.
        req.on('error', (error) => {
          // A redirect's request that fails after we moved on is no longer ours to report.
          if (current === req) fail(fetchFailed(error));
        });
        req.on('response', (res) => {
          if (settled) {
            res.destroy();
            return;
          }
          const status = res.statusCode ?? 0;
          const responseHeaders = toResponseHeaders(res.rawHeaders);
          const location = REDIRECT_STATUSES.has(status) ? responseHeaders.get('location') : null;
          if (location !== null && redirectMode !== 'manual') {
            res.resume();
            if (redirectMode === 'error') return fail(fetchFailed(new Error('unexpected redirect')));
            if (redirects >= MAX_REDIRECTS) return fail(fetchFailed(new Error('redirect count exceeded')));
            let next: URL;
            try {
              next = new URL(location, target);
            } catch (cause) {
              return fail(fetchFailed(cause));
            }
            if (next.protocol !== 'http:' && next.protocol !== 'https:') {
              return fail(fetchFailed(new TypeError('URL scheme must be a HTTP(S) scheme')));
            }
            let nextData = data;
            if (status === 303 ? method !== 'GET' && method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
              method = 'GET';
              nextData = null;
              for (const name of BODY_HEADERS) delete headers[name];
            }
            if (next.origin !== target.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
            send(next, nextData, redirects + 1);
            return;
          }

          settled = true;
          let stream: Readable | null = null;
          if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
            // Read to the end so the socket goes back to the pool.
            res.resume();
            detach();
          } else {
            stream = decodeBody(res, responseHeaders.get('content-encoding'));
            responseBody = stream;
            // An abort or a reset while nobody reads the body must not become an
            // unhandled 'error'; a reader still gets the error from the stream.
            stream.on('error', noop);
            stream.once('close', detach);
          }
          const finalUrl = target.hash ? target.href.slice(0, -target.hash.length) : target.href;
          const response = new NodeFetchResponse(status, res.statusMessage ?? '', responseHeaders, finalUrl, redirects > 0, stream);
          resolve(response as unknown as Response);
        });
        req.end(data ?? undefined);
      };
      send(url, body.data, 0);
    });
  };
}

/** Shared by every OpenAI provider in the process, so they share one connection pool. */
export const nodeFetch: FetchFunction = createNodeFetch();
