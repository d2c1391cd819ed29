import http from 'node:http';
import { createDb } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createStores } from '../../src/wiring/wiring.js';
import { startChildServer, type ChildServer } from '../support/child-process.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { newTxnId, parseKaspi, TXN_DATE } from '../support/kaspi.js';

/** A plain GET with a fresh connection per request, as Kaspi's many connections would be. */
function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

describe.each(dbKinds)('[%s] two server processes on one database', (kind) => {
  let database: TestDatabase;
  let servers: ChildServer[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const db = createDb(database.url);
    await migrateLatest(db);
    const stores = createStores(db);
    for (let i = 0; i < 4; i++)
      await stores.accounts.addAccount({ account: `MP-${i}`, name: 'Payer', balance: 0 });
    await db.close();
    const env = { DATABASE_URL: database.url, KASPI_ALLOWED_IPS: '127.0.0.0/8,::1/128', DB_POOL_MAX: '10' };
    servers = await Promise.all([startChildServer(env), startChildServer(env)]);
  }, 60000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await database.drop();
  });

  it('when both processes get the same txn_ids at the same moment, then each is credited once and answered alike', async () => {
    const txns = Array.from({ length: 25 }, () => newTxnId());
    const calls = txns.flatMap((txn, i) =>
      servers.flatMap((s) =>
        [1, 2, 3].map(() =>
          get(
            s.port,
            `/payment_app.cgi?command=pay&txn_id=${txn}&account=MP-${i % 4}&sum=10.00&txn_date=${TXN_DATE}`,
          ).then((body) => ({ txn, xml: parseKaspi(body) })),
        ),
      ),
    );
    const answers = await Promise.all(calls);
    for (const txn of txns) {
      const mine = answers.filter((a) => a.txn === txn).map((a) => a.xml);
      expect(mine).toHaveLength(6);
      expect(mine.map((x) => `${x.result}:${x.comment}`)).toEqual(Array(6).fill('0:OK'));
      expect(new Set(mine.map((x) => x.prv_txn)).size).toBe(1);
    }
    const db = createDb(database.url);
    try {
      const [credits] = await db.knex('account_ledger').where({ kind: 'credit' }).count({ n: '*' });
      const [payments] = await db.knex('payments').count({ n: '*' });
      const [sum] = await db.knex('accounts').sum({ s: 'balance' });
      expect(Number((credits as { n: number }).n)).toBe(25);
      expect(Number((payments as { n: number }).n)).toBe(25);
      expect(Number((sum as { s: number }).s)).toBe(25 * 1000);
    } finally {
      await db.close();
    }
  });
});
