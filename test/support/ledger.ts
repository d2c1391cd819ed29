import type { Gateway } from '../../src/wiring/wiring.js';

/** What the database holds for a txn_id: the bank invariant is checked from here, not from answers. */
export async function paymentsFor(g: Gateway, txnId: string) {
  return g.db.knex('payments').where({ txn_id: txnId });
}

export async function creditsFor(g: Gateway, txnId: string) {
  return g.db
    .knex('account_ledger')
    .join('payments', 'payments.id', 'account_ledger.payment_id')
    .where({ 'payments.txn_id': txnId, 'account_ledger.kind': 'credit' })
    .select('account_ledger.*');
}

export async function balanceOf(g: Gateway, account: string): Promise<number> {
  const a = await g.stores.accounts.getAccount(account);
  if (!a) throw new Error(`no account ${account}`);
  return a.balance;
}

export async function count(g: Gateway, table: string): Promise<number> {
  const [row] = await g.db.knex(table).count({ n: '*' });
  return Number((row as { n: number | string }).n);
}
