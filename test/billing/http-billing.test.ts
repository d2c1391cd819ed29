import { CREDIT_RETRY_JOB } from '../../src/jobs/jobs.js';
import type { Payment } from '../../src/payments/payment-store.js';
import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, newTxnId, pay } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';

const TOKEN = 'billing-token-5f3a9c2e71';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logs = captureLogs('warn');

describe.each(dbKinds)('[%s] external billing over HTTP', (kind) => {
  let fake: FakeBilling;
  let t: TestGateway;
  let account = 0;

  /** A fresh account on the fake billing, so each test counts only its own credits. */
  const newAccount = (name = 'Ivan Petrov', balance = '1500.00') => {
    const id = `77${kind === 'mysql' ? 1 : 2}${String(++account).padStart(7, '0')}`;
    fake.accounts.set(id, { name, balance });
    return id;
  };
  const payment = async (txn: string) => (await t.gateway.stores.payments.findByTxn('kaspi', txn)) as Payment;
  const retryNow = () => t.gateway.scheduler.runNow(CREDIT_RETRY_JOB);
  /** Waits past the pending credit's backoff (RETRY_BACKOFF_MS 100 ms, first delay 50..100 ms). */
  const afterBackoff = () => sleep(150);

  beforeAll(async () => {
    fake = await new FakeBilling().start();
    fake.token = TOKEN;
    t = await startTestGateway(kind, {
      BILLING_ADAPTER: 'http',
      BILLING_URL: fake.url,
      BILLING_TOKEN: TOKEN,
      BILLING_TIMEOUT_MS: 1000,
      BILLING_MAX_ATTEMPTS: 2,
      BILLING_RETRY_BASE_MS: 20,
      PAY_DEADLINE_MS: 3000,
      RETRY_BACKOFF_MS: 100,
      RETRY_BACKOFF_MAX_MS: 1000,
      RETRY_STUCK_AFTER_MS: 60_000,
    });
  });
  afterEach(async () => {
    fake.heal();
    await fake.up();
    logs.clear();
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('when the billing knows the account, then check answers 0 with the masked name and balance', async () => {
    const acc = newAccount('Ivan Petrov', '1500.00');
    const c = await check(t.api(), newTxnId(), acc);
    expect(c.xml.result).toBe('0');
    expect(c.xml.fields).toEqual({
      field1: { '@name': 'fio', '#text': 'I*** P.' },
      field2: { '@name': 'balance', '#text': '1500.00' },
    });
    expect(fake.requests.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('when the billing answers an order, then check gives 0/2/3 from its state', async () => {
    fake.accounts.set(`ORD-${kind}-1`, { order: { amount: '4500.00', status: 'open' } });
    fake.accounts.set(`ORD-${kind}-2`, { order: { amount: '4500.00', status: 'cancelled' } });
    fake.accounts.set(`ORD-${kind}-3`, { order: { amount: '4500.00', status: 'paid' } });
    const results = [];
    for (const n of [1, 2, 3])
      results.push((await check(t.api(), newTxnId(), `ORD-${kind}-${n}`)).xml.result);
    expect(results).toEqual(['0', '2', '3']);
  });

  it('when the billing does not know the account, then check answers 1', async () => {
    expect((await check(t.api(), newTxnId(), 'no-such-account')).xml.result).toBe('1');
  });

  it.each(['5xx', 'garbage', 'reset'] as const)(
    'when the billing is %s on check, then check answers 5 without leaking its answer',
    async (mode) => {
      const acc = newAccount();
      fake.mode = mode;
      const c = await check(t.api(), newTxnId(), acc);
      expect(c.xml.result).toBe('5');
      expect(c.xml.comment).toBe('Billing unavailable, try again later');
      expect(c.text).not.toMatch(/maintenance|Service Unavailable|ECONN/);
    },
  );

  it('when the billing is down (connection refused) on check, then check answers 5', async () => {
    const acc = newAccount();
    await fake.down();
    expect((await check(t.api(), newTxnId(), acc)).xml.result).toBe('5');
  });

  it('when the billing credits, then pay answers 0 once, sends the contract body with the key, and a repeat replays it', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    const p1 = await pay(t.api(), txn, acc, '200.00', { data1: 'x' });
    const p2 = await pay(t.api(), txn, acc, '200.00', { data1: 'x' });
    expect(p1.xml.result).toBe('0');
    expect(p1.xml.prv_txn).toMatch(/^\d+$/);
    expect(p2.xml).toEqual(p1.xml);
    const key = `kaspi:${txn}`;
    expect(fake.creditCalls(key)).toHaveLength(1);
    expect(fake.appliedCount(key)).toBe(1);
    const call = fake.creditCalls(key)[0];
    expect(call?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call?.body).toEqual({
      source: 'kaspi',
      txnId: txn,
      paymentId: p1.xml.prv_txn,
      account: acc,
      amount: '200.00',
      amountMinor: 20000,
      txnDate: '2026-11-23T14:15:00+05:00',
    });
    const row = await payment(txn);
    expect(row).toMatchObject({
      state: 'credited',
      result: 0,
      billingRef: fake.credits.get(key)?.billingRef,
      attempts: 1,
    });
    expect(fake.contractViolations).toEqual([]);
  });

  it('when billing calls are made, then each is in the request log (channel billing) with the token masked', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    await pay(t.api(), txn, acc, '10.00');
    await t.gateway.stores.requestLog.flush();
    const rows = await t.gateway.db.knex('request_log').where({ channel: 'billing', txn_id: txn });
    expect(rows).toHaveLength(1);
    expect(String(rows[0].request)).toContain(`Idempotency-Key: kaspi:${txn}`);
    expect(String(rows[0].request)).toContain('Authorization: Bearer ***');
    expect(Number(rows[0].http_status)).toBe(201);
    const all = await t.gateway.db.knex('request_log').select('request', 'response');
    expect(JSON.stringify(all)).not.toContain(TOKEN);
    expect(logs.raw()).not.toContain(TOKEN);
  });

  it.each([
    ['404', '1', 'Account not found'],
    ['409', '3', 'Order already paid'],
    ['409-cancelled', '2', 'Order cancelled'],
    ['422', '5', 'Payment refused by billing'],
  ] as const)(
    'when the billing answers %s, then pay fails definitively with result %s, replayed and never retried',
    async (mode, result, comment) => {
      const acc = newAccount();
      const txn = newTxnId();
      fake.mode = mode;
      const p1 = await pay(t.api(), txn, acc, '200.00');
      expect(p1.xml).toMatchObject({ result, comment });
      expect(p1.xml.prv_txn).toMatch(/^\d+$/);
      fake.heal();
      const p2 = await pay(t.api(), txn, acc, '200.00');
      expect(p2.xml).toEqual(p1.xml);
      await afterBackoff();
      await retryNow();
      expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(1);
      expect(await payment(txn)).toMatchObject({ state: 'failed', result: Number(result) });
    },
  );

  it('when the billing fails with 5xx once, then the keyed POST is repeated at once and pay answers 0', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.mode = '5xx';
    fake.failNext = 1;
    const p = await pay(t.api(), txn, acc, '200.00');
    expect(p.xml.result).toBe('0');
    expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(2);
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
  });

  it.each(['5xx', 'garbage', 'reset'] as const)(
    'when the billing stays %s, then pay answers 4 with prv_txn, repeats get 4, and the retry job credits it once after recovery',
    async (mode) => {
      const acc = newAccount();
      const txn = newTxnId();
      fake.mode = mode;
      const p1 = await pay(t.api(), txn, acc, '200.00');
      expect(p1.xml.result).toBe('4');
      expect(p1.xml.prv_txn).toMatch(/^\d+$/);
      expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(2); // BILLING_MAX_ATTEMPTS
      const pending = await payment(txn);
      expect(pending).toMatchObject({ state: 'pending', attempts: 1 });
      expect(pending.lastError).toMatch(/^billing_/);
      expect((await pay(t.api(), txn, acc, '200.00')).xml).toMatchObject({
        result: '4',
        prv_txn: p1.xml.prv_txn,
      });

      fake.heal();
      await afterBackoff();
      expect(await retryNow()).toBe(true);
      const p3 = await pay(t.api(), txn, acc, '200.00');
      expect(p3.xml).toMatchObject({ result: '0', prv_txn: p1.xml.prv_txn, sum: '200.00' });
      expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
      expect(await payment(txn)).toMatchObject({ state: 'credited', attempts: 2, lastError: null });
      expect(logs.find('warn', 'credit in doubt').length).toBeGreaterThan(0);
    },
  );

  it('when the billing is down (connection refused), then pay answers 4 and the retry job credits it when it is back', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    await fake.down();
    const p1 = await pay(t.api(), txn, acc, '300.00');
    expect(p1.xml.result).toBe('4');
    expect((await payment(txn)).lastError).toMatch(/^billing_connection/);
    await afterBackoff();
    await retryNow(); // still down: stays pending, attempt 2
    expect(await payment(txn)).toMatchObject({ state: 'pending', attempts: 2 });
    await fake.up();
    await sleep(250); // second backoff: 100..200 ms
    await retryNow();
    expect((await pay(t.api(), txn, acc, '300.00')).xml).toMatchObject({
      result: '0',
      prv_txn: p1.xml.prv_txn,
    });
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
  });

  it('when the billing applies the credit but answers after our timeout, then the repeat with the key gets the same credit: exactly one', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.slowMs = 1300; // > BILLING_TIMEOUT_MS 1000, applied before the wait
    // Only the first call is slow: slowMs applies to every call, so drop it once the first arrives.
    const first = pay(t.api(), txn, acc, '200.00');
    await fake.waitForCreditCalls(fake.creditCalls().length + 1);
    fake.slowMs = 0;
    const p = await first;
    expect(p.xml.result).toBe('0');
    expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(2);
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
    expect((await payment(txn)).billingRef).toBe(fake.credits.get(`kaspi:${txn}`)?.billingRef);
  });

  it('when every attempt times out after the billing applied it, then the payment is pending and the retry job settles it with one credit', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.slowMs = 1300;
    const p1 = await pay(t.api(), txn, acc, '200.00');
    expect(p1.xml.result).toBe('4');
    expect((await payment(txn)).lastError).toMatch(/^billing_timeout/);
    fake.heal();
    await afterBackoff();
    await retryNow();
    expect((await pay(t.api(), txn, acc, '200.00')).xml).toMatchObject({
      result: '0',
      prv_txn: p1.xml.prv_txn,
    });
    expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(3);
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
  });

  it('when the billing refuses our token (401), then pay answers 4 (never 5), the payment stays pending and an ERROR says so', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.mode = '401';
    const p = await pay(t.api(), txn, acc, '200.00');
    expect(p.xml.result).toBe('4');
    expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(1); // not worth repeating at once
    expect(await payment(txn)).toMatchObject({ state: 'pending' });
    expect(logs.find('error', 'billing refused our request').length).toBeGreaterThan(0);
  });

  it('when the same pay arrives many times at once, then one payment is recorded, its credit applied once, and every answer carries its prv_txn', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.slowMs = 250;
    const answers = await Promise.all(Array.from({ length: 8 }, () => pay(t.api(), txn, acc, '200.00')));
    const prv = answers.map((a) => a.xml.prv_txn);
    expect(new Set(prv).size).toBe(1);
    expect(prv[0]).toMatch(/^\d+$/);
    const results = answers.map((a) => a.xml.result);
    expect(results.filter((r) => r !== '0' && r !== '4')).toEqual([]);
    expect(results).toContain('0');
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
    expect(fake.maxConcurrentPerKey.get(`kaspi:${txn}`)).toBe(1);
    expect((await pay(t.api(), txn, acc, '200.00')).xml.result).toBe('0');
  });

  it('when a txn_id is reused with another sum, then it is refused with 5 and nothing is sent', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    await pay(t.api(), txn, acc, '200.00');
    const again = await pay(t.api(), txn, acc, '201.00');
    expect(again.xml).toMatchObject({ result: '5', comment: 'txn_id already used with other parameters' });
    expect(fake.creditCalls(`kaspi:${txn}`)).toHaveLength(1);
  });

  it('when a credit keeps failing, then each retry waits longer (exponential backoff with jitter)', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.mode = '5xx';
    // Each failed attempt sets next_attempt_at = now + delay on the database's clock, somewhere
    // inside the call that failed: bounded by the call's own start and end, however slow the
    // machine (the row's updated_at is the app's clock before the statement queued, not a bound).
    const windows: { from: number; to: number; due: number }[] = [];
    let from = Date.now();
    await pay(t.api(), txn, acc, '200.00');
    for (let i = 0; i < 4; i++) {
      const to = Date.now();
      const p = await payment(txn);
      const due = Date.parse(`${(p.nextAttemptAt as string).replace(' ', 'T')}Z`);
      windows.push({ from, to, due });
      await sleep(Math.max(0, due - Date.now()) + 30);
      from = Date.now();
      await retryNow();
    }
    // RETRY_BACKOFF_MS 100 doubling, capped at 1000, each between half and all of its step
    // (10 ms each way for the two clocks' rounding to the millisecond).
    const steps = [100, 200, 400, 800];
    windows.forEach((w, i) => {
      expect(w.due).toBeGreaterThanOrEqual(w.from + steps[i]! / 2 - 10);
      expect(w.due).toBeLessThanOrEqual(w.to + steps[i]! + 10);
    });
    expect(await payment(txn)).toMatchObject({ state: 'pending', attempts: 5 });
  });

  it('when a credit is still not final past the stuck age, then the retry job logs it at ERROR with its prv_txn', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.mode = '5xx';
    const p = await pay(t.api(), txn, acc, '200.00');
    // Received two hours ago: past RETRY_STUCK_AFTER_MS (60 s).
    await t.gateway.db
      .knex('payments')
      .where({ id: p.xml.prv_txn })
      .update({
        received_at: new Date(Date.now() - 2 * 3600_000).toISOString().replace('T', ' ').replace('Z', ''),
      });
    await afterBackoff();
    await retryNow();
    const stuck = logs.find('error', 'credits stuck');
    expect(stuck).toHaveLength(1);
    expect(JSON.stringify(stuck[0])).toContain(`"prvTxn":"${p.xml.prv_txn}"`);
    fake.heal();
    await sleep(250);
    await retryNow();
    expect((await payment(txn)).state).toBe('credited');
  });

  it('when two runners take the same due credit at once, then only one claims and sends it', async () => {
    const acc = newAccount();
    const txn = newTxnId();
    fake.mode = '5xx';
    await pay(t.api(), txn, acc, '200.00');
    fake.heal();
    fake.slowMs = 100;
    await afterBackoff();
    const row = await payment(txn);
    const mine = { id: row.id, attempts: row.attempts };
    expect(await t.gateway.stores.payments.findDue(1000)).toContainEqual(mine);
    const calls = fake.creditCalls(`kaspi:${txn}`).length;
    const outs = await Promise.all([
      t.gateway.services.payments.retryCredit(mine),
      t.gateway.services.payments.retryCredit(mine),
    ]);
    expect(outs.filter((o) => o !== null)).toHaveLength(1);
    expect(fake.creditCalls(`kaspi:${txn}`).length - calls).toBe(1);
    expect((await payment(txn)).state).toBe('credited');
  });
});
