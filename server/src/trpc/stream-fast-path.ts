// A lean answer for the one request shape that carries every metered chat: a
// streaming procedure called alone through httpBatchStreamLink
// (`POST /trpc/chat.send?batch=1`, `trpc-accept: application/jsonl`). tRPC's node
// adapter turns each request into a Fetch Request and relays the answer through
// async generators and web streams; under load that plumbing cost about a quarter
// of the server's CPU (issue 17). Here the procedure still runs through tRPC (its
// middlewares, input parser and error formatter), but its events go to the node
// response as one `res.write` of one JSONL line each. The bytes are tRPC's own
// (resolveResponse.ts and stream/jsonl.ts, @trpc/server 11.25): the client cannot
// tell the two apart. Any other request is left to tRPC's handler (`next()`).
import { type AnyTRPCRouter, type inferRouterContext, TRPCError } from '@trpc/server';
import type { NodeHTTPCreateContextFnOptions } from '@trpc/server/adapters/node-http';
import type { HTTPErrorHandler } from '@trpc/server/http';
import {
  type AnyProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  isAsyncIterable,
  isObject,
  type TRPCRequestInfo,
  type TRPCRequestInfoProcedureCall,
} from '@trpc/server/unstable-core-do-not-import';
import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import superjson from 'superjson';
import { isPlainJson } from './plain-json.ts';

/** The options this path shares with tRPC's express handler, so both serve a call alike. */
export interface TrpcHandlerOptions<TRouter extends AnyTRPCRouter> {
  router: TRouter;
  createContext: (opts: NodeHTTPCreateContextFnOptions<Request, Response>) => Promise<inferRouterContext<TRouter>>;
  /** Runs before the call (reads the body): an error it passes to `next` becomes the call's error. */
  middleware: (req: Request, res: Response, next: NextFunction) => void;
  onError: HTTPErrorHandler<TRouter, Request>;
}

export interface StreamFastPathOptions<TRouter extends AnyTRPCRouter> extends TrpcHandlerOptions<TRouter> {
  /** The mutations that answer with an async iterable (the client's httpBatchStreamLink paths). */
  paths: readonly string[];
}

/*
 * tRPC numbers the parts of one call's JSONL answer (0 stands for a part still to come):
 * the head says call "0" is promise chunk 0; chunk 0 is `{ result }` with promise chunk 1;
 * chunk 1 is `{ data }` with promise chunk 2; chunk 2 is the procedure's value, here the
 * async-iterable chunk 3 of the events. A promise chunk is fulfilled (0); an iterable
 * chunk yields (1), returns (0) or throws (2).
 */
const PROMISE = 0;
const ITERABLE = 1;
const FULFILLED = 0;
const YIELD = 1;
const RETURN = 0;
const THROW = 2;
const CALL_CHUNK = 0;
const DATA_CHUNK = 2;
const EVENTS_CHUNK = 3;
const HEAD = { 0: [[0], [null, PROMISE, CALL_CHUNK]] };
const RESULT = [
  [CALL_CHUNK, FULFILLED, [[{ result: 0 }], ['result', PROMISE, 1]]],
  [1, FULFILLED, [[{ data: 0 }], ['data', PROMISE, DATA_CHUNK]]],
];
const DATA_IS_EVENTS = [DATA_CHUNK, FULFILLED, [[0], [null, ITERABLE, EVENTS_CHUNK]]];

/** tRPC's encoding of a value with no promise or iterable inside: `[[value]]`, or `[[]]` for undefined. */
function encode(value: unknown): [[unknown]] | [[]] {
  return value === undefined ? [[]] : [[value]];
}

/** `trpc-accept: application/jsonl` with a JSON body, as httpBatchStreamLink sends it. */
function isStreamBatch(req: Request): boolean {
  return isJsonlPost(req) && req.query.batch === '1';
}

/** A POST asking for jsonl with a JSON body (the checks on headers and method alone). */
function isJsonlPost(req: IncomingMessage): boolean {
  return (
    req.method === 'POST' &&
    req.headers['trpc-accept'] === 'application/jsonl' &&
    req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase() === 'application/json'
  );
}

/** The procedures named in `paths`, checked once at start: each must be a mutation of the router. */
function streamingProcedures(router: AnyTRPCRouter, paths: readonly string[]): Map<string, AnyProcedure> {
  const procedures = new Map<string, AnyProcedure>();
  for (const path of paths) {
    const procedure = (router._def.procedures as Record<string, AnyProcedure | undefined>)[path];
    if (procedure?._def.type !== 'mutation') throw new Error(`stream fast path: "${path}" is not a mutation of the router`);
    procedures.set(path, procedure);
  }
  return procedures;
}

