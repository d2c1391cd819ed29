import { UpstreamError } from '../../src/shared/errors.js';
import { configureLogger } from '../../src/log/logger.js';
import type { RefundNotice, RemoteRefundBilling } from '../../src/refunds/refund-billing.js';
import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { AUTH, creditedPayment, makeDue } from '../support/refunds.js';

/** A billing told after commit (the http kind): it is down at first, then answers. */
class FlakyRemoteBilling implements RemoteRefundBilling {
  readonly kind = 'http' as const;
  readonly calls: RefundNotice[] = [];
  failuresLeft = 0;
  async notifyRefund(n: RefundNotice): Promise<{ billingRef: string | null }> {
    this.calls.push(n);
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new UpstreamError('billing_unavailable', 'billing did not answer', true);
    }
    return { billingRef: `remote-${n.refundId}` };
  }
}

describe.each(dbKinds)('[%s] telling billing of a refund, and alerts', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;
  const billing = new FlakyRemoteBilling();
  let logged = '';

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    t = await startTestGateway(
      kind,
      { REFUND_API_URL: fake.url, REFUND_API_LOGIN: fake.login, REFUND_API_PASSWORD: fake.password },
      { refundBilling: () => billing },
    );
    configureLogger({
      level: 'warn',
      format: 'json',
      stream: new (await import('node:stream')).Writable({
        write(chunk: Buffer, _enc, done) {
          logged += chunk.toString();
          done();
        },
      }),
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  const tick = async () => {
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
  };

  it('when billing is down as the refund succeeds, then the poller tells it later, once, with the refund id', async () => {
    const p = await creditedPayment(t, '100.00');
    fake.script(p.txnId, [{ status: 2 }]);
    billing.failuresLeft = 2;
    const r = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '40.00', reason: 'x' });
    expect(r.body).toMatchObject({ status: 'success', billingNotifiedAt: null });
    expect(r.body.nextPollAt).not.toBeNull();
    await tick();
    expect((await t.admin().get(`/api/refunds/${r.body.id}`).set(AUTH)).body.billingNotifiedAt).toBeNull();
    await tick();
    const done = (await t.admin().get(`/api/refunds/${r.body.id}`).set(AUTH)).body;
    expect(done).toMatchObject({ status: 'success', billingRef: `remote-${r.body.id}`, nextPollAt: null });
    expect(done.billingNotifiedAt).not.toBeNull();
    await tick();
    const mine = billing.calls.filter((c) => c.refundId === r.body.id);
    expect(mine).toHaveLength(3);
    expect(mine[0]).toEqual({
      refundId: r.body.id,
      paymentId: expect.any(String),
      txnId: p.txnId,
      account: p.account,
      amount: 4000,
    });
    // Embedded balance is not touched when billing is remote.
    expect(await t.gateway.db.knex('account_ledger').where({ kind: 'refund', ref: r.body.id })).toHaveLength(
      0,
    );
  });

  it('when a refund turns FATAL or grows too old, then an ERROR names it for a person', async () => {
    const p = await creditedPayment(t, '100.00');
    fake.script(p.txnId, [{ status: 5 }]);
    logged = '';
    const r = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '1.00', reason: 'x' });
    const q = await creditedPayment(t, '100.00');
    fake.script(q.txnId, [{ status: 0 }, { status: 6 }]);
    const old = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: q.txnId, amount: '1.00', reason: 'x' });
    await t.gateway.db
      .knex('refunds')
      .where({ id: old.body.id })
      .update({ created_at: '2001-01-01 00:00:00.000' });
    await tick();
    const errors = logged
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; refundId?: string; message: string })
      .filter((l) => l.level === 'error');
    expect(errors.find((e) => e.refundId === r.body.id)?.message).toMatch(/FATAL/);
    expect(errors.find((e) => e.refundId === old.body.id)?.message).toMatch(/too long/);
    expect(logged).not.toContain(fake.password);
    for (const token of fake.issued) expect(logged).not.toContain(token);
  });
});
