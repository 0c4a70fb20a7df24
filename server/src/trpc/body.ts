// How a tRPC request's input is read, so that no body can make the server
// answer 5xx. express reads the body once, as text, at most MAX_BODY_BYTES, and
// hands tRPC the string: tRPC parses it with JSON.parse (which takes any depth)
// and never serializes it again. (With express.json in front, tRPC turned the
// parsed object back into text with JSON.stringify, which overflowed the stack
// on a body nested a few thousand levels deep: a 500.) The transformer below
// then refuses input nested deeper than MAX_INPUT_DEPTH before superjson, which
// walks it recursively, sees it. Every failure is BAD_REQUEST invalid_input.
import { TRPCError } from '@trpc/server';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import superjson from 'superjson';
import { nestedDeeperThan } from '../lib/json-depth.ts';

export const MAX_BODY_BYTES = 256 * 1024;
/** Far deeper than any procedure's input (a few levels) and far shallower than a stack. */
export const MAX_INPUT_DEPTH = 32;

const BODY_ERRORS: Record<string, string> = {
  'charset.unsupported': 'The request body must be UTF-8 text.',
  'encoding.unsupported': 'The request body has a Content-Encoding this server does not read (use gzip, deflate or none).',
};

const readText = express.text({ type: () => true, limit: MAX_BODY_BYTES });

/** The body readers' (body-parser's) errors carry a `type`; a human sentence for each. */
export function bodyErrorMessage(error: unknown, limitBytes = MAX_BODY_BYTES): string {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return `The request body is too large (at most ${Math.round(limitBytes / 1024)} kB).`;
  return (typeof type === 'string' && BODY_ERRORS[type]) || 'The request body could not be read.';
}

/** A body reader's refusal of what the client sent (its 4xx errors; a 5xx one is ours). */
export function isBodyError(error: unknown): boolean {
  const e = error as { type?: unknown; status?: unknown } | null;
  return typeof e?.type === 'string' && typeof e.status === 'number' && e.status >= 400 && e.status < 500;
}

/** An error as body-parser's reader (raw-body) gives it: a 4xx `status` and a `type`. */
function readError(message: string, type: string): Error {
  return Object.assign(new Error(message), { status: 400, statusCode: 400, expose: true, type });
}

/**
 * The request every client of ours sends, read without body-parser: a Content-Length
 * within the limit, no Content-Encoding, JSON (UTF-8) or no Content-Type. body-parser's
 * checks, raw-body and iconv-lite cost a streamed chat about 3 % of the server's CPU
 * (issue 17, docs/performance.md); every other request goes to them, errors included.
 * False when it leaves the request to body-parser.
 */
function readPlainText(req: Request, done: (error?: unknown) => void): boolean {
  const { headers } = req;
  const length = headers['content-length'];
  if (length === undefined || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return false;
  const type = headers['content-type'];
  if (type !== undefined && type !== 'application/json') return false;
  if (!/^\d{1,9}$/.test(length)) return false;
  const expected = Number(length);
  if (expected > MAX_BODY_BYTES || req.readableEnded || req.destroyed) return false;
  const chunks: Buffer[] = [];
  let finished = false;
  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    req.off('error', finish);
    if (error) return done(error);
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (bytes.length !== expected) return done(readError('request size did not match content length', 'request.size.invalid'));
    const text = bytes.toString('utf8');
    // As iconv-lite's UTF-8 decoder, which body-parser uses: without a byte order mark.
    req.body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    done();
  };
  const onData = (chunk: Buffer) => chunks.push(chunk);
  const onEnd = () => finish();
  // Closed before its end: the client left.
  const onClose = () => finish(readError('request aborted', 'request.aborted'));
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('close', onClose);
  req.once('error', finish);
  return true;
}

/**
 * tRPC's own `middleware` hook: reads the body into req.body as a string, then
 * runs `next` (the guest bootstrap). A body that cannot be read becomes a
 * BAD_REQUEST for every call of the request, in tRPC's own error shape.
 */
export function readTrpcBody(then: RequestHandler) {
  return (req: Request, res: Response, next: NextFunction) => {
    const read = (error?: unknown) => {
      if (error) return next(new TRPCError({ code: 'BAD_REQUEST', message: bodyErrorMessage(error), cause: error instanceof Error ? error : undefined }));
      void then(req, res, next);
    };
    if (!readPlainText(req, read)) readText(req, res, read);
  };
}

/** superjson, with the input side checked for depth first and its own failures reported as bad input. */
export const transformer = {
  input: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: (value: unknown) => {
      if (nestedDeeperThan(value, MAX_INPUT_DEPTH)) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: `The input is nested too deeply (at most ${MAX_INPUT_DEPTH} levels).` });
      }
      try {
        return superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0]);
      } catch (cause) {
        // A `meta` that does not fit its `json` (wrong types, made-up paths).
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'The input could not be read (its superjson "meta" does not match its "json").', cause });
      }
    },
  },
  output: superjson,
};
