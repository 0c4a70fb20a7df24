/**
 * A real HTTP server on 127.0.0.1 that speaks OpenAI's Chat Completions protocol, for the
 * real `openai` SDK to talk to in tests (`baseURL: fake.baseUrl`).
 *
 * Each request takes the next behaviour from a queue (`enqueue`), else asks the handler
 * (`setHandler`), else uses the default (`setDefault`). Behaviours script replies split
 * into chunks, delays, usage (computed, overridden, zero or omitted), HTTP errors with
 * headers, streams dropped or stalled mid-way, or a recorded stream replayed byte for byte
 * (`replay`, see ./provider-captures.ts). Every request is recorded with its body, headers
 * and whether/when the client closed the connection before the response ended.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { computeChatCompletionTokenCount } from 'gpt-tokenizer/functionCalling';

export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Default prompt + completion. */
  total_tokens?: number;
  /** Sent as `prompt_tokens_details.cached_tokens`; `null` leaves `prompt_tokens_details` out. */
  cached_tokens?: number | null;
}

export interface FakeBehaviour {
  /** Answer with this HTTP error status (OpenAI error body) instead of a completion. */
  status?: number;
  /** Fields of the error body (`{ error: { message, type, param, code } }`). */
  error?: { message?: string; type?: string; code?: string | null };
  /** Extra response headers, e.g. `{ 'retry-after': '1' }` or `{ 'retry-after-ms': '200' }`. */
  headers?: Record<string, string>;
  /** The assistant's text (default "Hello from the fake OpenAI server."). */
  reply?: string;
  /** Number of content chunks the reply is split into (default: its word count, at most 8). */
  chunks?: number;
  /** Delay before each content chunk after the first. */
  chunkDelayMs?: number;
  /** Latency before the response headers. */
  firstByteDelayMs?: number;
  /**
   * Usage to report. Default: computed with gpt-tokenizer (o200k). `null`: no usage, even
   * when the client asked for it with `stream_options.include_usage`.
   */
  usage?: FakeUsage | null;
  /**
   * Report the whole completion cap the request asked for (`max_tokens` or
   * `max_completion_tokens`) as completion tokens: the worst case a reservation must cover.
   */
  usageFullCap?: boolean;
  /** A refusal (`delta.refusal`) sent after the content chunks, as OpenAI streams a declined request. */
  refusal?: string;
  /** Finish reason of the last chunk (default "stop"); `null` sends no finish chunk. */
  finishReason?: string | null;
  /** Destroy the socket after this many content chunks (a connection drop mid-stream). */
  dropAfterChunks?: number;
  /** Stop sending after this many content chunks but keep the connection open. */
  stallAfterChunks?: number;
  /**
   * A recorded SSE body to send as it is, one write per event (`chunkDelayMs` apart),
   * whatever the request asked: no role chunk, finish chunk, usage or `[DONE]` is added.
   * `reply`, `usage`, `finishReason` and `chunks` are ignored.
   */
  replay?: readonly string[];
}

export interface RecordedRequest {
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when there was none or it was not JSON). */
  body: any;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  /** HTTP status sent, once the headers were written. */
  status?: number;
  /** Content chunks written so far. */
  chunksSent: number;
  /** The response was written completely. */
  completed: boolean;
  /** The client closed the connection before the response was complete. */
  clientClosed: boolean;
  /** The fake itself cut the connection (`dropAfterChunks`). */
  droppedByServer: boolean;
  /** Date.now() when the connection closed or the response ended. */
  closedAt?: number;
  /** Resolves when the exchange is over, whichever way. */
  done: Promise<void>;
}

