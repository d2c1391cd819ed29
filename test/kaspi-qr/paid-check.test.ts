import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Scheme } from '../support/fake-kaspi-qr.js';
import { dbKinds } from '../support/databases.js';
import { AUTH, startReturnsGateway, type ReturnsSetup } from '../support/kaspi-qr-returns.js';
import { balanceOf, creditsFor } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';

/**
 * The post-payment check (r2/r3, notes D-28): once a QR or link purchase is paid, payment/details
 * once; a TotalAmount other than asked flags the payment (payments.flag, through src/payments) and
 * the purchase for a person, nothing corrected. r1 has no payment/details: trusted on Processed.
 */
describe.each(dbKinds)('[%s] the Kaspi QR post-payment check', (kind) => {
  let logs: ReturnType<typeof captureLogs>;
  let n = 0;

  async function setup(scheme: Scheme): Promise<ReturnsSetup> {
    const s = await startReturnsGateway(kind, scheme);
    // Once the gateway is built (it sets the logger up from its config): warnings into an array.
    logs = captureLogs('warn');
    return s;
  }

  async function account(s: ReturnsSetup): Promise<string> {
    n += 1;
    const a = `PC${process.pid}${n}${Math.floor(Math.random() * 1e5)}`;
    await s.t.gateway.stores.accounts.addAccount({ account: a, name: 'QR Payer', balance: 0 });
    return a;
  }

  async function create(s: ReturnsSetup, a: string, amount: string, kindOf = 'qr') {
    const res = await s.t
      .admin()
      .post('/api/qr/payments')
      .set(AUTH)
      .set('Idempotency-Key', `pc-${Math.random()}`)
      .send({ account: a, amount, kind: kindOf });
    expect(res.status).toBe(201);
    return res.body as { id: string; txnId: string; createdAt: string };
  }

  const show = async (s: ReturnsSetup, id: string) =>
    (await s.t.admin().get(`/api/qr/payments/${id}`).set(AUTH)).body as Record<string, unknown>;
  const detailCalls = (s: ReturnsSetup, txnId: string) =>
    s.fake.calls('paymentDetails').filter((r) => r.path.includes(`QrPaymentId=${txnId}`)).length;
  const paymentRow = (s: ReturnsSetup, id: string) =>
    s.t.gateway.db.knex('payments').where({ id }).first() as Promise<Record<string, unknown>>;
  /** The engine's tick as if `ms` had passed since the purchase was made. */
  const tick = (s: ReturnsSetup, c: { createdAt: string }, ms: number) =>
    s.t.gateway.services.kaspiQr!.engine.run({}, new Date(new Date(c.createdAt).getTime() + ms));

  describe.each(['r3', 'r2'] as Scheme[])('on %s', (scheme) => {
    let s: ReturnsSetup;
    beforeAll(async () => {
      s = await setup(scheme);
    });
    afterAll(async () => {
      await s.t.close();
      await s.fake.stop();
    });
    afterEach(async () => {
      s.fake.clearFaults();
      await s.t.gateway.db.knex('kaspi_qr_purchases').update({ next_poll_at: null });
    });

    it('when a purchase is paid with the amount asked, then payment/details is read once, its total kept, no flag', async () => {
      const a = await account(s);
      const c = await create(s, a, '120.00');
      s.fake.setStatus(c.txnId, 'Processed');
      await tick(s, c, 1_100);
      for (const ms of [5_000, 60_000, 3_600_000]) await tick(s, c, ms);
      expect(detailCalls(s, c.txnId)).toBe(1);
      expect(await show(s, c.id)).toMatchObject({ state: 'paid', credit: 'credited', flag: null });
      const row = await s.t.gateway.db.knex('kaspi_qr_purchases').where({ payment_id: c.id }).first();
      expect(Number(row.kaspi_total_amount)).toBe(12000);
      expect(row.details_due_at).toBeNull();
      expect((await paymentRow(s, c.id)).flag).toBeNull();
    });

    it('when Kaspi shows another TotalAmount, then the payment and the purchase are flagged for a person (ERROR once), credited as asked', async () => {
      const a = await account(s);
      const c = await create(s, a, '300.00');
      s.fake.setStatus(c.txnId, 'Processed');
      // Kaspi says the payer paid 290.00 for it.
      s.kaspi.purchase(c.txnId, 29000);
      await tick(s, c, 1_100);
      await tick(s, c, 120_000);
      expect(detailCalls(s, c.txnId)).toBe(1);
      expect(await show(s, c.id)).toMatchObject({
        state: 'paid',
        credit: 'credited',
        flag: 'amount_mismatch',
      });
      const p = await paymentRow(s, c.id);
      expect(p).toMatchObject({ state: 'credited', flag: 'amount_mismatch' });
      expect(p.flagged_at).not.toBeNull();
      expect(await balanceOf(s.t.gateway, a)).toBe(30000);
      expect(await creditsFor(s.t.gateway, c.txnId)).toHaveLength(1);
      const errors = logs.find('error', 'another amount than asked');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ paymentId: c.id, asked: '300.00', totalAmount: '290.00' });
      logs.clear();
    });

    it('when payment/details cannot be read after the payment, then the check stays due and a later tick makes it, once', async () => {
      const a = await account(s);
      const c = await create(s, a, '80.00', 'link');
      s.fake.setStatus(c.txnId, 'Processed');
      s.fake.fault('paymentDetails', { http: 503, times: 3 }); // every attempt of the GET
      await tick(s, c, 1_100);
      expect(await show(s, c.id)).toMatchObject({ state: 'paid', credit: 'credited' });
      const due = await s.t.gateway.db.knex('kaspi_qr_purchases').where({ payment_id: c.id }).first();
      expect(due.details_due_at).not.toBeNull();
      expect(logs.find('warn', 'payment/details after the payment not read')).toHaveLength(1);
      logs.clear();
      const tries = detailCalls(s, c.txnId);
      await tick(s, c, 20_000); // not due again yet (1 min)
      expect(detailCalls(s, c.txnId)).toBe(tries);
      await tick(s, c, 3 * 60_000);
      expect(detailCalls(s, c.txnId)).toBe(tries + 1);
      await tick(s, c, 3_600_000);
      expect(detailCalls(s, c.txnId)).toBe(tries + 1);
      const row = await s.t.gateway.db.knex('kaspi_qr_purchases').where({ payment_id: c.id }).first();
      expect(row.details_due_at).toBeNull();
      expect(Number(row.kaspi_total_amount)).toBe(8000);
      expect((await paymentRow(s, c.id)).flag).toBeNull();
    });
  });

  describe('on r1', () => {
    let s: ReturnsSetup;
    beforeAll(async () => {
      s = await setup('r1');
    });
    afterAll(async () => {
      await s.t.close();
      await s.fake.stop();
    });

    it('when a purchase is paid, then it is trusted on Processed: no payment/details, nothing due', async () => {
      const a = await account(s);
      const c = await create(s, a, '50.00');
      s.fake.setStatus(c.txnId, 'Processed');
      await tick(s, c, 1_100);
      await tick(s, c, 3_600_000);
      expect(await show(s, c.id)).toMatchObject({ state: 'paid', credit: 'credited', flag: null });
      expect(s.fake.calls('paymentDetails')).toHaveLength(0);
      const row = await s.t.gateway.db.knex('kaspi_qr_purchases').where({ payment_id: c.id }).first();
      expect(row.details_due_at).toBeNull();
    });
  });
});
