// The streamed chats read their session from the instance's cache once it has been read
// (issue 17: one query less per message), and their reservation checks it in the database.
// What another instance did meanwhile is never missed: a session ended there is refused, a
// plan lowered there applies its lower limits, a plan raised there its higher ones, a block
// refuses; a refusal writes nothing.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { COUNTER, userSubject } from '../metering/counters.ts';
import { dayStart } from '../metering/periods.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { SESSION_COOKIE } from './session.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

let n = 0;
async function account(planId = 'free'): Promise<{ b: TestBrowser; id: string }> {
  const b = server.browser({ ip: `10.64.0.${++n}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `cache${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  if (planId !== 'free') await server.deps.prisma.user.update({ where: { id: user.id }, data: { planId } });
  // The first message reads the session from the database and caches it.
  await send(b, { content: 'first' });
  return { b, id: user.id };
}

/** Elsewhere (another instance, an admin, a webhook): straight to the database, this instance's cache untouched. */
const elsewhere = (sql: Prisma.Sql) => server.deps.prisma.$executeRaw(sql);

async function messagesToday(userId: string, used: number) {
  await elsewhere(Prisma.sql`
    UPDATE quota_counters SET used = ${used} WHERE subject = ${userSubject(userId)} AND kind = ${COUNTER.messagesDay} AND period_start = ${dayStart(new Date())}::timestamptz`);
}

async function footprint(userId: string) {
  const [messages, reservations, events] = await Promise.all([
    server.deps.prisma.message.count({ where: { userId } }),
    server.deps.prisma.reservation.count({ where: { userId } }),
    server.deps.prisma.usageEvent.count({ where: { userId } }),
  ]);
  return { messages, reservations, events };
}

describe("a streamed chat's session", () => {
  it('is read from the cache after the first lookup; other procedures read it from the database every time', async () => {
    const { b } = await account();
    const validate = vi.spyOn(server.deps.sessions, 'validate');
    try {
      expect((await send(b, { content: 'second' })).done).toMatchObject({ status: 'ok' });
      expect((await send(b, { content: 'third' })).done).toMatchObject({ status: 'ok' });
      expect(validate).not.toHaveBeenCalled();
      await b.trpc.auth.me.query();
      expect(validate).toHaveBeenCalledTimes(1);
    } finally {
      validate.mockRestore();
    }
  });

  it('ended elsewhere: the chat is refused as unauthenticated, nothing is written and the cookie is cleared', async () => {
    const { b, id } = await account();
    const [first] = await server.deps.prisma.message.findMany({ where: { userId: id, role: 'assistant' }, select: { id: true } });
    await elsewhere(Prisma.sql`DELETE FROM sessions WHERE user_id = ${id}::uuid`);
    const before = await footprint(id);
    expect(await trpcError(send(b, { content: 'after sign-out' }))).toMatchObject({ reason: 'unauthenticated', code: 'UNAUTHORIZED' });
    expect(b.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(await footprint(id)).toEqual(before);
    // The same for a version of a reply, whose checks before the reservation read the conversation.
    b.cookies.clear();
    expect((await trpcError(b.trpc.chat.regenerate.mutate({ messageId: first!.id }))).reason).toBe('unauthenticated');
  });

  it('a plan lowered elsewhere: the lower plan refuses at its limit, nothing is written', async () => {
    const { b, id } = await account('pro');
    await messagesToday(id, 20);
    // The cache still says pro (500 a day): the reservation finds free (20 a day) and the retry refuses.
    await elsewhere(Prisma.sql`UPDATE users SET plan_id = 'free' WHERE id = ${id}::uuid`);
    const before = await footprint(id);
    const refusal = await trpcError(send(b, { content: 'over the free limit' }));
    expect(refusal).toMatchObject({ reason: 'quota_exhausted', code: 'PAYMENT_REQUIRED' });
    expect(refusal.data.limit).toBe('messagesPerDay');
    expect(await footprint(id)).toEqual(before);
  });

  it('a plan raised elsewhere applies at once', async () => {
    const { b, id } = await account();
    await messagesToday(id, 20);
    await elsewhere(Prisma.sql`UPDATE users SET plan_id = 'pro' WHERE id = ${id}::uuid`);
    expect((await send(b, { content: 'now on pro' })).done).toMatchObject({ status: 'ok' });
  });

  it('blocked elsewhere: refused as blocked, nothing is written', async () => {
    const { b, id } = await account();
    await elsewhere(Prisma.sql`UPDATE users SET blocked_at = now() WHERE id = ${id}::uuid`);
    const before = await footprint(id);
    expect(await trpcError(send(b, { content: 'blocked' }))).toMatchObject({ reason: 'blocked', code: 'FORBIDDEN' });
    expect(await footprint(id)).toEqual(before);
  });
});
