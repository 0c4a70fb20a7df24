// GET /metrics: Prometheus text format, counting chats, tokens, cost, refusals and HTTP latency.
// In production it is off without METRICS_TOKEN (403, and a warning at start) unless METRICS_PUBLIC=1.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(
    { METRICS_TOKEN: 'scrape-me' },
    { limits: { chat: { points: 10_000, duration: 60 }, chatIp: { points: 10_000, duration: 60 } } },
  );
});
afterAll(async () => {
  await server?.close();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer scrape-me' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

/** The value of one sample, e.g. value(text, 'chatmeter_chat_requests_total{outcome="ok"}'). */
function value(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

describe('GET /metrics', () => {
  it('needs the token when METRICS_TOKEN is set', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('answers in the Prometheus text format and counts a chat', async () => {
    const before = await scrape();
    expect(before).toMatch(/^# HELP chatmeter_chat_requests_total /m);
    expect(before).toMatch(/^# TYPE chatmeter_http_request_duration_seconds histogram$/m);
    expect(before).toMatch(/^# TYPE chatmeter_tts_queue_depth gauge$/m);
    expect(before).toMatch(/^chatmeter_tts_worker_up 0$/m); // no worker in this test

    const b = server.browser({ ip: '10.90.0.1' });
    await b.trpc.auth.signUp.mutate({ email: `metrics-${Date.now()}@example.com`, password: 'correct horse battery' });
    const result = await send(b, { content: 'count me' });
    const usage = result.done!.usage;
    // A refusal: a model the plan does not have.
    expect(await trpcError(send(b, { content: 'no', model: 'gpt-4.1' }))).toMatchObject({ reason: 'model_not_in_plan' });

    const after = await scrape();
    const diff = (sample: string) => value(after, sample) - value(before, sample);
    expect(diff('chatmeter_chat_requests_total{outcome="ok"}')).toBe(1);
    expect(diff('chatmeter_chat_requests_total{outcome="refused"}')).toBe(1);
    expect(diff('chatmeter_chat_tokens_total{model="demo",type="prompt"}')).toBe(usage.promptTokens);
    expect(diff('chatmeter_chat_tokens_total{model="demo",type="completion"}')).toBe(usage.completionTokens);
    expect(diff('chatmeter_chat_cost_usd_total{model="demo"}')).toBeCloseTo(usage.costMicroUsd / 1e6, 9);
    expect(diff('chatmeter_refusals_total{reason="model_not_in_plan",procedure="chat.send"}')).toBe(1);
    // Both chat.send requests, the refused one included: a streamed batch answers 200 and carries the error inside.
    expect(diff('chatmeter_http_request_duration_seconds_count{method="POST",route="/trpc/chat.send",status_code="200"}')).toBe(2);
    expect(after).toMatch(/^chatmeter_process_cpu_seconds_total /m);
  });

  it('keeps unknown paths out of the labels', async () => {
    await fetch(`${server.url}/trpc/no.such.${Date.now()}`);
    const text = await scrape();
    expect(text).toContain('route="/trpc (unknown)"');
    expect(text).not.toContain('no.such');
  });
});

/** A logger that keeps what it writes, to read the start-up warnings. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

describe('GET /metrics in production', () => {
  const production = { NODE_ENV: 'production', APP_ORIGIN: 'https://chat.example.test' };

  it('is off without METRICS_TOKEN: 403 in plain text, no figures, and a warning at start', async () => {
    const { logger, warnings } = capturingLogger();
    const prod = await startTestServer(production, { logger });
    try {
      const res = await fetch(`${prod.url}/metrics`);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const body = await res.text();
      expect(body).toMatch(/^GET \/metrics is off: in production it needs METRICS_TOKEN/);
      expect(body).not.toContain('chatmeter_');
      // A bearer header changes nothing when no token is configured.
      expect((await fetch(`${prod.url}/metrics`, { headers: { authorization: 'Bearer ' } })).status).toBe(403);
      expect(warnings().filter((w) => w.includes('/metrics is off'))).toHaveLength(1);
    } finally {
      await prod.close();
    }
  });

  it('METRICS_PUBLIC=1 serves it without a token; METRICS_TOKEN serves it to the bearer only; neither warns', async () => {
    for (const [env, header] of [
      [{ METRICS_PUBLIC: '1' }, undefined],
      [{ METRICS_TOKEN: 'prod-scrape' }, 'Bearer prod-scrape'],
    ] as const) {
      const { logger, warnings } = capturingLogger();
      const prod = await startTestServer({ ...production, ...env }, { logger });
      try {
        if (header) expect((await fetch(`${prod.url}/metrics`)).status).toBe(401);
        const res = await fetch(`${prod.url}/metrics`, { headers: header ? { authorization: header } : {} });
        expect(res.status, JSON.stringify(env)).toBe(200);
        expect(await res.text()).toMatch(/^# HELP chatmeter_/m);
        expect(warnings().filter((w) => w.includes('/metrics'))).toEqual([]);
      } finally {
        await prod.close();
      }
    }
  });

  it('outside production it stays open without a token (a developer machine)', async () => {
    const dev = await startTestServer({ NODE_ENV: 'development' });
    try {
      expect((await fetch(`${dev.url}/metrics`)).status).toBe(200);
    } finally {
      await dev.close();
    }
  });
});