/**
 * tRPC's batch input read for a call at index 0: the body (a string, trpc/body.ts) is parsed
 * and deserialized on first read, and `result()` gives the input once read (for onError).
 */
function firstCall(path: string, procedure: AnyProcedure, body: unknown, deserialize: (value: unknown) => unknown): TRPCRequestInfoProcedureCall {
  let read: Promise<unknown> | undefined;
  let input: unknown;
  const parse = async () => {
    try {
      const inputs: unknown = typeof body === 'string' && body ? JSON.parse(body) : {};
      if (!isObject(inputs)) throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
      input = inputs[0] === undefined ? undefined : deserialize(inputs[0]);
      return input;
    } catch (cause) {
      if (cause instanceof TRPCError) throw cause;
      throw new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause });
    }
  };
  return { path, procedure, batchIndex: 0, getRawInput: () => (read ??= parse()), result: () => input };
}

/** Aborts when the client goes away before the answer is complete (tRPC's request signal). */
function disconnectSignal(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableEnded) controller.abort();
  });
  return controller.signal;
}

/** Resolves when the socket takes more again, or is gone. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/**
 * The handler; whether a request (its raw url, before express) is one it answers; and the
 * handler for such a request once inside the mount, which skips the checks `accepts` made
 * (false, and nothing done, if the path is not one of its procedures after all).
 */
export type StreamFastPathHandler = RequestHandler & {
  accepts(req: IncomingMessage, mountPath: string): boolean;
  serveAccepted(req: Request, res: Response): boolean;
};

