import { LosslessNumber } from 'lossless-json';
import { dbKinds } from '../support/databases.js';
import type { Recorded } from '../support/fake-kaspi-qr.js';
import { balanceOf, count } from '../support/ledger.js';
import {
  AUTH,
  paidQrPurchase,
  qrLog,
  startReturnsGateway,
  type ReturnsSetup,
} from '../support/kaspi-qr-returns.js';
import { makeDue, refundLedger } from '../support/refunds.js';

/**
 * Kaspi QR returns without the payer (r3) through the refunds ledger: POST /api/refunds with
 * source kaspi_qr; payment/details first, then payment/return; lost answers settled by reading
 * payment/details again, never by a blind second return.
 */
describe.each(dbKinds)('[%s] Kaspi QR returns, r3', (kind) => {
  let s: ReturnsSetup;

  beforeAll(async () => {
    s = await startReturnsGateway(kind, 'r3');
  });
  afterAll(async () => {
    await s.t.close();
    await s.fake.stop();
  });
  afterEach(() => {
    s.fake.clearFaults();
    s.kaspi.partialNotAllowed = false;
    s.kaspi.foreignTradePoint = false;
    s.kaspi.notReturnable = false;
    s.kaspi.afterReturn = null;
  });

  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    s.t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .set(headers)
      .send({ source: 'kaspi_qr', reason: 'returned goods', ...body });

  const returnsOf = (txnId: string) => s.fake.calls('paymentReturn').filter((r) => idOf(r) === txnId);
  const detailsOf = (txnId: string) =>
    s.fake.calls('paymentDetails').filter((r) => r.path.includes(`QrPaymentId=${txnId}&`));

  it('when parts are returned up to the purchase, then each goes to Kaspi after payment/details, the account is debited, and one more is refused before anything is sent', async () => {
    const p = await paidQrPurchase(s, 50000);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(50000);

    const first = await post({ txnId: p.txnId, amount: '300.00' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      source: 'kaspi_qr',
      status: 'success',
      amount: '300.00',
      txnId: p.txnId,
    });
    const second = await post({ txnId: p.txnId, amount: '200.00' });
    expect(second.body.status).toBe('success');
    expect(s.kaspi.returned(p.txnId)).toBe(50000);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(0);
    expect(await refundLedger(s.t.gateway, first.body.id as string)).toHaveLength(1);

    // The wire: details before each return; ids as bare integers, the amount in tenge, BIN on r3.
    const calls = s.fake.requests.filter(
      (r) =>
        (r.method === 'paymentDetails' && r.path.includes(p.txnId)) ||
        (r.method === 'paymentReturn' && idOf(r) === p.txnId),
    );
    expect(calls.map((r) => r.method)).toEqual([
      'paymentDetails',
      'paymentReturn',
      'paymentDetails',
      'paymentReturn',
    ]);
    const ret = returnsOf(p.txnId)[0] as Recorded;
    expect(ret.raw).toContain(`"QrPaymentId":${p.txnId}`);
    expect(ret.raw).toContain('"Amount":300');
    expect(ret.json).toMatchObject({ OrganizationBin: '180340021791' });
    expect(ret.json).not.toHaveProperty('QrReturnId');
    const side = await s.t.gateway.db.knex('kaspi_qr_refunds').where({ refund_id: first.body.id }).first();
    expect(String(side.return_operation_id)).toMatch(/^\d{19}$/);
    expect(Number(side.available_before)).toBe(50000);

    const rows = await count(s.t.gateway, 'refunds');
    const sent = s.fake.calls('paymentReturn').length;
    const over = await post({ txnId: p.txnId, amount: '1.00' });
    expect(over.status).toBe(422);
    expect(over.body.error).toBe('refund_exceeds_payment');
    expect(await count(s.t.gateway, 'refunds')).toBe(rows);
    expect(s.fake.calls('paymentReturn')).toHaveLength(sent);

    // The request log holds each call of the return, without the device token.
    const logged = (await qrLog(s.t)).filter((r) => r.txn_id === p.txnId);
    expect(logged.map((r) => r.command)).toEqual([
      'payment/details',
      'payment/return',
      'payment/details',
      'payment/return',
    ]);
    expect(JSON.stringify(logged)).not.toContain('000000000777');
  });

  it('when Kaspi has less left than we do (returned in the Kaspi Pay app), then 422 from payment/details and nothing stored or sent', async () => {
    const p = await paidQrPurchase(s, 50000);
    (s.kaspi.purchases.get(p.txnId) as { available: number }).available = 10000;
    const res = await post({ txnId: p.txnId, amount: '200.00' });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('refund_exceeds_payment');
    expect(res.body.message).toMatch(/100\.00 of 500\.00/);
    expect(detailsOf(p.txnId)).toHaveLength(1);
    expect(returnsOf(p.txnId)).toHaveLength(0);
    expect(await s.t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(0);
  });

  it('when the fake applies the return and then resets the connection, then payment/details shows it went through: one return at Kaspi, refund success', async () => {
    const p = await paidQrPurchase(s, 40000);
    s.fake.fault('paymentReturn', { reset: 'after' });
    const res = await post({ txnId: p.txnId, amount: '150.00' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('success');
    expect(returnsOf(p.txnId)).toHaveLength(1);
    expect(s.kaspi.purchases.get(p.txnId)?.returns).toHaveLength(1);
    expect(s.kaspi.returned(p.txnId)).toBe(15000);
    expect(detailsOf(p.txnId)).toHaveLength(2);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(25000);
    const side = await s.t.gateway.db.knex('kaspi_qr_refunds').where({ refund_id: res.body.id }).first();
    expect(side.return_operation_id).toBeNull();
    expect(Number(side.sends)).toBe(1);
  });

  it('when the connection is cut before Kaspi acted, then payment/details is unchanged and the return is sent once more: one return at Kaspi', async () => {
    const p = await paidQrPurchase(s, 40000);
    s.fake.fault('paymentReturn', { reset: 'before' });
    const sent = s.fake.calls('paymentReturn').length;
    const res = await post({ txnId: p.txnId, amount: '100.00' });
    expect(res.body.status).toBe('success');
    // The cut one is recorded without its body (never read).
    expect(s.fake.calls('paymentReturn').length - sent).toBe(2);
    expect(s.kaspi.purchases.get(p.txnId)?.returns).toHaveLength(1);
    expect(s.kaspi.returned(p.txnId)).toBe(10000);
  });

  it('when Kaspi answers -990000006 (try again), then the same check decides: sent once more, one return', async () => {
    const p = await paidQrPurchase(s, 40000);
    s.fake.fault('paymentReturn', { statusCode: -990000006, message: 'Ошибка возврата' });
    const res = await post({ txnId: p.txnId, amount: '100.00' });
    expect(res.body.status).toBe('success');
    expect(returnsOf(p.txnId)).toHaveLength(2);
    expect(s.kaspi.purchases.get(p.txnId)?.returns).toHaveLength(1);
  });

  it('when both sends are lost and Kaspi shows nothing returned, then fatal for a person, no third send', async () => {
    const p = await paidQrPurchase(s, 40000);
    s.fake.fault('paymentReturn', { reset: 'before', times: 2 });
    const sent = s.fake.calls('paymentReturn').length;
    const res = await post({ txnId: p.txnId, amount: '100.00' });
    expect(res.body.status).toBe('fatal');
    expect(res.body.flagged.reason).toMatch(/sent 2 times/);
    expect(s.fake.calls('paymentReturn').length - sent).toBe(2);
    expect(s.kaspi.returned(p.txnId)).toBe(0);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(40000);
    // Until a person settles it, no other return of this purchase goes.
    const next = await post({ txnId: p.txnId, amount: '10.00' });
    expect(next.status).toBe(409);
    expect(next.body.error).toBe('return_in_progress');
  });

  it('when the answer is lost and payment/details shows another drop than ours, then fatal for a person', async () => {
    const p = await paidQrPurchase(s, 40000);
    s.fake.fault('paymentReturn', { reset: 'after' });
    // Someone else returned 5.00 at the same moment (a cashier in the Kaspi Pay app).
    s.kaspi.afterReturn = (bought) => {
      bought.available -= 500;
    };
    const res = await post({ txnId: p.txnId, amount: '100.00' });
    expect(res.body.status).toBe('fatal');
    expect(res.body.flagged.reason).toMatch(/295\.00/);
    expect(returnsOf(p.txnId)).toHaveLength(1);
    expect(await refundLedger(s.t.gateway, res.body.id as string)).toHaveLength(0);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(40000);
  });

  it('when the answer is lost and payment/details cannot be read either, then the refund waits and the poller settles it later: one return', async () => {
    const p = await paidQrPurchase(s, 40000);
    s.fake.fault('paymentReturn', { reset: 'after' });
    // Every attempt of the check's read fails (GETs are tried 3 times).
    s.kaspi.afterReturn = () => s.fake.fault('paymentDetails', { http: 503, times: 3 });
    const res = await post({ txnId: p.txnId, amount: '120.00' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('new');
    expect(res.body.lastProblem).toMatch(/outcome unknown/);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(40000);
    s.kaspi.afterReturn = null;

    await makeDue(s.t.gateway);
    await s.t.gateway.scheduler.runNow('refund-poll');
    const after = await s.t.admin().get(`/api/refunds/${res.body.id}`).set(AUTH);
    expect(after.body.status).toBe('success');
    expect(returnsOf(p.txnId)).toHaveLength(1);
    expect(s.kaspi.returned(p.txnId)).toBe(12000);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(28000);
  });

  it.each([
    ['amount above what is left at Kaspi', { statusCode: -990000005 }, null, 422, 'refund_exceeds_available'],
    ['partial return not allowed', null, 'partialNotAllowed', 422, 'partial_refund_not_allowed'],
    ['purchase in a state that cannot be returned', null, 'notReturnable', 409, 'refund_not_allowed_state'],
    ['device of another trade point', null, 'foreignTradePoint', 502, 'device_mismatch'],
  ] as const)(
    'when Kaspi refuses the return (%s), then a clear refusal, the refund declined, nothing debited',
    async (_what, fault, toggle, status, code) => {
      const p = await paidQrPurchase(s, 40000);
      if (fault) s.fake.fault('paymentReturn', fault);
      if (toggle) s.kaspi[toggle] = true;
      const res = await post({ txnId: p.txnId, amount: '100.00' });
      expect(res.status).toBe(status);
      expect(res.body.error).toBe(code);
      expect(res.body.message).toMatch(/nothing was returned/);
      const [row] = await s.t.gateway.db.knex('refunds').where({ txn_id: p.txnId });
      expect(row.status).toBe('declined');
      expect(returnsOf(p.txnId)).toHaveLength(1);
      expect(s.kaspi.returned(p.txnId)).toBe(0);
      expect(await balanceOf(s.t.gateway, p.account)).toBe(40000);
      // Declined frees its part: the next return may go.
      s.fake.clearFaults();
      if (toggle) s.kaspi[toggle] = false;
      expect((await post({ txnId: p.txnId, amount: '400.00' })).body.status).toBe('success');
    },
  );

  it('when the purchase is unknown, not credited, or asked as a Refund API payment, then refused before any Kaspi call', async () => {
    const before = s.fake.requests.length;
    expect((await post({ txnId: '9223372036854775000', amount: '1.00' })).body.error).toBe(
      'payment_not_found',
    );
    const p = await paidQrPurchase(s, 10000);
    const asKaspi = await s.t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '1.00', reason: 'x' });
    expect(asKaspi.status).not.toBe(202);
    expect((await post({ txnId: p.txnId, amount: '0.00' })).status).toBe(400);
    expect((await post({ txnId: p.txnId, amount: '1.00', source: 'jetpay' })).status).toBe(400);
    expect(s.fake.requests.length).toBe(before);
  });

  it('when the same Idempotency-Key comes again, then the first return is answered and Kaspi sees one', async () => {
    const p = await paidQrPurchase(s, 10000);
    const key = { 'Idempotency-Key': `qr-ret-${p.txnId}` };
    const a = await post({ txnId: p.txnId, amount: '10.00' }, key);
    const b = await post({ txnId: p.txnId, amount: '10.00' }, key);
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect(returnsOf(p.txnId)).toHaveLength(1);
    expect((await post({ txnId: p.txnId, amount: '11.00' }, key)).status).toBe(409);
  });
});

function idOf(r: Recorded): string {
  const v = r.json?.QrPaymentId;
  return v instanceof LosslessNumber ? v.value : String(v);
}
