import supertest from 'supertest';
import { createDb } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createStores } from '../../src/wiring/wiring.js';
import { startChildServer, type ChildServer } from '../support/child-process.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { newTxnId, parseKaspi, TXN_DATE } from '../support/kaspi.js';
import { ADMIN_KEY, AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

/**
 * A person's `credit` of a MISSING_OURS item and Kaspi's late `pay` of the same txn_id, at the same
 * moment in two server processes on one database: the payment is recorded and credited once, and
 * both are answered with the one outcome.
 */
describe.each(dbKinds)('[%s] a reconciliation credit racing a late Kaspi pay, across processes', (kind) => {
  let database: TestDatabase;
  let kaspiSide: ChildServer;
  let adminSide: ChildServer;
  const N = 8;
  const accounts = Array.from({ length: N }, (_, i) => `RACE-${process.pid}-${i}`);

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const db = createDb(database.url);
    await migrateLatest(db);
    const stores = createStores(db);
    for (const account of accounts) await stores.accounts.addAccount({ account, name: 'Payer', balance: 0 });
    await db.close();
    const env = {
      DATABASE_URL: database.url,
      KASPI_ALLOWED_IPS: '127.0.0.0/8,::1/128',
      DB_POOL_MAX: '10',
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'error',
    };
    [kaspiSide, adminSide] = await Promise.all([startChildServer(env), startChildServer(env)]);
  }, 90000);

  afterAll(async () => {
    await Promise.all([kaspiSide?.stop(), adminSide?.stop()]);
    await database?.drop();
  });

  it('when both come at once for each of several txn_ids, then each is credited exactly once and both say so', async () => {
    const txns = accounts.map(() => newTxnId());
    const registry = csvOf([
      RU_HEADER,
      ...txns.map((txn, i) => [txn, '250,00', '23.11.2026 14:15:00', accounts[i] as string, 'Платёж']),
    ]);
    const admin = supertest(`http://127.0.0.1:${adminSide.adminPort}`);
    const run = await admin
      .post('/api/reconciliations?from=2026-11-23&to=2026-11-23&filename=race.csv')
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(registry);
    expect(run.status).toBe(201);
    expect(run.body.totals.byClass.MISSING_OURS.count).toBe(N);
    const items = (await admin.get(`/api/reconciliations/${run.body.id}/items`).set(AUTH)).body
      .items as Array<{
      id: string;
      txnId: string;
    }>;

    const kaspi = supertest(`http://127.0.0.1:${kaspiSide.port}`);
    const answers = await Promise.all(
      items.flatMap((item) => {
        const i = txns.indexOf(item.txnId);
        const pay = () =>
          kaspi
            .get(
              `/payment_app.cgi?command=pay&txn_id=${item.txnId}&account=${accounts[i]}&sum=250.00&txn_date=${TXN_DATE}`,
            )
            .then((r) => ({ kind: 'pay' as const, txn: item.txnId, result: parseKaspi(r.text).result }));
        const resolve = () =>
          admin
            .post(`/api/reconciliation-items/${item.id}/resolve`)
            .set(AUTH)
            .send({ action: 'credit', note: 'race' })
            .then((r) => ({
              kind: 'resolve' as const,
              txn: item.txnId,
              result: `${r.status}:${r.body.state}`,
            }));
        return [pay(), resolve(), pay()];
      }),
    );
    for (const a of answers) expect(a.result).toBe(a.kind === 'pay' ? '0' : '200:resolved');

    const db = createDb(database.url);
    try {
      const credits = await db.knex('account_ledger').where({ kind: 'credit' }).select('payment_id');
      const payments = await db.knex('payments').whereIn('txn_id', txns).select('id', 'state');
      expect(payments).toHaveLength(N);
      expect(payments.every((p) => p.state === 'credited')).toBe(true);
      expect(credits).toHaveLength(N);
      for (const account of accounts) {
        const a = (await db.knex('accounts').where({ account }).first()) as { balance: number | string };
        expect(Number(a.balance)).toBe(25000);
      }
    } finally {
      await db.close();
    }
  });

  it('when the same file is imported from both processes at once, then one file, one run, its rows once, and every answer names that run', async () => {
    const admins = [kaspiSide, adminSide].map((c) => supertest(`http://127.0.0.1:${c.adminPort}`));
    const files = [0, 1, 2].map((f) =>
      csvOf([
        RU_HEADER,
        ...Array.from({ length: 40 }, (_, j) => [
          newTxnId(),
          `${f + 1}0,00`,
          '23.11.2026 10:00:00',
          `ACC${f}-${j}`,
          'Платёж',
        ]),
      ]),
    );
    const answers = await Promise.all(
      files.flatMap((bytes, f) =>
        [0, 1, 0, 1].map((side) =>
          (admins[side] as supertest.Agent)
            .post(`/api/reconciliations?from=2026-11-23&to=2026-11-23&filename=same-${f}.csv`)
            .set({ ...AUTH, 'Content-Type': 'text/csv' })
            .send(bytes)
            .then((r) => ({
              f,
              status: r.status,
              id: String(r.body.id),
              duplicate: r.body.duplicate as boolean,
            })),
        ),
      ),
    );
    const db = createDb(database.url);
    try {
      for (const f of [0, 1, 2]) {
        const mine = answers.filter((a) => a.f === f);
        expect(mine.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
        expect(new Set(mine.map((a) => a.id)).size).toBe(1);
        expect(mine.filter((a) => !a.duplicate)).toHaveLength(1);
        const fileRows = await db.knex('registry_files').where({ file_name: `same-${f}.csv` });
        const runs = await db.knex('reconciliation_runs').where({ id: mine[0]?.id });
        expect(runs).toHaveLength(1);
        const fileId = runs[0].file_id;
        expect(await db.knex('reconciliation_runs').where({ file_id: fileId })).toHaveLength(1);
        expect(await db.knex('registry_rows').where({ file_id: fileId })).toHaveLength(40);
        expect(fileRows.length).toBeLessThanOrEqual(1); // the name of whichever process stored it
      }
      expect(Number((await db.knex('registry_files').count({ n: '*' }).first())?.n)).toBe(4); // + the first test's
    } finally {
      await db.close();
    }
  });
});
