// Per-network limits over HTTP: the server sees chosen client addresses through
// X-Forwarded-For (the test server trusts loopback as its proxy). An IPv6 client
// is one network per /64 (one subscriber's allocation: changing the low 64 bits
// costs nothing), an IPv4-mapped address is its IPv4 address, and new accounts
// are limited per network and day on top of the hourly sign-up limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

const PASSWORD = 'correct horse battery staple';
let counter = 0;
const freshEmail = () => `net${++counter}-${Date.now()}@example.com`;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('an IPv6 client is its /64', () => {
  it('guests from different addresses of one /64 share the guest limit; another /64 does not', async () => {
    // The guest limit is 10 an hour per network: ten addresses of 2001:db8:a:b::/64 use it up...
    for (let i = 1; i <= 10; i++) {
      const { user } = await server.browser({ ip: `2001:db8:a:b::${i.toString(16)}` }).trpc.auth.guest.mutate();
      expect(user.isGuest).toBe(true);
    }
    // ...so an eleventh address of the same /64, written differently, is refused.
    for (const ip of ['2001:db8:a:b:ffff:ffff:ffff:ffff', '2001:0DB8:000A:000B:1234:5678:9abc:def0']) {
      expect(await trpcError(server.browser({ ip }).trpc.auth.guest.mutate())).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    }
    // The neighbouring /64 is someone else.
    const { user } = await server.browser({ ip: '2001:db8:a:c::1' }).trpc.auth.guest.mutate();
    expect(user.isGuest).toBe(true);
  });

  it('an IPv4-mapped IPv6 address is the IPv4 address', async () => {
    for (let i = 0; i < 10; i++) await server.browser({ ip: '::ffff:198.51.100.7' }).trpc.auth.guest.mutate();
    expect(await trpcError(server.browser({ ip: '198.51.100.7' }).trpc.auth.guest.mutate())).toMatchObject({ reason: 'rate_limited' });
    // One IPv4 address is not a /64 of anything: its neighbour is another client.
    await server.browser({ ip: '198.51.100.8' }).trpc.auth.guest.mutate();
  });

  it("guests of one /64 share the guests' daily messages in chat", async () => {
    const guestDay = server.deps.plans.find((p) => p.id === 'guest')!.limits.messagesPerDay;
    const first = server.browser({ ip: '2001:db8:5:6::a' });
    for (let i = 0; i < guestDay; i++) expect((await send(first, { content: `hello ${i}` })).done?.status).toBe('ok');
    // A second guest, from another address of the same /64, gets nothing more today.
    const second = server.browser({ ip: '2001:db8:5:6:aaaa::b' });
    const refused = await trpcError(send(second, { content: 'hello' }));
    expect(refused).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'quota_exhausted' });
    expect(refused.message).toContain('Guests on your network');
    // Another /64 still chats.
    expect((await send(server.browser({ ip: '2001:db8:5:7::a' }), { content: 'hello' })).done?.status).toBe('ok');
  });

  it('failed sign-ins from one /64 are counted together', async () => {
    // 30 failures a quarter-hour per network, each from another address of the /64.
    for (let i = 1; i <= 30; i++) {
      const err = await trpcError(
        server.browser({ ip: `2001:db8:7:8:${i.toString(16)}::1` }).trpc.auth.signIn.mutate({ email: freshEmail(), password: 'not the password' }),
      );
      expect(err.reason).toBe('unauthenticated');
    }
    const locked = await trpcError(
      server.browser({ ip: '2001:db8:7:8:ffff::1' }).trpc.auth.signIn.mutate({ email: freshEmail(), password: 'not the password' }),
    );
    expect(locked).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    const other = await trpcError(server.browser({ ip: '2001:db8:7:9::1' }).trpc.auth.signIn.mutate({ email: freshEmail(), password: 'not the password' }));
    expect(other.reason).toBe('unauthenticated');
  });

  it('sign-in link requests from one /64 are counted together', async () => {
    for (let i = 1; i <= 20; i++) await server.browser({ ip: `2001:db8:9:a::${i.toString(16)}` }).trpc.auth.requestMagicLink.mutate({ email: freshEmail() });
    const err = await trpcError(server.browser({ ip: '2001:db8:9:a:1::1' }).trpc.auth.requestMagicLink.mutate({ email: freshEmail() }));
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    await server.browser({ ip: '2001:db8:9:b::1' }).trpc.auth.requestMagicLink.mutate({ email: freshEmail() });
  });
});

describe('new accounts per network and day (SIGNUPS_PER_IP_PER_DAY)', () => {
  let daily: TestServer;
  beforeAll(async () => {
    daily = await startTestServer({ SIGNUPS_PER_IP_PER_DAY: '3' });
  });
  afterAll(async () => {
    await daily?.close();
  });

  it('allows 3 accounts a day from one network (an IPv6 /64 included), then refuses for about a day', async () => {
    for (const ip of ['2001:db8:cafe:1::1', '2001:db8:cafe:1::2', '2001:db8:cafe:1:ffff::3']) {
      await daily.browser({ ip }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD });
    }
    const refused = await trpcError(daily.browser({ ip: '2001:db8:cafe:1::4' }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD }));
    expect(refused).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    // The hourly limit (20) is far away: this is the daily one.
    expect(refused.data.retryAfterSeconds).toBeGreaterThan(23 * 3600);
    expect(refused.message).toMatch(/today/);
    // A guest converting into an account is a new account too.
    const guest = daily.browser({ ip: '2001:db8:cafe:1::5' });
    await guest.trpc.auth.guest.mutate();
    expect(await trpcError(guest.trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD }))).toMatchObject({ reason: 'rate_limited' });
    // Another network is not affected.
    await daily.browser({ ip: '2001:db8:cafe:2::1' }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD });
  });

  it('a parallel burst from one network creates no more than the daily number of accounts', async () => {
    const ip = '192.0.2.44';
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => daily.browser({ ip }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as { data?: { reason?: string } }).data?.reason).toBe('rate_limited');
    }
  });

  it('only accounts made count: refused attempts (e-mail taken) leave the day alone', async () => {
    const taken = freshEmail();
    await daily.browser({ ip: '192.0.2.60' }).trpc.auth.signUp.mutate({ email: taken, password: PASSWORD });
    const ip = '192.0.2.61';
    for (let i = 0; i < 5; i++) {
      expect(await trpcError(daily.browser({ ip }).trpc.auth.signUp.mutate({ email: taken, password: PASSWORD }))).toMatchObject({ reason: 'conflict' });
    }
    for (let i = 0; i < 3; i++) await daily.browser({ ip }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD });
    expect(await trpcError(daily.browser({ ip }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD }))).toMatchObject({
      reason: 'rate_limited',
    });
  });
});
