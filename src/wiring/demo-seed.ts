import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { actors } from '../audit/audit-log.js';
import { parseTenge } from '../shared/money.js';
import type { Gateway } from './wiring.js';

/**
 * Development only: an admin API key for the README's curl lines when none is configured, made
 * once and kept in data/dev-admin-api-key (0600, next to the development database, gitignored), so
 * it survives restarts and every pm2 worker reads the same one.
 */
export function devAdminApiKey(dir = path.resolve('data')): string {
  const file = path.join(dir, 'dev-admin-api-key');
  try {
    const k = fs.readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{32,}$/.test(k)) return k;
  } catch {
    // made below
  }
  fs.mkdirSync(dir, { recursive: true });
  const key = `dev-${randomBytes(24).toString('base64url')}`;
  try {
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch {
    // Another worker wrote it first.
    return fs.readFileSync(file, 'utf8').trim();
  }
}

/** Development only (SEED_DEMO_ACCOUNTS): accounts and an order to try the service with. */
const DEMO_ACCOUNTS = [
  { account: '7770000001', name: 'Ivan Petrov', balance: '1500.00' },
  { account: '7770000002', name: 'Айгуль Нурланова', balance: '0.00' },
  { account: '7770000003', name: 'School No. 7 Canteen', balance: '250.50' },
];

/** Adds what is missing (safe at every start) and prints how to call the service. */
export async function seedDemo(g: Gateway, port: number, adminPort: number): Promise<void> {
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
  const adminPassword = await g.services.users.ensureDemoAdmin(actors.cli());
  const base = `http://127.0.0.1:${port}${g.config.KASPI_PATH}`;
  const admin = `http://${g.config.ADMIN_HOST}:${adminPort}`;
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
      `Operator console: ${admin}/console`,
      adminPassword
        ? `  login admin, password ${adminPassword} (shown this once; a new one: npm run cli -- users passwd admin)`
        : '  login admin (its password was printed when it was made; a new one: npm run cli -- users passwd admin)',
      ...(g.config.ADMIN_API_KEY
        ? [
            `Admin API (key${process.env.ADMIN_API_KEY ? ' from ADMIN_API_KEY' : ' made for development, in data/dev-admin-api-key'}):`,
            `  export ADMIN_API_KEY=${g.config.ADMIN_API_KEY}`,
            `  curl -H "Authorization: Bearer $ADMIN_API_KEY" '${admin}/api/payments?limit=5'`,
          ]
        : []),
      '',
    ].join('\n'),
  );
}
