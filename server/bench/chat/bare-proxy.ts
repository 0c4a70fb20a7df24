// The floor for any Node gateway, for bench:chat: a bare node:http pass-through
// proxy in its own process. Each request is piped to the fake provider over a
// keep-alive agent and the provider's response is piped back untouched: no
// parsing, no authentication, no metering, no logging. Whatever ChatMeter spends
// per metered chat above this process's CPU per request is the price of the
// metering and of the framework around it.
//
// BENCH_PROXY_TARGET is the provider's origin (http://127.0.0.1:N). Prints
// `{"port":N}` on stdout when listening.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const target = new URL(process.env.BENCH_PROXY_TARGET ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

const server = createServer((req, res) => {
  const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
