// Malformed input never produces a 500: every auth and plans procedure is fed
// generated JSON (wrong types, huge strings, nested junk) over real HTTP.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(
    {},
    {
      limits: {
        chat: { points: 1e6, duration: 60 },
        chatIp: { points: 1e6, duration: 60 },
        signInIp: { points: 1e6, duration: 60 },
        signInEmail: { points: 1e6, duration: 60 },
        magicLinkIp: { points: 1e6, duration: 60 },
        magicLinkEmail: { points: 1e6, duration: 60 },
        magicLinkEmailNetwork: { points: 1e6, duration: 60 },
        signUpIp: { points: 1e6, duration: 60 },
        guestIp: { points: 1e6, duration: 60 },
      },
    },
  );
});
afterAll(async () => {
  await server?.close();
});

const mutations = [
  'auth.signUp',
  'auth.signIn',
  'auth.requestMagicLink',
  'auth.verifyMagicLink',
  'auth.signOut',
  'auth.signOutEverywhere',
  'auth.guest',
  'chat.send',
  'chat.deleteConversation',
];
const queries = [
  'auth.me',
  'auth.sessions',
  'auth.captchaChallenge',
  'auth.magicLinkInfo',
  'plans.list',
  'chat.models',
  'chat.conversations',
  'chat.messages',
  'usage.summary',
  'usage.history',
];

const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({
    email: fc.oneof(fc.string(), fc.emailAddress(), fc.integer(), fc.constant(null)),
    password: fc.oneof(fc.string({ maxLength: 400 }), fc.integer(), fc.array(fc.string())),
  }),
  fc.record({ token: fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 100 }), fc.constant(undefined)) }),
  fc.record(
    {
      content: fc.oneof(fc.string({ maxLength: 50 }), fc.integer(), fc.constant(''), fc.constant(null)),
      conversationId: fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }), fc.constant(undefined)),
      model: fc.oneof(fc.constantFrom('demo', 'gpt-4o', '', 'x'.repeat(300)), fc.constant(undefined)),
      cursor: fc.oneof(fc.base64String({ maxLength: 60 }), fc.string({ maxLength: 60 }), fc.constant(undefined)),
      limit: fc.oneof(fc.integer({ min: -5, max: 500 }), fc.double(), fc.constant(undefined)),
    },
    { requiredKeys: [] },
  ),
);

describe('malformed input', () => {
  it('mutations answer 2xx or 4xx with a contract reason, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...mutations), junk, fc.boolean(), async (path, input, wrapped) => {
        const body = wrapped ? JSON.stringify({ json: input }) : JSON.stringify(input);
        const res = await fetch(`${server.url}/trpc/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body });
        expect(res.status, `${path} ${body}`).toBeLessThan(500);
        if (res.status >= 400) {
          const json = (await res.json()) as { error: { json?: { data: { reason: string } } } };
          expect(json.error.json?.data.reason ?? 'invalid_input').toMatch(/^[a-z_]+$/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('queries with generated JSON input, as a guest, answer below 500 with a contract reason', async () => {
    const guest = server.browser({ ip: '10.200.0.1' });
    await guest.trpc.auth.guest.mutate();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...queries), junk, async (path, input) => {
        const res = await guest.fetch(`/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
        expect(res.status, `${path} ${JSON.stringify(input)}`).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });

  it('queries with junk in the input parameter answer below 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...queries), fc.string({ maxLength: 300 }), async (path, raw) => {
        const res = await fetch(`${server.url}/trpc/${path}?input=${encodeURIComponent(raw)}`);
        expect(res.status, `${path} ${raw}`).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it('unknown procedures, wrong methods and broken bodies are 4xx', async () => {
    const cases: [string, RequestInit][] = [
      ['/trpc/nope.nothing', {}],
      ['/trpc/auth.signUp', {}],
      ['/trpc/auth.me', { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body: '{}' }],
      ['/trpc/auth.signUp', { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body: '{not json' }],
      ['/trpc/auth.signUp', { method: 'POST', headers: { 'content-type': 'text/plain', origin: server.url }, body: 'hello' }],
      [
        '/trpc/auth.signUp',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: server.url },
          body: JSON.stringify({ json: { email: 'a@b.co', password: 'x'.repeat(300_000) } }),
        },
      ],
      ['/no/such/route', { headers: { accept: 'application/json' } }],
    ];
    for (const [path, init] of cases) {
      const res = await fetch(`${server.url}${path}`, init);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });
});
