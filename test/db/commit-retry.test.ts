import { commitConflict, withCommitRetry } from '../../src/db/commit-retry.js';
import type { Db } from '../../src/db/db.js';
import { AwaitingPayments } from '../../src/payments/awaiting-payments.js';
import { PaymentFlags } from '../../src/payments/payment-flags.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import { ForcedConflict } from '../support/forced-conflict.js';
import type { TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { balanceOf, count, creditsFor, paymentsFor } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';
import { AUTH, creditedPayment, startRefundGateway } from '../support/refunds.js';

const deadlock = () =>
  Object.assign(new Error('Deadlock found when trying to get lock'), {
    code: 'ER_LOCK_DEADLOCK',
    errno: 1213,
  });

describe('withCommitRetry', () => {
  const db = (attempts?: number) => ({ commitAttempts: attempts }) as unknown as Db;

  it('when the database aborts a transaction for a conflict, then it runs again, logged at debug, until it commits', async () => {
    const logs = captureLogs('debug');
    let runs = 0;
    const out = await withCommitRetry(db(4), 'test write', async () => {
      runs += 1;
      if (runs < 3) throw deadlock();
      return 'done';
    });
    expect(out).toBe('done');
    expect(runs).toBe(3);
    expect(logs.find('debug', 'database conflict: running it again')).toHaveLength(2);
    expect(logs.lines.filter((l) => l.level === 'warn')).toHaveLength(0);
  });

  it('when the attempts run out, then one WARN and the last error goes to the caller', async () => {
    const logs = captureLogs('debug');
    let runs = 0;
    const e = await withCommitRetry(db(3), 'test write', async () => {
      runs += 1;
      throw deadlock();
    }).catch((x: unknown) => x);
    expect(commitConflict(e)).toBe('deadlock');
    expect(runs).toBe(3);
    expect(logs.find('warn', 'attempts ran out')).toHaveLength(1);
  });

  it('when DB_COMMIT_ATTEMPTS is 1, then nothing runs twice; a unique violation or any other error is never run again', async () => {
    captureLogs('error');
    let runs = 0;
    await expect(
      withCommitRetry(db(1), 'w', async () => {
        runs += 1;
        throw deadlock();
      }),
    ).rejects.toThrow('Deadlock');
    expect(runs).toBe(1);
    for (const err of [
      Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY', errno: 1062 }),
      new Error('Should not reach here: 255'),
    ]) {
      runs = 0;
      await expect(
        withCommitRetry(db(4), 'w', async () => {
          runs += 1;
          throw err;
        }),
      ).rejects.toBe(err);
      expect(runs).toBe(1);
    }
  });

  it('when the connection broke mid-statement and the work is idempotent, then it runs again; 1205 and SQLSTATE 40001 count as conflicts', async () => {
    captureLogs('error');
    let runs = 0;
    const broken = Object.assign(new Error('Should not reach here: 255'), { fatal: true });
    const out = await withCommitRetry(
      db(4),
      'pay',
      async () => {
        runs += 1;
        if (runs === 1) throw broken;
        return 1;
      },
      {},
      { idempotent: true },
    );
    expect([out, runs]).toEqual([1, 2]);
    expect(commitConflict({ errno: 1205 })).toBe('lock_wait');
    expect(commitConflict({ sqlState: '40001', errno: 1644 })).toBe('deadlock');
    expect(commitConflict({ errno: 1062 })).toBeNull();
  });
});

/**
 * On MariaDB: a deadlock forced (test/support/forced-conflict.ts) inside each write path, as a
 * Galera node fails a transaction at COMMIT; each path runs again and stores its work once.
 */
const onMysql = dbKinds.includes('mysql') ? describe : describe.skip;

onMysql('[mysql] a deadlock forced in every write path', () => {
  const kind = 'mysql' as const;
  let fake: FakeRefundApi;
  let database: TestDatabase;
  let t: TestGateway;
  let off: TestGateway;
  let forced: ForcedConflict;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    database = await createTestDatabase(kind);
    t = await startRefundGateway(kind, fake, {}, database);
    off = await startRefundGateway(kind, fake, { DB_COMMIT_ATTEMPTS: 1 }, database);
    forced = new ForcedConflict(t.gateway.db.knex);
  });
  afterEach(async () => {
    await forced.clear();
  });
  afterAll(async () => {
    await t.close();
    await off.close();
    await database.drop();
    await fake.stop();
  });

  const account = async (name: string) => {
    await t.gateway.stores.accounts.addAccount({ account: name, name: 'Payer', balance: 0 });
    return name;
  };

  it('when the one call (the stored procedure CALL) meets a deadlock, then the pay runs again: one payment, one credit', async () => {
    const acc = await account(`CR-ONE-${process.pid}`);
    await forced.arm('payments', 'insert');
    const txn = newTxnId();
    const res = await pay(t.api(), txn, acc, '120.00');
    expect(res.xml.result).toBe('0');
    expect(await forced.remaining('payments', 'insert')).toBe(0);
    expect(await paymentsFor(t.gateway, txn)).toHaveLength(1);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    expect(await balanceOf(t.gateway, acc)).toBe(120_00);
  });

  it('when the general path (an order) meets a deadlock at its credit, then it runs again: the order paid once', async () => {
    await t.gateway.stores.accounts.addOrder({ number: `ORD-CR-${process.pid}`, amount: 300_00 });
    await forced.arm('account_ledger', 'insert');
    const txn = newTxnId();
    const res = await pay(t.api(), txn, `ORD-CR-${process.pid}`, '300.00');
    expect(res.xml.result).toBe('0');
    expect(await forced.remaining('account_ledger', 'insert')).toBe(0);
    expect(await paymentsFor(t.gateway, txn)).toHaveLength(1);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    expect((await t.gateway.stores.accounts.getOrder(`ORD-CR-${process.pid}`))?.status).toBe('paid');
  });

  it('when a credit of a stored payment (creditStored, the retry job) meets a deadlock, then it runs again and credits once', async () => {
    const acc = await account(`CR-STORED-${process.pid}`);
    const awaiting = new AwaitingPayments(t.gateway.stores.payments, new PaymentFlags(t.gateway.db));
    const ids: string[] = [];
    for (const txn of ['900000000000000701', '900000000000000702']) {
      ids.push(
        await t.gateway.db.knex.transaction((trx) =>
          awaiting.record(trx, { source: 'kaspi_qr', txnId: txn, account: acc, amount: 50_00 }),
        ),
      );
    }
    await forced.arm('account_ledger', 'insert');
    expect((await t.gateway.services.payments.creditStored(ids[0]!, ['awaiting_payment'])).result).toBe(0);
    await t.gateway.db.knex('payments').where({ id: ids[1] }).update({ state: 'pending' });
    await forced.arm('account_ledger', 'insert');
    expect((await t.gateway.services.payments.retryCredit({ id: ids[1]!, attempts: 0 }))?.result).toBe(0);
    expect(await forced.remaining('account_ledger', 'insert')).toBe(0);
    for (const txn of ['900000000000000701', '900000000000000702'])
      expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    expect(await balanceOf(t.gateway, acc)).toBe(100_00);
  });

  it('when the Refund API token row and then the refund meet a deadlock, then each runs again: one token, one refund, the payment row written once', async () => {
    const p = await creditedPayment(t, '100.00');
    await forced.arm('refund_api_token', 'update');
    await forced.arm('refunds', 'insert');
    const res = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '40.00', reason: 'forced deadlock' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('accepted');
    expect(await forced.remaining('refund_api_token', 'update')).toBe(0);
    expect(await forced.remaining('refunds', 'insert')).toBe(0);
    expect(fake.issued).toHaveLength(1);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(1);
    const [payment] = await paymentsFor(t.gateway, p.txnId);
    expect(Number(payment.refund_version)).toBe(1);
  });

  it('when a job lease meets a deadlock, then the take runs again and the job runs once', async () => {
    await forced.arm('job_leases', 'update');
    await forced.arm('job_leases', 'insert');
    expect(await t.gateway.scheduler.runNow('refund-poll')).toBe(true);
    expect(await forced.remaining('job_leases', 'update')).toBe(0);
    const lease = await t.gateway.db.knex('job_leases').where({ name: 'refund-poll' }).first();
    expect(lease.owner).toBeNull();
    expect(lease.last_finished_at).not.toBeNull();
  });

  it('when DB_COMMIT_ATTEMPTS=1 and a pay meets a deadlock, then Kaspi gets 4 with nothing stored, and its repeat credits once', async () => {
    const acc = await account(`CR-OFF-${process.pid}`);
    await forced.arm('payments', 'insert');
    const txn = newTxnId();
    const first = await pay(off.api(), txn, acc, '70.00');
    expect(first.xml.result).toBe('4');
    expect(first.xml.prv_txn).toBeUndefined();
    expect(await paymentsFor(t.gateway, txn)).toHaveLength(0);
    expect(await balanceOf(t.gateway, acc)).toBe(0);
    const again = await pay(off.api(), txn, acc, '70.00');
    expect(again.xml.result).toBe('0');
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    expect(await balanceOf(t.gateway, acc)).toBe(70_00);
  });

  it('when DB_COMMIT_ATTEMPTS=1 and a refund meets a deadlock, then it is refused with no refund, no audit line, the payment row untouched', async () => {
    const p = await creditedPayment(t, '100.00');
    const audits = await count(t.gateway, 'audit_log');
    await forced.arm('refunds', 'insert');
    const res = await off
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '40.00', reason: 'forced deadlock' });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).not.toMatch(/Deadlock|trigger|insert into|at .*\.ts/);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(0);
    expect(await count(t.gateway, 'audit_log')).toBe(audits);
    const [payment] = await paymentsFor(t.gateway, p.txnId);
    expect(Number(payment.refund_version)).toBe(0);
  });
});
