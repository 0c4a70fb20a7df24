// The gaps a review found around sign-in links, each closed and checked here:
// - a link that makes a new account counts toward the network's accounts of the day
//   (SIGNUPS_PER_IP_PER_DAY), like a sign-up, and a refused link stays usable;
// - one network cannot use up the links an address may be sent in an hour (per
//   e-mail-and-network limit under a wider per-e-mail ceiling);
// - a password sign-in that was being verified while the mailbox's owner claimed the
//   account (password cleared, sessions ended) does not end with a session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from './session.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

const PASSWORD = 'correct horse battery staple';
let counter = 0;
const freshEmail = (who = 'gap') => `${who}${++counter}-${Date.now()}@example.com`;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SIGNUPS_PER_IP_PER_DAY: '2' });
});
afterAll(async () => {
  await server?.close();
});

async function requestLink(b: TestBrowser, email: string): Promise<string> {
  await b.trpc.auth.requestMagicLink.mutate({ email });
  const mail = await server.deps.prisma.emailOutbox.findFirstOrThrow({ where: { to: email }, orderBy: { id: 'desc' } });
  return decodeURIComponent(/magic-link\?token=([\w%-]+)/.exec(mail.body)![1]!);
}

describe('accounts made through a sign-in link', () => {
  it("count toward the network's new accounts of the day; a refused link stays usable elsewhere", async () => {
    const ip = '10.91.0.1';
    const emails = [freshEmail(), freshEmail(), freshEmail()];
    const tokens: string[] = [];
    for (const email of emails) tokens.push(await requestLink(server.browser({ ip: '10.91.9.9' }), email));
    // Two new accounts from one network today...
    for (const token of tokens.slice(0, 2)) {
      const { user } = await server.browser({ ip }).trpc.auth.verifyMagicLink.mutate({ token });
      expect(user.isGuest).toBe(false);
    }
    // ...and the third is refused with the daily limit, without spending the link.
    const refused = await trpcError(server.browser({ ip }).trpc.auth.verifyMagicLink.mutate({ token: tokens[2]! }));
    expect(refused).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    expect(await server.deps.prisma.user.count({ where: { email: emails[2]! } })).toBe(0);
    // The same link works from another network.
    const { user } = await server.browser({ ip: '10.91.0.2' }).trpc.auth.verifyMagicLink.mutate({ token: tokens[2]! });
    expect(user.email).toBe(emails[2]);
  });

  it('signing in to an existing account with a link is not a new account and takes nothing from the day', async () => {
    const ip = '10.91.1.1';
    const owner = freshEmail('owner');
    await server.browser({ ip: '10.91.1.200' }).trpc.auth.signUp.mutate({ email: owner, password: PASSWORD });
    for (let i = 0; i < 3; i++) {
      const token = await requestLink(server.browser({ ip: `10.91.1.${10 + i}` }), owner);
      await server.browser({ ip }).trpc.auth.verifyMagicLink.mutate({ token });
    }
    // The network still has both of its new accounts for the day.
    for (let i = 0; i < 2; i++) await server.browser({ ip }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD });
    expect(await trpcError(server.browser({ ip }).trpc.auth.signUp.mutate({ email: freshEmail(), password: PASSWORD }))).toMatchObject({
      reason: 'rate_limited',
    });
  });
});

describe('links an address may be sent', () => {
  it('one network gets 3 an hour for an address; other networks still get theirs, up to the ceiling of 10', async () => {
    const email = freshEmail('victim');
    const attacker = '10.92.0.1';
    for (let i = 0; i < 3; i++) await server.browser({ ip: attacker }).trpc.auth.requestMagicLink.mutate({ email });
    expect(await trpcError(server.browser({ ip: attacker }).trpc.auth.requestMagicLink.mutate({ email }))).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      reason: 'rate_limited',
    });
    // The owner, on another network, still gets a link.
    await server.browser({ ip: '10.92.5.5' }).trpc.auth.requestMagicLink.mutate({ email });
    expect(await server.deps.prisma.emailOutbox.count({ where: { to: email } })).toBe(4);
    // Many networks together are bounded by the address's ceiling (mail to one address stays bounded).
    for (let i = 0; i < 6; i++) await server.browser({ ip: `10.92.6.${i}` }).trpc.auth.requestMagicLink.mutate({ email });
    expect(await trpcError(server.browser({ ip: '10.92.7.1' }).trpc.auth.requestMagicLink.mutate({ email }))).toMatchObject({ reason: 'rate_limited' });
    expect(await server.deps.prisma.emailOutbox.count({ where: { to: email } })).toBe(10);
  });
});

describe("a password sign-in racing the mailbox owner's claim", () => {
  for (const when of ["before the sign-in's session exists", "right after the sign-in's session exists"] as const) {
    it(`ends with no session when the claim lands ${when}`, async () => {
      const email = freshEmail('squat');
      // Someone registered the address with a password of their own (never verified).
      await server.browser({ ip: '10.93.0.1' }).trpc.auth.signUp.mutate({ email, password: PASSWORD });
      const userId = (await server.deps.prisma.user.findUniqueOrThrow({ where: { email } })).id;
      await server.deps.prisma.session.deleteMany({ where: { userId } });
      const token = await requestLink(server.browser({ ip: '10.93.0.2' }), email);
      const owner = server.browser({ ip: '10.93.0.3' });
      // The squatter's sign-in has verified the password; the owner's link is opened now.
      const sessions = server.deps.sessions;
      const create = sessions.create.bind(sessions);
      let claiming = false;
      let claimed = false;
      const claim = async () => {
        claiming = true;
        await owner.trpc.auth.verifyMagicLink.mutate({ token });
        claimed = true;
      };
      sessions.create = async (...args: Parameters<typeof create>) => {
        // The owner's own sign-in (inside the claim) goes straight through.
        if (args[0] !== userId || claiming) return create(...args);
        if (when === "before the sign-in's session exists") {
          await claim();
          return create(...args);
        }
        const made = await create(...args);
        await claim();
        return made;
      };
      try {
        const squatter = server.browser({ ip: '10.93.0.4' });
        expect(await trpcError(squatter.trpc.auth.signIn.mutate({ email, password: PASSWORD }))).toMatchObject({
          code: 'UNAUTHORIZED',
          reason: 'unauthenticated',
        });
        expect(squatter.cookies.get(SESSION_COOKIE)?.value ?? '').toBe('');
      } finally {
        sessions.create = create;
      }
      expect(claimed).toBe(true);
      // Only the owner's session is left.
      const left = await server.deps.prisma.session.findMany({ where: { userId } });
      expect(left).toHaveLength(1);
      expect(await owner.trpc.auth.me.query()).toMatchObject({ email, emailVerified: true });
    });
  }
});
