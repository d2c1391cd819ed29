import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';
import { AUTH, makeDue, startRefundGateway } from '../support/refunds.js';

captureLogs('error');

describe.each(dbKinds)('[%s] a refund told to the external billing', (kind) => {
  let billing: FakeBilling;
  let refundApi: FakeRefundApi;
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    billing = await new FakeBilling().start();
    refundApi = new FakeRefundApi();
    await refundApi.start();
    t = await startRefundGateway(kind, refundApi, {
      BILLING_ADAPTER: 'http',
      BILLING_URL: billing.url,
      BILLING_TIMEOUT_MS: 1000,
      BILLING_MAX_ATTEMPTS: 2,
      BILLING_RETRY_BASE_MS: 20,
    });
  });
  afterEach(() => billing.heal());
  afterAll(async () => {
    await t.close();
    await refundApi.stop();
    await billing.close();
  });

  /** A Kaspi pay credited on the fake billing. */
  async function credited(sum: string): Promise<{ txnId: string; account: string }> {
    const account = `76${kind === 'mysql' ? 1 : 2}${String(++seq).padStart(7, '0')}`;
    billing.accounts.set(account, { name: 'O P' });
    const txnId = newTxnId();
    expect((await pay(t.api(), txnId, account, sum)).xml.result).toBe('0');
    return { txnId, account };
  }

  it('when a refund succeeds, then the billing gets one POST /refunds keyed refund:<id> with the amount in tenge and tiyn', async () => {
    const p = await credited('100.00');
    refundApi.script(p.txnId, [{ status: 2 }]);
    const r = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '40.00', reason: 'x' });
    expect(r.body.status).toBe('success');
    const key = `refund:${r.body.id}`;
    expect(billing.refunds.get(key)?.body).toEqual({
      refundId: String(r.body.id),
      txnId: p.txnId,
      account: p.account,
      amount: '40.00',
      amountMinor: 4000,
    });
    const view = (await t.admin().get(`/api/refunds/${r.body.id}`).set(AUTH)).body;
    expect(view.billingRef).toBe(billing.refunds.get(key)?.billingRef);
    expect(view.billingNotifiedAt).not.toBeNull();
    expect(billing.contractViolations).toEqual([]);
  });

  it('when the billing is down as the refund succeeds, then the poller tells it later with the same key, applied once', async () => {
    const p = await credited('100.00');
    refundApi.script(p.txnId, [{ status: 2 }]);
    billing.mode = '5xx';
    const r = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '25.00', reason: 'x' });
    expect(r.body).toMatchObject({ status: 'success', billingNotifiedAt: null });
    const key = `refund:${r.body.id}`;
    expect(billing.requests.filter((q) => q.key === key)).toHaveLength(2); // BILLING_MAX_ATTEMPTS
    billing.heal();
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    expect(billing.requests.filter((q) => q.key === key)).toHaveLength(3);
    expect(billing.refunds.get(key)?.applied).toBe(1);
    expect(
      (await t.admin().get(`/api/refunds/${r.body.id}`).set(AUTH)).body.billingNotifiedAt,
    ).not.toBeNull();
  });
});
