import { isUniqueViolation } from '../../src/db/db.js';
import { dbKinds } from '../support/databases.js';
import { failCreditsAfterBalance } from '../support/fail-after-credit.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { balanceOf, count, creditsFor, paymentsFor } from '../support/ledger.js';

/**
 * Every case on both ways a pay is written: in one database call (a plain active account, what most
 * pays are) and statement by statement in a knex transaction (orders, refusals, billings without the
 * one call). The injected failure needs the second way, so while it is on the one call steps aside.
 */
const paths = ['one call', 'statement by statement'] as const;
const cases = dbKinds.flatMap((kind) => paths.map((path) => [kind, path] as const));

describe.each(cases)('[%s] exactly once per txn_id (%s)', (kind, path) => {
  let t: TestGateway;
  /** Pays the one call stored since the test began: proof of which way is under test. */
  let oneCallBefore = 0;
  const oneCallStored = () => t.gateway.stores.oneCall.stats.pays - oneCallBefore;

  beforeAll(async () => {
    t = await startTestGateway(kind, { DB_POOL_MAX: 20 }, path === 'one call' ? {} : { oneCall: () => null });
    for (let i = 0; i < 5; i++)
      await t.gateway.stores.accounts.addAccount({ account: `EO-${i}`, name: 'Payer', balance: 0 });
  });
  beforeEach(() => {
    oneCallBefore = t.gateway.stores.oneCall.stats.pays;
  });
  afterAll(() => t.close());

  it('when 50 identical pays arrive at once, then one credit and 50 identical answers', async () => {
    const txn = newTxnId();
    const answers = await Promise.all(Array.from({ length: 50 }, () => pay(t.api(), txn, 'EO-0', '123.45')));
    const first = answers[0]!.xml;
    expect(first.result).toBe('0');
    for (const a of answers) expect(a.xml).toEqual(first);
    expect(await paymentsFor(t.gateway, txn)).toHaveLength(1);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    expect(await balanceOf(t.gateway, 'EO-0')).toBe(12345);
    expect(oneCallStored() >= 1).toBe(path === 'one call');
  });

  it('when 20 txn_ids each arrive 5 times at once over 5 accounts, then each is credited exactly once', async () => {
    const txns = Array.from({ length: 20 }, () => newTxnId());
    const before = await Promise.all([0, 1, 2, 3, 4].map((i) => balanceOf(t.gateway, `EO-${i}`)));
    const calls = txns.flatMap((txn, i) =>
      Array.from({ length: 5 }, () => pay(t.api(), txn, `EO-${i % 5}`, '1.00')),
    );
    const answers = await Promise.all(calls);
    expect(answers.every((a) => a.xml.result === '0')).toBe(true);
    for (const txn of txns) expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    const after = await Promise.all([0, 1, 2, 3, 4].map((i) => balanceOf(t.gateway, `EO-${i}`)));
    expect(after.map((b, i) => b - before[i]!)).toEqual([400, 400, 400, 400, 400]);
  });

  it('when the same txn_id races with different sums, then exactly one wins and the others get 5', async () => {
    const txn = newTxnId();
    const answers = await Promise.all(
      ['1.00', '2.00', '3.00', '4.00'].map((sum) => pay(t.api(), txn, 'EO-1', sum)),
    );
    expect(answers.filter((a) => a.xml.result === '0')).toHaveLength(1);
    expect(answers.filter((a) => a.xml.result === '5')).toHaveLength(3);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
  });

  it('when the transaction fails after the credit was written, then no payment row, no credit, no balance change; the repeat credits once', async () => {
    const txn = newTxnId();
    const payments = await count(t.gateway, 'payments');
    const balance = await balanceOf(t.gateway, 'EO-2');
    const stopFailing = await failCreditsAfterBalance(t.gateway, 'EO-2');
    let r;
    try {
      r = await pay(t.api(), txn, 'EO-2', '77.00');
    } finally {
      await stopFailing();
    }
    // Nothing was recorded: not a final refusal (5) but "in processing" (4), so Kaspi repeats it.
    expect(r.xml.result).toBe('4');
    expect(r.xml.prv_txn).toBeUndefined();
    expect(await count(t.gateway, 'payments')).toBe(payments);
    expect(await balanceOf(t.gateway, 'EO-2')).toBe(balance);
    const again = await pay(t.api(), txn, 'EO-2', '77.00');
    expect(again.xml.result).toBe('0');
    expect(await balanceOf(t.gateway, 'EO-2')).toBe(balance + 7700);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
  });

  it('when the ledger already holds a credit for a payment, then the database refuses a second one', async () => {
    const txn = newTxnId();
    const r = await pay(t.api(), txn, 'EO-3', '5.00');
    expect(r.xml.result).toBe('0');
    const [row] = await paymentsFor(t.gateway, txn);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
    const refused = await t.gateway.db
      .knex('account_ledger')
      .insert({
        payment_id: row.id,
        kind: 'credit',
        ref: '',
        account: 'EO-3',
        amount: 500,
        created_at: '2026-11-23 00:00:00.000',
      })
      .then(
        () => 'inserted',
        (e: unknown) => e,
      );
    expect(isUniqueViolation(refused)).toBe(true);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
  });
});
