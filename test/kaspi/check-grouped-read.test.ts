import { maskName } from '../../src/billing/billing.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check } from '../support/kaspi.js';

/**
 * A check's account read is grouped with the checks arriving meanwhile (AccountStore.readForCheck):
 * each must still get its own account's answer, exactly what a read of its own gives, and a failed
 * group read must fail its checks without leaving the next ones waiting.
 */
describe.each(dbKinds)('[%s] grouped account reads of checks', (kind) => {
  let t: TestGateway;
  const accounts = Array.from({ length: 12 }, (_, i) => ({
    account: `G-${i}`,
    name: `Payer${i} Name${i}`,
    balance: 10000 * (i + 1),
  }));

  beforeAll(async () => {
    t = await startTestGateway(kind);
    const a = t.gateway.stores.accounts;
    for (const x of accounts) await a.addAccount(x);
    await a.addAccount({ account: 'G-closed', name: 'Closed One', balance: 0 });
    await a.setAccountStatus('G-closed', 'closed');
    await a.addOrder({ number: 'G-ORDER', amount: 25000, description: 'Order of the group test' });
  });
  afterAll(() => t.close());

  it('when checks of many accounts arrive at once, then each answer is its own account’s', async () => {
    const asked = [...accounts.map((a) => a.account), 'G-closed', 'G-ORDER', 'G-nobody'];
    const calls = asked.flatMap((account, i) =>
      [0, 1, 2].map((k) => ({ account, txn: `${7000 + i * 3 + k}` })),
    );
    const answers = await Promise.all(calls.map((c) => check(t.api(), c.txn, c.account)));
    answers.forEach((r, n) => {
      const { account, txn } = calls[n] as { account: string; txn: string };
      expect(r.xml.txn_id).toBe(txn);
      const own = accounts.find((a) => a.account === account);
      if (own) {
        expect(r.xml.result).toBe('0');
        expect(r.xml.fields?.field2).toEqual({ '@name': 'balance', '#text': (own.balance / 100).toFixed(2) });
        expect(r.xml.fields?.field1).toEqual({ '@name': 'fio', '#text': maskName(own.name) });
      } else if (account === 'G-ORDER') {
        expect(r.xml.result).toBe('0');
        expect(r.xml.fields?.field2).toEqual({ '@name': 'amount', '#text': '250.00' });
      } else {
        expect(r.xml.result).toBe('1');
        expect(r.xml.comment).toBe('Account not found');
      }
    });
  });

  it('when a name matches only by the database’s collation, then the grouped read answers as a lone read', async () => {
    const store = t.gateway.stores.accounts;
    for (const name of ['g-3', 'G-3 ', 'G-3', 'nobody']) {
      const [grouped, alone] = await Promise.all([store.readForCheck(name), store.getAccount(name)]);
      expect(grouped).toEqual(alone);
    }
  });

  it('when the group read fails, then its checks fail and the next group reads again', async () => {
    const store = t.gateway.stores.accounts;
    const k = t.gateway.db.knex;
    await k.schema.renameTable('accounts', 'accounts_away');
    try {
      const failed = await Promise.allSettled(['G-1', 'G-2', 'G-3'].map((a) => store.readForCheck(a)));
      expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected']);
    } finally {
      await k.schema.renameTable('accounts_away', 'accounts');
    }
    const again = await Promise.all(['G-1', 'G-2'].map((a) => store.readForCheck(a)));
    expect(again.map((a) => a?.balance)).toEqual([20000, 30000]);
  });
});
