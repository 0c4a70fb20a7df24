// The tRPC body reader over a real socket: the plain read (JSON with a Content-Length,
// what our clients send, read without body-parser) and body-parser for the rest must
// give the same text, and a body cut short must be an error the caller can answer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrpcBody } from './body.ts';

let server: http.Server;
let port: number;
type Outcome = { body?: unknown; error?: { code: string; message: string } };
/** Resolved with what the next request's reader gives: its body, or the error passed on. */
let report: (outcome: Outcome) => void = () => {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const resolve = report;
    const read = readTrpcBody((request: Request, response: Response) => {
      resolve({ body: request.body as unknown });
      response.end('ok');
    });
    read(req as Request, res as unknown as Response, (error?: unknown) => {
      const e = error as { code: string; message: string };
      resolve({ error: { code: e.code, message: e.message } });
      res.statusCode = 400;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends the head and then each part of the body as its own write, a few ms apart. */
async function sendRaw(headers: Record<string, string>, parts: Buffer[], options: { cutShort?: boolean } = {}) {
  const outcome = new Promise<Outcome>((resolve) => {
    report = resolve;
  });
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`POST /trpc/x HTTP/1.1\r\nhost: 127.0.0.1\r\n${head}\r\n`);
  for (const part of parts) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    socket.write(part);
  }
  if (options.cutShort) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.destroy();
  }
  const result = await outcome;
  socket.destroy();
  return result;
}

describe('the tRPC body reader', () => {
  it('reads a JSON body sent in pieces, a character split between two of them included, as UTF-8 text', async () => {
    const text = '{"json":{"text":"café, 日本語, 🙂"}}';
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(Buffer.from('日')) + 1; // inside the character's three bytes
    const result = await sendRaw({ 'content-type': 'application/json', 'content-length': String(bytes.length) }, [bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect(result).toEqual({ body: text });
  });

  it('drops a byte order mark, as body-parser does, and reads an empty body as empty text', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"json":1}')]);
    expect(await sendRaw({ 'content-type': 'application/json', 'content-length': String(bytes.length) }, [bytes])).toEqual({ body: '{"json":1}' });
    expect(await sendRaw({ 'content-type': 'application/json', 'content-length': '0' }, [])).toEqual({ body: '' });
    // body-parser's path gives the same.
    expect(await sendRaw({ 'content-type': 'application/json; charset=utf-8', 'content-length': String(bytes.length) }, [bytes])).toEqual({
      body: '{"json":1}',
    });
  });

  it('leaves the rest to body-parser: a compressed body, a charset, a body over the limit', async () => {
    const gzipped = gzipSync(Buffer.from('{"json":"zipped"}'));
    expect(await sendRaw({ 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(gzipped.length) }, [gzipped])).toEqual({
      body: '{"json":"zipped"}',
    });
    const latin1 = Buffer.from('{"json":"caf\u00e9"}', 'latin1');
    expect(await sendRaw({ 'content-type': 'application/json; charset=iso-8859-1', 'content-length': String(latin1.length) }, [latin1])).toEqual({
      body: '{"json":"café"}',
    });
    const huge = Buffer.alloc(300 * 1024, 'a');
    expect(await sendRaw({ 'content-type': 'application/json', 'content-length': String(huge.length) }, [huge])).toEqual({
      error: { code: 'BAD_REQUEST', message: 'The request body is too large (at most 256 kB).' },
    });
  });

  it('a body cut short (the client left) is a BAD_REQUEST, not a hang or a crash', async () => {
    const result = await sendRaw({ 'content-type': 'application/json', 'content-length': '100' }, [Buffer.from('{"json":')], { cutShort: true });
    expect(result).toEqual({ error: { code: 'BAD_REQUEST', message: 'The request body could not be read.' } });
  });
});
