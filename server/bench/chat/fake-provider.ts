// A lean Chat Completions server for bench:chat, run as its own process so that
// its CPU is not counted against the server under test. It speaks the same
// streaming protocol as OpenAI (SSE chunks, a finish chunk, the usage chunk when
// `stream_options.include_usage`, then `data: [DONE]`) with a fixed latency
// before the first byte. The test suite's richer fake (test/fakes/openai-server.ts)
// records every request and counts tokens per request; here the reply and its
// usage are fixed, so the provider costs as little as possible.
//
// Prints `{"port":N}` on stdout when listening. POST /control {"latencyMs":N}
// changes the latency between benchmark phases.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

const REPLY_CHUNKS = ['A short ', 'benchmark answer ', 'with a ', 'few ', 'words.'];
const USAGE = { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 } };
let latencyMs = Number(process.env.BENCH_PROVIDER_LATENCY_MS ?? 0);
let served = 0;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const server = createServer((req, res) => {
  void readBody(req).then((raw) => {
    if (req.method === 'POST' && req.url === '/control') {
      const body = JSON.parse(raw || '{}') as { latencyMs?: number };
      if (typeof body.latencyMs === 'number') latencyMs = body.latencyMs;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ latencyMs, served }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Unknown route ${req.method} ${req.url}`, type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    let body: { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Invalid JSON body.', type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    const n = ++served;
    const model = body.model ?? 'gpt-4o-mini';
    const includeUsage = body.stream_options?.include_usage === true;
    const head = `{"id":"chatcmpl-bench${n}","object":"chat.completion.chunk","created":${Math.floor(Date.now() / 1000)},"model":${JSON.stringify(model)},"system_fingerprint":"fp_bench","choices":`;
    const tail = includeUsage ? ',"usage":null}' : '}';
    const choice = (delta: unknown, finish: string | null) =>
      `[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finish ? `"${finish}"` : 'null'}}]`;
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_bench_${n}` });
      res.write(`data: ${head}${choice({ role: 'assistant', content: '', refusal: null }, null)}${tail}\n\n`);
      for (const piece of REPLY_CHUNKS) res.write(`data: ${head}${choice({ content: piece }, null)}${tail}\n\n`);
      res.write(`data: ${head}${choice({}, 'stop')}${tail}\n\n`);
      if (includeUsage) res.write(`data: ${head}[],"usage":${JSON.stringify(USAGE)}}\n\n`);
      res.end('data: [DONE]\n\n');
    };
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