export interface FakeOpenAIServer {
  /** e.g. http://127.0.0.1:43210/v1 */
  readonly baseUrl: string;
  readonly requests: readonly RecordedRequest[];
  enqueue(...behaviours: FakeBehaviour[]): void;
  setDefault(behaviour: FakeBehaviour): void;
  setHandler(handler: ((request: RecordedRequest) => FakeBehaviour | undefined) | undefined): void;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Forget recorded requests and queued behaviours. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_REPLY = 'Hello from the fake OpenAI server.';

function splitReply(reply: string, chunks: number | undefined): string[] {
  // Split on code points so multi-byte characters are never cut.
  const chars = Array.from(reply);
  if (chars.length === 0) return [];
  const words = reply.split(/\s+/).filter(Boolean).length;
  const count = Math.max(1, Math.min(chunks ?? Math.min(words, 8), chars.length));
  const pieces: string[] = [];
  for (let i = 0; i < count; i++) {
    pieces.push(chars.slice(Math.floor((i * chars.length) / count), Math.floor(((i + 1) * chars.length) / count)).join(''));
  }
  return pieces;
}

function computeUsage(body: any, reply: string): FakeUsage {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const plain = { disallowedSpecial: new Set<string>() };
  const count = (text: string) => (text ? countTokens(text, plain) : 0);
  const prompt = computeChatCompletionTokenCount(
    {
      messages: messages.map((m: any) => ({
        role: String(m.role),
        content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''),
        ...(m.name ? { name: String(m.name) } : {}),
      })),
    },
    count,
  );
  return { prompt_tokens: prompt, completion_tokens: count(reply), cached_tokens: 0 };
}

function usageJson(usage: FakeUsage) {
  return {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
    ...(usage.cached_tokens === null ? {} : { prompt_tokens_details: { cached_tokens: usage.cached_tokens ?? 0, audio_tokens: 0 } }),
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function delay(ms: number | undefined, res: ServerResponse): Promise<void> {
  if (!ms || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    }
    res.once('close', done);
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, status: number, behaviour: FakeBehaviour, requestId: string): void {
  const defaults: Record<number, { message: string; type: string; code: string | null }> = {
    400: { message: 'Invalid request.', type: 'invalid_request_error', code: null },
    401: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
    404: { message: 'The model does not exist.', type: 'invalid_request_error', code: 'model_not_found' },
    429: { message: 'Rate limit reached for requests.', type: 'requests', code: 'rate_limit_exceeded' },
    500: { message: 'The server had an error while processing your request.', type: 'server_error', code: null },
    503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
  };
  const base = defaults[status] ?? { message: `HTTP ${status}`, type: 'server_error', code: null };
  const error = { ...base, param: null, ...behaviour.error };
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': requestId,
    ...behaviour.headers,
  });
  res.end(JSON.stringify({ error }));
}

