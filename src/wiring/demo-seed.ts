import { parseTenge } from '../shared/money.js';
import type { Gateway } from './wiring.js';

/** Development only (SEED_DEMO_ACCOUNTS): accounts and an order to try the service with. */
const DEMO_ACCOUNTS = [
  { account: '7770000001', name: 'Ivan Petrov', balance: '1500.00' },
  { account: '7770000002', name: 'Айгуль Нурланова', balance: '0.00' },
  { account: '7770000003', name: 'School No. 7 Canteen', balance: '250.50' },
];

/** Adds what is missing (safe at every start) and prints how to call the service. */
export async function seedDemo(g: Gateway, port: number): Promise<void> {
  for (const a of DEMO_ACCOUNTS) {
    if (!(await g.stores.accounts.getAccount(a.account))) {
      await g.stores.accounts.addAccount({
        account: a.account,
        name: a.name,
        balance: parseTenge(a.balance) ?? 0,
      });
    }
  }
  if (!(await g.stores.accounts.getOrder('ORD-1001'))) {
    await g.stores.accounts.addOrder({
      number: 'ORD-1001',
      amount: 450000,
      account: '7770000001',
      description: 'Invoice 1001',
    });
  }
  const base = `http://127.0.0.1:${port}${g.config.KASPI_PATH}`;
  const when = new Date(Date.now() + 5 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
  // A fresh txn_id each start, so the printed pay credits instead of replaying an earlier one.
  const txn = String(Date.now()).slice(-9);
  process.stdout.write(
    [
      '',
      `Demo accounts: ${DEMO_ACCOUNTS.map((a) => a.account).join(', ')}; demo order ORD-1001 (4500.00).`,
      'Try them:',
      `  curl '${base}?command=check&txn_id=${txn}&account=7770000001&sum=200.00'`,
      `  curl '${base}?command=pay&txn_id=${txn}&account=7770000001&sum=200.00&txn_date=${when}'`,
      `  npm run cli -- accounts show 7770000001`,
      '',
    ].join('\n'),
  );
}
