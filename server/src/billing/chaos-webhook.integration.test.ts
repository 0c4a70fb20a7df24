// Chaos, part 4: the Stripe webhook failing half-way through an event. The
// database refuses the payments insert, which comes after the credits were
// added in the same transaction; Stripe's redelivery of the same event (also
// several at once) must then apply it exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { startStripeFake, type StripeFake } from '../../test/fakes/stripe-server.ts';
import { deliver, ledger, signUp } from '../../test/helpers/billing.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let fake: StripeFake;
let server: TestServer;
beforeAll(async () => {
  fake = await startStripeFake({ prices: { price_pro_ch: 1_500, price_ent_ch: 9_900, price_100k_ch: 500, price_1m_ch: 4_000 } });
  server = await startTestServer(
    fake.env({
      STRIPE_PRICE_PRO: 'price_pro_ch',
      STRIPE_PRICE_ENTERPRISE: 'price_ent_ch',
      STRIPE_PRICE_PACK_100K: 'price_100k_ch',
      STRIPE_PRICE_PACK_1M: 'price_1m_ch',
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

describe('chaos: a webhook failing half-way', () => {
  it('the event row is stored, the effects roll back, and the redelivered event adds the credits once', async () => {
    const account = await signUp(server, 'chaos-hook');
    const { url } = await account.b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
    const session = [...fake.sessions.values()].find((s) => s.session.url === url)!.session;
    const event = fake.completeCheckout(session.id).events[0]!;
    const prisma = server.deps.prisma;
    // The database refuses the payment row: after the ledger entry, inside the same transaction.
    await prisma.$executeRawUnsafe(`CREATE TABLE chaos_refuse_payments (on_ boolean)`);
    await prisma.$executeRawUnsafe(`INSERT INTO chaos_refuse_payments VALUES (true)`);
    await prisma.$executeRawUnsafe(`CREATE FUNCTION chaos_refuse_payment() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF EXISTS (SELECT 1 FROM chaos_refuse_payments) THEN RAISE EXCEPTION 'chaos: payments insert refused'; END IF; RETURN NEW; END $$`);
    await prisma.$executeRawUnsafe(`CREATE TRIGGER chaos_refuse_payment BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION chaos_refuse_payment()`);
    try {
      const failed = await deliver(server, fake, event);
      expect(failed.status).toBe(500);
      const row = await prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { processedAt: true, error: true, attempts: true } });
      expect(row).toMatchObject({ processedAt: null, attempts: 1 });
      expect(row!.error).toContain('chaos: payments insert refused');
      expect(await ledger(server, account.userId)).toMatchObject({ entries: [], balance: 0n });
      expect(await prisma.packPurchase.count({ where: { userId: account.userId } })).toBe(0);
    } finally {
      await prisma.$executeRawUnsafe(`DELETE FROM chaos_refuse_payments`);
    }
    // Stripe retries; deliveries may overlap.
    const retries = await Promise.all([deliver(server, fake, event), deliver(server, fake, event), deliver(server, fake, event)]);
    expect(retries.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(retries.map((r) => r.body.outcome).sort()).toEqual(['duplicate', 'duplicate', 'pack_granted']);
    expect((await deliver(server, fake, event)).body.outcome).toBe('duplicate');
    const book = await ledger(server, account.userId);
    expect(book.entries).toHaveLength(1);
    expect(book.balance).toBe(100_000n);
    expect(book.sum).toBe(100_000n);
    expect(await prisma.packPurchase.count({ where: { userId: account.userId } })).toBe(1);
    expect(await prisma.payment.count({ where: { userId: account.userId } })).toBe(1);
    const row = await prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { outcome: true, error: true } });
    expect(row).toEqual({ outcome: 'pack_granted', error: null });
    await prisma.$executeRaw(Prisma.sql`DROP TRIGGER chaos_refuse_payment ON payments`);
  });
});
