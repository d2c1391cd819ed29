import type { Knex } from 'knex';
import { createDb } from '../../src/db/db.js';
import type { Payment } from '../../src/payments/payment-store.js';
import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, newTxnId, pay } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';

/**
 * No timing asserts (a loaded machine makes them fail): each case holds what the pay waits for (the
 * billing's call, the pool's only connection, a row lock) until the answer is in, so an answer at all
 * shows the deadline cut it; the answer's result, prv_txn and the stored state say what it promised.
 */
const DEADLINE_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
captureLogs('error');

/**
 * A repeat of a stored pay, as Kaspi repeats one: again while the answer is 4 (a repeat on a loaded
 * machine may meet the deadline itself), at most 20 times; the first other answer.
 */
async function settled(...args: Parameters<typeof pay>): ReturnType<typeof pay> {
  for (let i = 1; ; i++) {
    const answer = await pay(...args);
    if (answer.xml.result !== '4' || i === 20) return answer;
    await sleep(100);
  }
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

describe.each(dbKinds)('[%s] pay deadline', (kind) => {
  let fake: FakeBilling;
  let sql: TestGateway;
  let remote: TestGateway;
  const payment = async (g: TestGateway, txn: string) => g.gateway.stores.payments.findByTxn('kaspi', txn);

  beforeAll(async () => {
    fake = await new FakeBilling().start();
    const common = { PAY_DEADLINE_MS: DEADLINE_MS, DB_POOL_MAX: 1 };
    sql = await startTestGateway(kind, common);
    remote = await startTestGateway(kind, {
      ...common,
      BILLING_ADAPTER: 'http',
      BILLING_URL: fake.url,
      BILLING_TIMEOUT_MS: 3000,
      BILLING_MAX_ATTEMPTS: 2,
    });
  });
  afterEach(() => fake.heal());
  afterAll(async () => {
    await sql.close();
    await remote.close();
    await fake.close();
  });

  /** Takes the gateway's only pool connection, as a stuck query or a pool drained by a storm would. */
  async function holdPool(g: TestGateway): Promise<Knex.Transaction> {
    const trx = await g.gateway.db.knex.transaction();
    await trx.raw('select 1');
    return trx;
  }

  it('when the billing answers later than the deadline, then pay answers 4 with prv_txn in time and the credit lands after it', async () => {
    fake.accounts.set('8001', { name: 'A B' });
    // The billing keeps the credit call open, not applied, until released: an answer before that is the deadline's.
    fake.hold = 'before-apply';
    const txn = newTxnId();
    const first = await pay(remote.api(), txn, '8001', '200.00');
    expect(first.xml.result).toBe('4');
    expect(first.xml.prv_txn).toMatch(/^\d+$/);
    expect((await payment(remote, txn))?.state).toBe('crediting');
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(0);
    expect((await pay(remote.api(), txn, '8001', '200.00')).xml).toMatchObject({
      result: '4',
      prv_txn: first.xml.prv_txn,
    });
    fake.hold = 'none';
    fake.release();
    await until('credited', async () => (await payment(remote, txn))?.state === 'credited');
    expect((await settled(remote.api(), txn, '8001', '200.00')).xml).toMatchObject({
      result: '0',
      prv_txn: first.xml.prv_txn,
    });
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
  });

  it('when the database gives no connection (embedded billing), then pay answers 4 in time, and the held pay commits once the database is back', async () => {
    await sql.gateway.stores.accounts.addAccount({ account: '8101', name: 'C D', balance: 0 });
    const txn = newTxnId();
    const trx = await holdPool(sql);
    let answer;
    try {
      answer = await pay(sql.api(), txn, '8101', '150.00');
    } finally {
      await trx.commit();
    }
    // Nothing was committed when we answered: no prv_txn to promise, but never a final "no".
    expect(answer.xml).toMatchObject({ result: '4', txn_id: txn });
    expect(answer.xml.prv_txn).toBeUndefined();
    await until('credited', async () => (await payment(sql, txn))?.state === 'credited');
    const again = await settled(sql.api(), txn, '8101', '150.00');
    expect(again.xml.result).toBe('0');
    expect(again.xml.prv_txn).toBe((await payment(sql, txn))?.id);
    expect((await sql.gateway.stores.accounts.getAccount('8101'))?.balance).toBe(15000);
  });

  it('when the database gives no connection (external billing), then pay answers 4 in time and the payment is recorded and credited once it is back', async () => {
    fake.accounts.set('8201', { name: 'E F' });
    const txn = newTxnId();
    const trx = await holdPool(remote);
    let answer;
    try {
      answer = await pay(remote.api(), txn, '8201', '99.99');
    } finally {
      await trx.commit();
    }
    // Nothing was committed when we answered: no prv_txn to promise, but never a final "no".
    expect(answer.xml).toMatchObject({ result: '4', txn_id: txn });
    expect(answer.xml.prv_txn).toBeUndefined();
    await until('credited', async () => (await payment(remote, txn))?.state === 'credited');
    const row = (await payment(remote, txn)) as Payment;
    expect((await settled(remote.api(), txn, '8201', '99.99')).xml).toMatchObject({
      result: '0',
      prv_txn: row.id,
    });
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
  });

  it('when the database stalls after the billing credited (external billing), then pay answers 4 with prv_txn in time and settles to 0', async () => {
    fake.accounts.set('8301', { name: 'G H' });
    // The billing applies the credit and holds its answer until the pool is taken: the row is in, its
    // final state must wait for the pool, and only the deadline can answer.
    fake.hold = 'after-apply';
    const txn = newTxnId();
    let trx: Knex.Transaction | undefined;
    const holding = fake.waitForCreditCalls(fake.creditCalls().length + 1).then(async () => {
      trx = await holdPool(remote);
      fake.hold = 'none';
      fake.release();
    });
    const answer = await pay(remote.api(), txn, '8301', '10.00');
    await holding;
    expect(answer.xml.result).toBe('4');
    expect(answer.xml.prv_txn).toMatch(/^\d+$/);
    await trx?.commit();
    await until('credited', async () => (await payment(remote, txn))?.state === 'credited');
    expect((await settled(remote.api(), txn, '8301', '10.00')).xml).toMatchObject({
      result: '0',
      prv_txn: answer.xml.prv_txn,
    });
    expect(fake.appliedCount(`kaspi:${txn}`)).toBe(1);
  });

  it('when the billing answers a check later than the deadline, then check answers 5 in time', async () => {
    fake.accounts.set('8501', { name: 'Q R' });
    // Slower than the deadline but within BILLING_TIMEOUT_MS: only the deadline can answer 5 here.
    fake.slowMs = 1200;
    const c = await check(remote.api(), newTxnId(), '8501');
    expect(c.xml).toMatchObject({ result: '5', comment: 'Billing unavailable, try again later' });
  });

  it('when the database gives no connection, then check (embedded billing) answers 5 in time', async () => {
    await sql.gateway.stores.accounts.addAccount({ account: '8601', name: 'S T', balance: 0 });
    const trx = await holdPool(sql);
    let c;
    try {
      c = await check(sql.api(), newTxnId(), '8601');
    } finally {
      await trx.commit();
    }
    expect(c.xml.result).toBe('5');
    expect((await check(sql.api(), newTxnId(), '8601')).xml.result).toBe('0');
  });

  // A row lock held elsewhere is a MySQL case: SQLite's driver waits for a lock synchronously
  // (busy_timeout), so there the pool case above is the stall a deadline can cut.
  if (kind === 'mysql') {
    it('when another connection holds the account row lock (embedded billing), then pay answers 4 in time and credits once the lock goes', async () => {
      await sql.gateway.stores.accounts.addAccount({ account: '8401', name: 'I J', balance: 0 });
      const other = createDb(sql.database.url);
      const trx = await other.knex.transaction();
      await trx('accounts').where({ account: '8401' }).forUpdate().first();
      const txn = newTxnId();
      let answer;
      try {
        answer = await pay(sql.api(), txn, '8401', '75.00');
      } finally {
        await trx.rollback();
        await other.close();
      }
      expect(answer.xml.result).toBe('4');
      await until('credited', async () => (await payment(sql, txn))?.state === 'credited');
      expect((await settled(sql.api(), txn, '8401', '75.00')).xml.result).toBe('0');
      expect((await sql.gateway.stores.accounts.getAccount('8401'))?.balance).toBe(7500);
    });
  }
});