export async function startFakeOpenAIServer(): Promise<FakeOpenAIServer> {
  const requests: RecordedRequest[] = [];
  const queue: FakeBehaviour[] = [];
  let fallback: FakeBehaviour = {};
  let handler: ((request: RecordedRequest) => FakeBehaviour | undefined) | undefined;
  const waiters = new Set<() => void>();

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      // A failure here is a bug in the fake: surface it as a 500 the test will notice.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `fake server bug: ${String(error)}`, type: 'fake_error' } }));
      } else {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    let resolveDone!: () => void;
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      headers: req.headers,
      body,
      receivedAt: Date.now(),
      chunksSent: 0,
      completed: false,
      clientClosed: false,
      droppedByServer: false,
      done: new Promise<void>((resolve) => (resolveDone = resolve)),
    };
    requests.push(record);
    for (const wake of waiters) wake();

    res.on('finish', () => {
      record.completed = true;
    });
    res.on('close', () => {
      if (!record.completed && !record.droppedByServer) record.clientClosed = true;
      record.closedAt = Date.now();
      resolveDone();
    });

    const requestId = `req_fake_${record.index}`;
    if (record.method === 'GET' && record.path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': requestId });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'fake' }] }));
      return;
    }
    if (record.method !== 'POST' || record.path !== '/v1/chat/completions') {
      sendError(res, 404, { error: { message: `Unknown route ${record.method} ${record.path}`, code: null } }, requestId);
      return;
    }
    if (!body || typeof body !== 'object' || !Array.isArray(body.messages) || typeof body.model !== 'string') {
      sendError(res, 400, { error: { message: "'model' and 'messages' are required" } }, requestId);
      return;
    }

    const behaviour = queue.shift() ?? handler?.(record) ?? fallback;
    await delay(behaviour.firstByteDelayMs, res);
    if (res.destroyed) return;

    if (behaviour.status !== undefined && behaviour.status >= 400) {
      record.status = behaviour.status;
      sendError(res, behaviour.status, behaviour, requestId);
      return;
    }

    if (behaviour.replay) {
      record.status = 200;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': requestId,
        ...behaviour.headers,
      });
      for (const [i, event] of behaviour.replay.entries()) {
        if (i > 0) await delay(behaviour.chunkDelayMs, res);
        if (res.destroyed) return;
        await new Promise<void>((resolve) => res.write(event, () => resolve()));
        record.chunksSent += 1;
      }
      res.end();
      return;
    }

    const reply = behaviour.reply ?? DEFAULT_REPLY;
    let usage = behaviour.usage === undefined ? computeUsage(body, reply) : behaviour.usage;
    if (behaviour.usageFullCap && usage)
      usage = { ...usage, completion_tokens: Number(body.max_completion_tokens ?? body.max_tokens ?? usage.completion_tokens), total_tokens: undefined };
    const finishReason = behaviour.finishReason === undefined ? 'stop' : behaviour.finishReason;
    const id = `chatcmpl-fake${record.index}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model as string;

    if (body.stream !== true) {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': requestId, ...behaviour.headers });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          system_fingerprint: 'fp_fake',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: reply, refusal: null, annotations: [] },
              logprobs: null,
              finish_reason: finishReason ?? 'stop',
            },
          ],
          ...(usage ? { usage: usageJson(usage) } : {}),
          service_tier: 'default',
        }),
      );
      return;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
        choices,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      })}\n\n`;
    const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
      index: 0,
      delta,
      logprobs: null,
      finish_reason: finish,
    });

    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': requestId,
      ...behaviour.headers,
    });
    // Waiting for each write to reach the socket keeps chunks apart and makes sure a
    // deliberate drop happens after the chunks before it were really sent.
    const send = (data: string) => new Promise<void>((resolve) => res.write(data, () => resolve()));
    await send(chunk([choice({ role: 'assistant', content: '', refusal: null })]));

    const pieces = splitReply(reply, behaviour.chunks);
    for (const [i, piece] of pieces.entries()) {
      if (behaviour.dropAfterChunks !== undefined && record.chunksSent >= behaviour.dropAfterChunks) {
        record.droppedByServer = true;
        res.socket?.destroy();
        return;
      }
      if (behaviour.stallAfterChunks !== undefined && record.chunksSent >= behaviour.stallAfterChunks) {
        return; // the connection stays open until the client gives up or the fake closes
      }
      if (i > 0) await delay(behaviour.chunkDelayMs, res);
      if (res.destroyed) return;
      await send(chunk([choice({ content: piece })]));
      record.chunksSent += 1;
    }
    if (behaviour.dropAfterChunks !== undefined && record.chunksSent >= behaviour.dropAfterChunks) {
      record.droppedByServer = true;
      res.socket?.destroy();
      return;
    }
    if (res.destroyed) return;
    if (behaviour.refusal) await send(chunk([choice({ refusal: behaviour.refusal })]));
    if (finishReason !== null) res.write(chunk([choice({}, finishReason)]));
    if (includeUsage && usage) res.write(chunk([], { usage: usageJson(usage) }));
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...behaviours) => {
      queue.push(...behaviours);
    },
    setDefault: (behaviour) => {
      fallback = behaviour;
    },
    setHandler: (next) => {
      handler = next;
    },
    waitForRequests: (count, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        if (requests.length >= count) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake OpenAI server: ${requests.length} of ${count} requests after ${timeoutMs} ms`));
        }, timeoutMs);
        function check() {
          if (requests.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        }
        waiters.add(check);
      }),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
