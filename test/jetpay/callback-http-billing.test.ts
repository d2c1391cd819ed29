import { CREDIT_RETRY_JOB } from '../../src/jobs/jobs.js';
import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { callback, callbackFields, checkDeposit, JETPAY_CONFIG, Raw, seen } from '../support/jetpay.js';
import { captureLogs } from '../support/log-capture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
captureLogs('error');

describe.each(dbKinds)('[%s] JetPay callback with the external billing', (kind) => {
  let fake: FakeBilling;
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    fake = await new FakeBilling().start();
    t = await startTestGateway(kind, {
      ...JETPAY_CONFIG,
      BILLING_ADAPTER: 'http',
      BILLING_URL: fake.url,
      BILLING_TIMEOUT_MS: 300,
      BILLING_MAX_ATTEMPTS: 2,
      BILLING_RETRY_BASE_MS: 20,
      RETRY_BACKOFF_MS: 100,
      RETRY_BACKOFF_MAX_MS: 1000,
    });
  });
  afterEach(async () => {
    fake.heal();
    await fake.up();
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  /** An account on the fake billing and a deposit into it awaiting its callback. */
  async function deposit(amount: number): Promise<{ account: string; paymentId: string }> {
    const account = `75${kind === 'mysql' ? 1 : 2}${String(++seq).padStart(7, '0')}`;
    fake.accounts.set(account, { name: 'Ivan Petrov', balance: '0.00' });
    const r = await checkDeposit(t.api(), account, account, new Raw(String(amount)));
    expect(r.body.code).toBe(0);
    return { account, paymentId: String(r.body.payment_id) };
  }
  const row = (paymentId: string) => t.gateway.stores.payments.findByTxn('jetpay', paymentId);

  it('when a success callback comes, then the billing gets one keyed credit (jetpay:<payment_id>) and a repeat sends nothing', async () => {
    const { account, paymentId } = await deposit(10000);
    const r1 = await callback(t.api(), callbackFields(paymentId, 'success', new Raw('10000')));
    expect(seen(r1)).toEqual({ http: 200, code: 0 });
    const key = `jetpay:${paymentId}`;
    const p = await row(paymentId);
    expect(fake.creditCalls(key)).toHaveLength(1);
    expect(fake.creditCalls(key)[0]?.body).toMatchObject({
      source: 'jetpay',
      txnId: paymentId,
      paymentId: p?.id,
      account,
      amount: '100.00',
      amountMinor: 10000,
    });
    const r2 = await callback(t.api(), callbackFields(paymentId, 'success', new Raw('10000')));
    expect(seen(r2)).toEqual({ http: 200, code: 0 });
    expect(fake.creditCalls(key)).toHaveLength(1);
    expect(p).toMatchObject({ state: 'credited', billingRef: fake.credits.get(key)?.billingRef });
    expect(fake.contractViolations).toEqual([]);
  });

  it('when the billing is down at the callback, then JetPay gets 500 until the retry job has credited the paid amount once, then 0', async () => {
    const { paymentId } = await deposit(10000);
    await fake.down();
    // Paid more than announced: the paid amount is what the billing must get, on every attempt.
    const r1 = await callback(t.api(), callbackFields(paymentId, 'success', new Raw('12000')));
    expect(r1.body.code).toBe(500);
    expect((await row(paymentId))?.state).toBe('pending');
    expect((await callback(t.api(), callbackFields(paymentId, 'success', new Raw('12000')))).body.code).toBe(
      500,
    );

    await fake.up();
    await sleep(250);
    await t.gateway.scheduler.runNow(CREDIT_RETRY_JOB);
    const key = `jetpay:${paymentId}`;
    expect(fake.appliedCount(key)).toBe(1);
    expect(fake.credits.get(key)?.body).toMatchObject({ amountMinor: 12000 });
    expect(seen(await callback(t.api(), callbackFields(paymentId, 'success', new Raw('12000'))))).toEqual({
      http: 200,
      code: 0,
    });
    expect(fake.creditCalls(key)).toHaveLength(1);
  });

  it('when the billing refuses the credit (404), then the payment fails and is not retried', async () => {
    const { paymentId } = await deposit(5000);
    fake.mode = '404';
    const r = await callback(t.api(), callbackFields(paymentId, 'success', new Raw('5000')));
    expect(seen(r)).toEqual({ http: 200, code: 0 }); // applied: the refusal is final and flagged for a person
    expect(await row(paymentId)).toMatchObject({ state: 'failed', result: 1 });
    fake.heal();
    await sleep(150);
    await t.gateway.scheduler.runNow(CREDIT_RETRY_JOB);
    expect(fake.creditCalls(`jetpay:${paymentId}`)).toHaveLength(1);
  });
});
