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

/**
 * tRPC's own `middleware` hook: reads the body into req.body as a string, then
 * runs `next` (the guest bootstrap). A body that cannot be read becomes a
 * BAD_REQUEST for every call of the request, in tRPC's own error shape.
 */
export function readTrpcBody(then: RequestHandler) {
  return (req: Request, res: Response, next: NextFunction) => {
    readText(req, res, (error?: unknown) => {
      if (error) return next(new TRPCError({ code: 'BAD_REQUEST', message: bodyErrorMessage(error), cause: error instanceof Error ? error : undefined }));
      void then(req, res, next);
    });
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