export function streamFastPath<TRouter extends AnyTRPCRouter>(options: StreamFastPathOptions<TRouter>): StreamFastPathHandler {
  const config = options.router._def._config;
  // tRPC pings jsonl streams only when `jsonl.pingMs` is set; this path does not, so it must stay unset.
  if (config.jsonl?.pingMs) throw new Error('stream fast path: jsonl pings are configured, which this path does not send');
  const procedures = streamingProcedures(options.router, options.paths);
  const contentType = config.jsonl?.contentType ?? 'application/json';
  const output = config.transformer.output;
  // superjson's own answer for plain data is `{ json: value }`: its walk is skipped there (plain-json.ts).
  const plainAsIs = output === superjson;
  const line = (chunk: unknown) => `${JSON.stringify(plainAsIs && isPlainJson(chunk) ? { json: chunk } : output.serialize(chunk))}\n`;
  const head = line(HEAD);
  const result = RESULT.map(line).join('');
  const prelude = result + line(DATA_IS_EVENTS);
  // What the head goes out with: the stream's announcement, or a plain value's result lines.
  const headPrelude = head + prelude;
  const headResult = head + result;

  interface Call {
    req: Request;
    res: Response;
    procedure: AnyProcedure;
    info: TRPCRequestInfo & { calls: [TRPCRequestInfoProcedureCall] };
    /** The context once made; undefined if making it failed (the call is then refused with that error). */
    ctx?: inferRouterContext<TRouter> | undefined;
  }

  const errorShape = (call: Call, error: TRPCError) => {
    const { path, result: input } = call.info.calls[0];
    return getErrorShape({ config, ctx: call.ctx, error, input: input(), path, type: 'mutation' });
  };

  /**
   * tRPC's jsonl headers. The head line is not written here but with what follows it (the
   * prelude and first event, the value, or the refusal): tRPC sends it alone before the
   * procedure runs, which costs a socket write of its own per chat and tells the client
   * nothing it can use before the first event (issue 17).
   */
  function setHeaders(res: Response) {
    res.setHeader('vary', 'trpc-accept, accept');
    res.setHeader('content-type', contentType);
    res.setHeader('transfer-encoding', 'chunked');
  }

  /** Runs the procedure through its middlewares; a refusal before the stream is answered and gives undefined. */
  async function runProcedure(call: Call, early: TRPCError | null): Promise<{ data: unknown } | undefined> {
    const { req, res, info } = call;
    const [first] = info.calls;
    let contextError: TRPCError | undefined;
    try {
      call.ctx = await options.createContext({ req, res, info });
    } catch (cause) {
      contextError = getTRPCErrorFromUnknown(cause);
    }
    setHeaders(res);
    try {
      if (early) throw early;
      if (contextError) throw contextError;
      return {
        data: await call.procedure({ path: first.path, getRawInput: first.getRawInput, ctx: call.ctx, type: 'mutation', signal: info.signal, batchIndex: 0 }),
      };
    } catch (cause) {
      // Refused before the stream (input, csrf, auth, quota...): the call's promise holds `{ error }`.
      const error = getTRPCErrorFromUnknown(cause);
      options.onError({ error, path: first.path, input: first.result(), ctx: call.ctx, type: 'mutation', req });
      res.end(head + line([CALL_CHUNK, FULFILLED, encode({ error: errorShape(call, error) })]));
      return undefined;
    }
  }

  /** One write per event; the head and the prelude go out with the first. Ends with the return, or the error, as tRPC encodes them. */
  async function relayEvents(call: Call, events: AsyncIterable<unknown>) {
    const { req, res, info } = call;
    const iterator = events[Symbol.asyncIterator]();
    let pending = headPrelude;
    let finished = false;
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await iterator.next();
        } catch (cause) {
          // A stream that fails mid-way (the generator is over): tRPC reports it without a path and formats it with the call's.
          finished = true;
          const error = getTRPCErrorFromUnknown(cause);
          options.onError({ error, path: undefined, input: undefined, ctx: call.ctx, type: 'mutation', req });
          res.end(pending + line([EVENTS_CHUNK, THROW, errorShape(call, error)]));
          return;
        }
        if (next.done) {
          finished = true;
          res.end(pending + line([EVENTS_CHUNK, RETURN, encode(next.value)]));
          return;
        }
        if (info.signal.aborted) return;
        const writable = res.write(pending + line([EVENTS_CHUNK, YIELD, encode(next.value)]));
        pending = '';
        if (!writable && !res.destroyed) await drained(res);
      }
    } finally {
      // The client left mid-stream: end the procedure's iterator, as tRPC does, so its `finally` settles the reply.
      if (!finished) await iterator.return?.();
    }
  }

  async function serve(call: Call, early: TRPCError | null) {
    const outcome = await runProcedure(call, early);
    if (!outcome) return;
    if (isAsyncIterable(outcome.data)) await relayEvents(call, outcome.data);
    else call.res.end(headResult + line([DATA_CHUNK, FULFILLED, encode(outcome.data)]));
  }

  /** As tRPC's adapter when serving throws after the head (a formatter or serializer bug): report it and end, the head sent. */
  function failed(call: Call, cause: unknown) {
    options.onError({ error: getTRPCErrorFromUnknown(cause), path: undefined, input: undefined, ctx: undefined, type: 'unknown', req: call.req });
    if (call.res.headersSent) call.res.end();
    else {
      setHeaders(call.res);
      call.res.end(head);
    }
  }

  /** Serves a call to a streaming procedure: its body read, then the procedure run and its events relayed. */
  const start = (req: Request, res: Response, path: string, procedure: AnyProcedure) => {
    // Listening from the start: a client that leaves while the body or the session is read is seen too.
    const signal = disconnectSignal(res);
    options.middleware(req, res, (error?: unknown) => {
      const first = firstCall(path, procedure, req.body, config.transformer.input.deserialize);
      const info: Call['info'] = {
        isBatchCall: true,
        accept: 'application/jsonl',
        calls: [first],
        type: 'mutation',
        connectionParams: null,
        signal,
        url: null,
      };
      const call: Call = { req, res, procedure, info };
      serve(call, error ? getTRPCErrorFromUnknown(error) : null).catch((cause: unknown) => failed(call, cause));
    });
  };
  const handler: RequestHandler = (req, res, next) => {
    const path = req.path.slice(1);
    const procedure = procedures.get(path);
    if (!procedure || !isStreamBatch(req)) return next();
    start(req, res, path, procedure);
  };
  /** For a request that `accepts` took (its url now inside the mount): served without express's path and query parses. */
  const serveAccepted = (req: Request, res: Response): boolean => {
    const url = req.url;
    const mark = url.indexOf('?');
    const path = url.slice(1, mark < 0 ? undefined : mark);
    const procedure = procedures.get(path);
    if (!procedure) return false;
    start(req, res, path, procedure);
    return true;
  };
  /** What `handler` checks through express's req.path and req.query, read from the raw request. */
  const accepts = (req: IncomingMessage, mountPath: string): boolean => {
    const url = req.url ?? '';
    if (!url.startsWith(`${mountPath}/`) || !isJsonlPost(req)) return false;
    const mark = url.indexOf('?');
    if (mark < 0 || !procedures.has(url.slice(mountPath.length + 1, mark))) return false;
    const query = url.slice(mark + 1);
    // What the client sends, without a parse; anything else as express's default ("simple") query parser, node:querystring's, reads it.
    return query === 'batch=1' || parseQuery(query).batch === '1';
  };
  return Object.assign(handler, { accepts, serveAccepted });
}
