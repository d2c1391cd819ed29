import {
  ONE_CALL_LEDGER_COLUMNS,
  ONE_CALL_LEDGER_UNSET,
  ONE_CALL_PAYMENT_COLUMNS,
  ONE_CALL_PAYMENT_UNSET,
} from '../../src/payments/record-and-credit/one-call-columns.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { failCreditsAfterBalance } from '../support/fail-after-credit.js';
import { balanceOf, count, creditsFor } from '../support/ledger.js';
import { pay } from '../support/kaspi.js';

/**
 * The three writers of a common pay must write the same rows: the general path (statement by
 * statement), and the one call (SQLite's synchronous transaction, MySQL's procedure). Two gateways,
 * each on a database of its own with the same accounts and orders, get the same pays of every
 * outcome kind; the rows they store must be equal in every column but ids and times.
 */
type Row = Record<string, unknown>;
const TIMES = ['received_at', 'updated_at', 'credited_at', 'created_at', 'next_attempt_at', 'flagged_at'];

/** A row without its ids; times only as "set or not", every value as text (drivers differ in types). */
function comparable(r: Row, ids: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(r)) {
    if (ids.includes(k)) continue;
    out[k] = TIMES.includes(k) ? (v == null ? null : 'set') : v == null ? null : String(v);
  }
  return out;
}

async function seed(t: TestGateway): Promise<void> {
  const a = t.gateway.stores.accounts;
  await a.addAccount({ account: 'PA-1', name: 'Payer One', balance: 100 });
  await a.addAccount({ account: 'PA-2', name: 'Payer Two', balance: 0 });
  await a.addAccount({ account: 'PA-CLOSED', name: 'Gone', balance: 0 });
  await a.setAccountStatus('PA-CLOSED', 'closed');
  await a.addOrder({ number: 'PO-1', amount: 5000, account: 'PA-2' });
  await a.addOrder({ number: 'PO-2', amount: 5000, account: 'PA-2' });
  await a.addOrder({ number: 'PO-CANCELLED', amount: 5000, account: 'PA-2' });
  await a.cancelOrder('PO-CANCELLED');
}

/** Every outcome kind a pay can have, with and without Kaspi's data1..dataN. */
const PAYS: { txn: string; account: string; sum: string; extra?: Record<string, string> }[] = [
  { txn: '900000000000000001', account: 'PA-1', sum: '200.00' },
  { txn: '900000000000000002', account: 'PA-1', sum: '1.01', extra: { data1: 'a&b', data2: 'й' } },
  { txn: '900000000000000003', account: 'PA-2', sum: '12345.67' },
  { txn: '900000000000000004', account: 'PA-NOBODY', sum: '10.00' },
  { txn: '900000000000000005', account: 'PA-CLOSED', sum: '10.00' },
  { txn: '900000000000000006', account: 'PO-1', sum: '50.00' },
  { txn: '900000000000000007', account: 'PO-1', sum: '50.00' },
  { txn: '900000000000000008', account: 'PO-CANCELLED', sum: '50.00' },
  { txn: '900000000000000009', account: 'PO-2', sum: '60.00' },
  { txn: '900000000000000010', account: 'PO-2', sum: '10.00' },
];

describe.each(dbKinds)('[%s] the one call and the general path write the same rows', (kind) => {
  let oneCall: TestGateway;
  let general: TestGateway;

  beforeAll(async () => {
    oneCall = await startTestGateway(kind);
    general = await startTestGateway(kind, {}, { oneCall: () => null });
    await seed(oneCall);
    await seed(general);
  });
  afterAll(async () => {
    await oneCall?.close();
    await general?.close();
  });

  it('when the same pays of every outcome kind go down both paths, then payments, ledger lines and balances are identical but for ids and times', async () => {
    const before = oneCall.gateway.stores.oneCall.stats.pays;
    for (const p of PAYS) {
      const a = await pay(oneCall.api(), p.txn, p.account, p.sum, p.extra);
      const b = await pay(general.api(), p.txn, p.account, p.sum, p.extra);
      expect({ txn: p.txn, ...a.xml, prv_txn: undefined }).toEqual({
        txn: p.txn,
        ...b.xml,
        prv_txn: undefined,
      });
    }
    // The first three are the one call's (active accounts); the general gateway never used it.
    expect(oneCall.gateway.stores.oneCall.stats.pays - before).toBeGreaterThanOrEqual(3);
    expect(general.gateway.stores.oneCall.stats.pays).toBe(0);

    const payments = async (t: TestGateway) =>
      ((await t.gateway.db.knex('payments').orderBy('txn_id')) as Row[]).map((r) => comparable(r, ['id']));
    const ledger = async (t: TestGateway) =>
      (
        (await t.gateway.db
          .knex('account_ledger')
          .join('payments', 'payments.id', 'account_ledger.payment_id')
          .orderBy('payments.txn_id')
          .select('account_ledger.*', 'payments.txn_id as of_txn')) as Row[]
      ).map((r) => comparable(r, ['id', 'payment_id']));
    const oneCallPayments = await payments(oneCall);
    expect(oneCallPayments).toHaveLength(PAYS.length);
    expect(oneCallPayments.filter((r) => r.state === 'credited').length).toBe(4);
    expect(oneCallPayments).toEqual(await payments(general));
    expect(await ledger(oneCall)).toEqual(await ledger(general));
    for (const acc of ['PA-1', 'PA-2', 'PA-CLOSED'])
      expect(await balanceOf(oneCall.gateway, acc)).toBe(await balanceOf(general.gateway, acc));
  });

  it('when payments or account_ledger has a column the one call does not name, then this guard fails', async () => {
    const columns = async (table: string) =>
      Object.keys(await oneCall.gateway.db.knex(table).columnInfo()).sort();
    expect(await columns('payments')).toEqual(
      [...ONE_CALL_PAYMENT_COLUMNS, ...ONE_CALL_PAYMENT_UNSET].sort(),
    );
    expect(await columns('account_ledger')).toEqual(
      [...ONE_CALL_LEDGER_COLUMNS, ...ONE_CALL_LEDGER_UNSET].sort(),
    );
  });

  it('when the one call fails after the balance was written, then nothing is stored and the repeat credits once', async () => {
    const txn = '900000000000000099';
    const payments = await count(oneCall.gateway, 'payments');
    const balance = await balanceOf(oneCall.gateway, 'PA-1');
    const calls = oneCall.gateway.stores.oneCall.stats.pays;
    const stopFailing = await failCreditsAfterBalance(oneCall.gateway, 'PA-1');
    let r;
    try {
      r = await pay(oneCall.api(), txn, 'PA-1', '77.00');
    } finally {
      await stopFailing();
    }
    expect(oneCall.gateway.stores.oneCall.stats.pays).toBeGreaterThan(calls);
    expect(r.xml.result).toBe('4');
    expect(r.xml.prv_txn).toBeUndefined();
    expect(await count(oneCall.gateway, 'payments')).toBe(payments);
    expect(await balanceOf(oneCall.gateway, 'PA-1')).toBe(balance);
    const again = await pay(oneCall.api(), txn, 'PA-1', '77.00');
    expect(again.xml.result).toBe('0');
    expect(await balanceOf(oneCall.gateway, 'PA-1')).toBe(balance + 7700);
    expect(await creditsFor(oneCall.gateway, txn)).toHaveLength(1);
  });
});
