import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { count } from '../support/ledger.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { AUTH, creditedPayment, startRefundGateway } from '../support/refunds.js';
import { startTestGateway } from '../support/gateway.js';

/** What is refused before anything is stored or sent, and what is sent on the wire. */
describe.each(dbKinds)('[%s] refund checks', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;
  let tiyn: TestGateway;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake);
    tiyn = await startRefundGateway(kind, fake, { REFUND_AMOUNT_UNIT: 'tiyn' });
  });
  afterAll(async () => {
    await t.close();
    await tiyn.close();
    await fake.stop();
  });

  const post = (g: TestGateway, body: unknown, headers: Record<string, string> = {}) =>
    g
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .set(headers)
      .send(body as object);

  /** The request is refused with this status and code, and neither a row nor a call to Kaspi follows. */
  async function refused(g: TestGateway, body: unknown, status: number, code: string, message?: RegExp) {
    const rows = await count(g.gateway, 'refunds');
    const sent = fake.calls.RefundRequest;
    const res = await post(g, body);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(code);
    if (message) expect(res.body.message).toMatch(message);
    expect(await count(g.gateway, 'refunds')).toBe(rows);
    expect(fake.calls.RefundRequest).toBe(sent);
    return res.body as { error: string; message: string };
  }

  it('when the txn_id is unknown, then 404 payment_not_found and nothing stored', async () => {
    await refused(t, { txnId: newTxnId(), amount: '10.00', reason: 'x' }, 404, 'payment_not_found');
  });

  it('when the payment was not credited, then 409 payment_not_credited and nothing stored', async () => {
    const txnId = newTxnId();
    const res = await pay(t.api(), txnId, 'no-such-account', '100.00');
    expect(res.xml.result).not.toBe('0');
    await refused(t, { txnId, amount: '10.00', reason: 'x' }, 409, 'payment_not_credited', /not credited/);
  });

  it('when the refunds would exceed the payment, then 422 with what is left, and declined refunds free their part', async () => {
    const p = await creditedPayment(t, '500.00');
    fake.script(p.txnId, [{ status: 0 }]);
    expect((await post(t, { txnId: p.txnId, amount: '300.00', reason: 'part 1' })).status).toBe(202);
    const over = await refused(
      t,
      { txnId: p.txnId, amount: '250.00', reason: 'part 2' },
      422,
      'refund_exceeds_payment',
    );
    expect(over.message).toMatch(/200\.00 of 500\.00/);
    expect((await post(t, { txnId: p.txnId, amount: '200.00', reason: 'part 2' })).status).toBe(202);
    await refused(t, { txnId: p.txnId, amount: '1.00', reason: 'part 3' }, 422, 'refund_exceeds_payment');

    const q = await creditedPayment(t, '100.00');
    fake.script(q.txnId, [{ status: 1, error: { code: 3 } }]);
    const declined = await post(t, { txnId: q.txnId, amount: '100.00', reason: 'declined' });
    expect(declined.body.status).toBe('declined');
    fake.script(q.txnId, [{ status: 0 }]);
    expect((await post(t, { txnId: q.txnId, amount: '100.00', reason: 'second try' })).status).toBe(202);
  });

  it('when two refunds for the same remainder are asked at once, then only one is stored', async () => {
    const p = await creditedPayment(t, '100.00');
    fake.script(p.txnId, [{ status: 0 }]);
    const answers = await Promise.all(
      [1, 2, 3].map((i) => post(t, { txnId: p.txnId, amount: '60.00', reason: `race ${i}` })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([202, 422, 422]);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(1);
  });

  it('when the amount has tiyn and Kaspi takes tenge, then 400 before anything is stored', async () => {
    const p = await creditedPayment(t, '500.00');
    await refused(t, { txnId: p.txnId, amount: '100.50', reason: 'x' }, 400, 'validation', /whole tenge/);
  });

  it('when REFUND_AMOUNT_UNIT is tenge, then ReturnAmount is whole tenge on the wire', async () => {
    const p = await creditedPayment(t, '500.00');
    const res = await post(t, { txnId: p.txnId, amount: '123.00', reason: 'tenge' });
    expect(res.body).toMatchObject({
      amount: '123.00',
      amountMinor: 12300,
      returnAmount: 123,
      returnAmountUnit: 'tenge',
    });
    const sent = fake.received.filter((r) => r.paymentId === p.txnId);
    expect(sent.map((r) => r.returnAmount)).toEqual(['123']);
    expect(sent[0]?.rawBody).toContain(`"PaymentId":${p.txnId},"ReturnAmount":123,`);
  });

  it('when REFUND_AMOUNT_UNIT is tiyn, then an amount with tiyn goes as tiyn', async () => {
    const p = await creditedPayment(tiyn, '500.00');
    const res = await post(tiyn, { txnId: p.txnId, amount: '100.50', reason: 'tiyn' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ amountMinor: 10050, returnAmount: 10050, returnAmountUnit: 'tiyn' });
    expect(fake.received.filter((r) => r.paymentId === p.txnId).map((r) => r.returnAmount)).toEqual([
      '10050',
    ]);
  });

  it('when the request is malformed, then a clear 400 and nothing stored', async () => {
    const p = await creditedPayment(t, '500.00');
    const cases: [unknown, RegExp][] = [
      [{ txnId: Number(p.txnId), amount: '1.00', reason: 'x' }, /txnId must be a JSON string/],
      [{ txnId: p.txnId, amount: 100.5, reason: 'x' }, /string like "100.00"/],
      [{ txnId: p.txnId, amount: '1,00', reason: 'x' }, /tenge/],
      [{ txnId: p.txnId, amount: '0.00', reason: 'x' }, /above 0/],
      [{ txnId: p.txnId, amount: '-1.00', reason: 'x' }, /tenge/],
      [{ txnId: p.txnId, amount: '1.00' }, /reason/],
      [{ txnId: p.txnId, amount: '1.00', reason: '   ' }, /reason/],
      [{ txnId: p.txnId, amount: '1.00', reason: 'x'.repeat(501) }, /reason/],
      [{ txnId: 'abc', amount: '1.00', reason: 'x' }, /txnId/],
      [{ txnId: p.txnId, reason: 'x' }, /amount is required/],
      [{ txnId: p.txnId, amountMinor: 10.5, reason: 'x' }, /whole number of tiyn/],
      [[1, 2], /JSON object/],
    ];
    for (const [body, message] of cases) await refused(t, body, 400, 'validation', message);
    const broken = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .set('content-type', 'application/json')
      .send('{"txnId":');
    expect(broken.status).toBe(400);
    expect(broken.text).not.toMatch(/<html|at .*\.js/);
  });

  it('when amountMinor is given as an integer of tiyn, then it is taken as is', async () => {
    const p = await creditedPayment(t, '500.00');
    const res = await post(t, { txnId: p.txnId, amountMinor: 4200, reason: 'minor' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ amount: '42.00', amountMinor: 4200 });
  });

  it('when the same Idempotency-Key comes again, then the first refund is answered and nothing new is filed', async () => {
    const p = await creditedPayment(t, '500.00');
    const key = `idem-${p.txnId}`;
    const first = await post(
      t,
      { txnId: p.txnId, amount: '10.00', reason: 'idem' },
      { 'Idempotency-Key': key },
    );
    const sent = fake.calls.RefundRequest;
    const again = await post(
      t,
      { txnId: p.txnId, amount: '10.00', reason: 'idem' },
      { 'Idempotency-Key': key },
    );
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(fake.calls.RefundRequest).toBe(sent);
    const other = await post(
      t,
      { txnId: p.txnId, amount: '11.00', reason: 'idem' },
      { 'Idempotency-Key': key },
    );
    expect(other.status).toBe(409);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(1);
  });

  it('when the Refund API is not configured, then 503 refunds_disabled, nothing stored, no poll job', async () => {
    const off = await startTestGateway(kind);
    try {
      const p = await creditedPayment(off, '100.00');
      const rows = await count(off.gateway, 'refunds');
      const res = await off
        .admin()
        .post('/api/refunds')
        .set(AUTH)
        .send({ txnId: p.txnId, amount: '1.00', reason: 'x' });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('refunds_disabled');
      expect(await count(off.gateway, 'refunds')).toBe(rows);
      await expect(off.gateway.scheduler.runNow('refund-poll')).rejects.toThrow(/no job/);
    } finally {
      await off.close();
    }
  });
});
