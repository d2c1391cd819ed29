import * as procedureMigration from '../../db/migrations/20261125090000_pay_accounts_procedure.js';
import type { OneCallPayment } from '../../src/payments/record-and-credit/one-call.js';
import { EMBEDDED_CREDIT_REF } from '../../src/billing/sql-billing.js';
import { isRetryableTxError, isUniqueViolation } from '../../src/db/db.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { balanceOf, count, creditsFor, paymentsFor } from '../support/ledger.js';

/**
 * The common pay in one database call (a stored procedure on MySQL, one synchronous transaction on
 * SQLite), driven directly: what it writes, what it refuses to write, and that the unique key still
 * decides between concurrent calls. The HTTP tests of Kaspi's pay run through it too.
 */
describe.each(dbKinds)('[%s] one-call credit', (kind) => {
  let t: TestGateway;
  const payment = (over: Partial<OneCallPayment> = {}): OneCallPayment => ({
    source: 'kaspi',
    txnId: newTxnId(),
    account: 'OC-1',
    amount: 12345,
    txnDateRaw: '20261123141500',
    txnDate: '2026-11-23 09:15:00.000',
    extra: null,
    comment: 'OK',
    billingRef: EMBEDDED_CREDIT_REF,
    ...over,
  });
  const writes = async () => ({
    payments: await count(t.gateway, 'payments'),
    ledger: await count(t.gateway, 'account_ledger'),
  });

  beforeAll(async () => {
    t = await startTestGateway(kind);
    await t.gateway.stores.accounts.addAccount({ account: 'OC-1', name: 'Payer', balance: 0 });
    await t.gateway.stores.accounts.addAccount({ account: 'OC-2', name: 'Payer', balance: 0 });
    await t.gateway.stores.accounts.addAccount({ account: 'OC-CLOSED', name: 'Gone', balance: 0 });
    await t.gateway.stores.accounts.setAccountStatus('OC-CLOSED', 'closed');
    await t.gateway.stores.accounts.addOrder({ number: 'OC-ORDER-1', amount: 5000, account: 'OC-2' });
  });
  afterAll(() => t.close());

  it('when the account is active, then the payment is stored credited with its ledger line and the balance, in one commit', async () => {
    const p = payment({ txnId: '999999999999999999', extra: { data1: 'a&b', data2: 'й' } });
    const before = await balanceOf(t.gateway, 'OC-1');
    const id = await t.gateway.stores.oneCall.run(p);
    expect(id).toMatch(/^\d+$/);
    const [row] = await paymentsFor(t.gateway, '999999999999999999');
    expect(row).toMatchObject({
      source: 'kaspi',
      txn_id: '999999999999999999',
      account: 'OC-1',
      state: 'credited',
      comment: 'OK',
      billing_ref: EMBEDDED_CREDIT_REF,
      txn_date_raw: '20261123141500',
      order_number: null,
      next_attempt_at: null,
    });
    expect(String(row.id)).toBe(id);
    expect(Number(row.result)).toBe(0);
    expect(String(row.amount)).toBe('12345');
    expect(String(row.txn_date)).toMatch(/^2026-11-23 09:15:00/);
    expect(JSON.parse(String(row.extra))).toEqual({ data1: 'a&b', data2: 'й' });
    expect(row.credited_at).not.toBeNull();
    const credits = await creditsFor(t.gateway, '999999999999999999');
    expect(credits).toHaveLength(1);
    expect(credits[0]).toMatchObject({ kind: 'credit', ref: '', account: 'OC-1' });
    expect(String(credits[0].amount)).toBe('12345');
    expect(await balanceOf(t.gateway, 'OC-1')).toBe(before + 12345);
  });

  it.each([
    ['an unknown account', 'OC-NOBODY'],
    ['a closed account', 'OC-CLOSED'],
    ['an order number', 'OC-ORDER-1'],
  ])('when it names %s, then null and nothing is written', async (_what, account) => {
    const before = await writes();
    expect(await t.gateway.stores.oneCall.run(payment({ account, amount: 5000 }))).toBeNull();
    expect(await writes()).toEqual(before);
    expect(await balanceOf(t.gateway, 'OC-CLOSED')).toBe(0);
  });

  it('when the txn_id is already stored, then the unique violation comes back and nothing more is written', async () => {
    const p = payment({ amount: 100 });
    expect(await t.gateway.stores.oneCall.run(p)).not.toBeNull();
    const before = { ...(await writes()), balance: await balanceOf(t.gateway, 'OC-1') };
    const again = await t.gateway.stores.oneCall.run(p).then(
      () => 'written',
      (e: unknown) => e,
    );
    expect(isUniqueViolation(again)).toBe(true);
    expect({ ...(await writes()), balance: await balanceOf(t.gateway, 'OC-1') }).toEqual(before);
  });

  it('when 20 calls with one txn_id run at once, then exactly one stores it and one credit is made', async () => {
    const p = payment({ account: 'OC-2', amount: 700 });
    const before = await balanceOf(t.gateway, 'OC-2');
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.gateway.stores.oneCall.run(p).then(
          (id) => ({ id }),
          (e: unknown) => ({ e }),
        ),
      ),
    );
    const stored = outcomes.filter((o) => 'id' in o);
    expect(stored).toHaveLength(1);
    for (const o of outcomes)
      if ('e' in o) expect(isUniqueViolation(o.e) || isRetryableTxError(o.e)).toBe(true);
    expect(await creditsFor(t.gateway, p.txnId)).toHaveLength(1);
    expect(await balanceOf(t.gateway, 'OC-2')).toBe(before + 700);
  });

  it('when Kaspi pays an active account and then an order, then the first goes in one call and the order the general way', async () => {
    const txn = newTxnId();
    const r = await pay(t.api(), txn, 'OC-1', '1.00');
    expect(r.xml.result).toBe('0');
    const [row] = await paymentsFor(t.gateway, txn);
    expect(row).toMatchObject({ state: 'credited', billing_ref: EMBEDDED_CREDIT_REF });
    const order = newTxnId();
    const o = await pay(t.api(), order, 'OC-ORDER-1', '50.00');
    expect(o.xml.result).toBe('0');
    const [orderRow] = await paymentsFor(t.gateway, order);
    expect(orderRow).toMatchObject({
      state: 'credited',
      order_number: 'OC-ORDER-1',
      billing_ref: EMBEDDED_CREDIT_REF,
    });
    expect(await creditsFor(t.gateway, order)).toHaveLength(1);
  });

  it('when pays of every kind arrive at once, then each gets its own outcome, and on MySQL they share calls', async () => {
    const stored = payment({ amount: 1 });
    expect(await t.gateway.stores.oneCall.run(stored)).not.toBeNull();
    const twin = payment({ account: 'OC-2', amount: 3 });
    const before = { one: await balanceOf(t.gateway, 'OC-1'), two: await balanceOf(t.gateway, 'OC-2') };
    const calls = t.gateway.stores.oneCall.stats.calls;
    const pays = [
      ...Array.from({ length: 30 }, (_, i) => payment({ account: i % 2 ? 'OC-1' : 'OC-2', amount: 10 })),
      payment({ account: 'OC-NOBODY' }),
      payment({ account: 'OC-ORDER-1', amount: 5000 }),
      stored,
      twin,
      twin,
    ];
    const outcomes = await Promise.all(
      pays.map((p) =>
        t.gateway.stores.oneCall.run(p).then(
          (id) => ({ id }),
          (e: unknown) => ({ e }),
        ),
      ),
    );
    for (const o of outcomes.slice(0, 30))
      expect(o).toEqual({ id: expect.stringMatching(/^\d+$/) as string });
    expect(new Set(outcomes.slice(0, 30).map((o) => ('id' in o ? o.id : null))).size).toBe(30);
    expect(outcomes[30]).toEqual({ id: null });
    expect(outcomes[31]).toEqual({ id: null });
    expect('e' in outcomes[32]! && isUniqueViolation(outcomes[32].e)).toBe(true);
    const twins = outcomes.slice(33);
    expect(twins.filter((o) => 'id' in o && o.id !== null)).toHaveLength(1);
    expect(twins.filter((o) => 'e' in o && isUniqueViolation(o.e))).toHaveLength(1);
    expect(await balanceOf(t.gateway, 'OC-1')).toBe(before.one + 150);
    expect(await balanceOf(t.gateway, 'OC-2')).toBe(before.two + 150 + 3);
    expect(await creditsFor(t.gateway, twin.txnId)).toHaveLength(1);
    if (kind === 'mysql') expect(t.gateway.stores.oneCall.stats.calls - calls).toBeLessThan(pays.length / 2);
  });

  if (kind === 'mysql') {
    it('when a batch fails as a whole (one pay too long for its column), then each pay goes again alone and only that one fails', async () => {
      const split = t.gateway.stores.oneCall.stats.split;
      // The first goes alone at once (the lane was free); the rest wait for it and go together.
      const pays = [
        ...Array.from({ length: 9 }, () => payment({ account: 'OC-1', amount: 1 })),
        payment({ txnId: '9'.repeat(70), amount: 1 }),
      ];
      const outcomes = await Promise.all(
        pays.map((p) =>
          t.gateway.stores.oneCall.run(p).then(
            (id) => ({ id }),
            (e: unknown) => ({ e }),
          ),
        ),
      );
      expect(outcomes.slice(0, 9).every((o) => 'id' in o && o.id !== null)).toBe(true);
      expect('e' in outcomes[9]!).toBe(true);
      expect(t.gateway.stores.oneCall.stats.split).toBeGreaterThan(split);
      for (const p of pays.slice(0, 9)) expect(await creditsFor(t.gateway, p.txnId)).toHaveLength(1);
      expect(await paymentsFor(t.gateway, '9'.repeat(70))).toHaveLength(0);
    });

    it('when an account row is locked by a long transaction, then its pay waits alone and the batch it came with is credited at once', async () => {
      await t.gateway.stores.accounts.addAccount({ account: 'OC-LOCKED', name: 'Payer', balance: 0 });
      const trx = await t.gateway.db.knex.transaction();
      let lockedDone = false;
      try {
        await trx.raw('select * from `accounts` where `account` = ? for update', ['OC-LOCKED']);
        const run = (p: OneCallPayment) => t.gateway.stores.oneCall.run(p);
        const alone = [1, 2, 3].map(() => run(payment({ account: 'OC-1', amount: 1 })));
        const lockedPay = payment({ account: 'OC-LOCKED', amount: 42 });
        const locked = run(lockedPay).then((id) => {
          lockedDone = true;
          return id;
        });
        const rest = Array.from({ length: 6 }, () => run(payment({ account: 'OC-2', amount: 1 })));
        const ids = await Promise.all([...alone, ...rest]);
        expect(ids.every((id) => id !== null)).toBe(true);
        expect(lockedDone).toBe(false);
        await trx.rollback();
        expect(await locked).toMatch(/^\d+$/);
        expect(await creditsFor(t.gateway, lockedPay.txnId)).toHaveLength(1);
        expect(await balanceOf(t.gateway, 'OC-LOCKED')).toBe(42);
      } finally {
        if (!trx.isCompleted()) await trx.rollback();
      }
    });
  }

  it('when the migration that creates the procedure runs again, then it succeeds and pays still go through', async () => {
    await procedureMigration.up(t.gateway.db.knex);
    await procedureMigration.up(t.gateway.db.knex);
    expect(await t.gateway.stores.oneCall.run(payment({ amount: 1 }))).not.toBeNull();
  });
});
