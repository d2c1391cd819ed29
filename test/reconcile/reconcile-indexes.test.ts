import { fillScale } from '../../bench/scale-fill.js';
import { HeldRecords } from '../../src/reconcile/reconcile-held.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { captureSelects, planProblems } from '../support/query-plan.js';

const NOW = new Date('2026-11-30T12:00:00Z');

/**
 * The matcher's reads at scale are only as fast as the index each one reads: the period's payments
 * (payments_source_txn_date_idx, in the order of its keyset pages, no sort) and our refunds finished
 * in the period (refunds_status_finished_idx). The plans are the database's own (EXPLAIN).
 */
describe.each(dbKinds)('[%s] the matcher reads by index (EXPLAIN)', (kind) => {
  let t: TestGateway;
  let day: string;

  beforeAll(async () => {
    t = await startTestGateway(kind);
    const db = t.gateway.db;
    await fillScale(db, {
      payments: 20_000,
      accounts: 500,
      logPerPayment: 0,
      refunds: 400,
      days: 400,
      now: NOW,
      batch: 5000,
    });
    // The fill leaves txn_date_raw empty: Kaspi's wall time of each payment, as the pay path writes it.
    await db.knex.raw(
      db.dialect === 'mysql'
        ? `update payments set txn_date_raw = date_format(txn_date, '%Y%m%d%H%i%s')`
        : `update payments set txn_date_raw = strftime('%Y%m%d%H%M%S', txn_date)`,
    );
    const mid = (await db.knex('payments').orderBy('id').offset(10_000).first('txn_date_raw')) as {
      txn_date_raw: string;
    };
    day = String(mid.txn_date_raw).slice(0, 8);
  }, 120_000);
  afterAll(async () => {
    await t.close();
  });

  it("when the period's payments are read, then by payments_source_txn_date_idx in page order, no sort", async () => {
    const held = new HeldRecords(t.gateway.db);
    let n = 0;
    const selects = await captureSelects(t.gateway.db, async () => {
      for await (const page of held.paymentsInRange(['kaspi'], `${day}000000`, `${day}235959`))
        n += page.length;
    });
    expect(n).toBeGreaterThan(0);
    expect(selects).toHaveLength(1);
    const problems = await planProblems(t.gateway.db, selects[0] as never, {
      indexes: { payments: ['payments_source_txn_date_idx'] },
    });
    expect(problems).toEqual([]);
  });

  it('when our refunds finished in the period are read, then by refunds_status_finished_idx', async () => {
    const held = new HeldRecords(t.gateway.db);
    const from = new Date(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T00:00:00Z`);
    const selects = await captureSelects(t.gateway.db, () =>
      held.successRefundsFinished(from, new Date(from.getTime() + 86_400_000), '+05:00'),
    );
    expect(selects).toHaveLength(1);
    const problems = await planProblems(t.gateway.db, selects[0] as never, {
      indexes: { refunds: ['refunds_status_finished_idx'] },
      sortAllowed: false,
    });
    expect(problems).toEqual([]);
  });

  it("when what other registries list is read, then by registry_rows_txn_idx, not by a walk of a file's rows", async () => {
    const knex = t.gateway.db.knex;
    const now = new Date().toISOString().slice(0, 23).replace('T', ' ');
    const fileIds: string[] = [];
    for (const sha of ['a', 'b']) {
      const [id] = await knex('registry_files').insert({
        sha256: sha.repeat(64),
        bytes: 1,
        format: 'csv',
        content: Buffer.from('x'),
        created_at: now,
      });
      fileIds.push(String(id));
    }
    const txns = Array.from({ length: 3000 }, (_, j) => `8${String(j).padStart(17, '0')}`);
    for (const fileId of fileIds)
      for (let j = 0; j < txns.length; j += 500)
        await knex('registry_rows').insert(
          txns.slice(j, j + 500).map((txn, k) => ({
            file_id: fileId,
            row_no: j + k + 2,
            kind: 'payment',
            txn_id: txn,
            txn_id_precision: false,
            amount: 100,
            date_raw: '20261123',
          })),
        );
    const held = new HeldRecords(t.gateway.db);
    const selects = await captureSelects(t.gateway.db, () =>
      held.elsewhere(fileIds[1] as string, txns.slice(0, 50)),
    );
    const rowReads = selects.filter((q) => /registry_rows/.test(q.sql));
    expect(rowReads).toHaveLength(1);
    const problems = await planProblems(t.gateway.db, rowReads[0] as never, {
      indexes: {
        r: ['registry_rows_txn_idx'],
        registry_rows: ['registry_rows_txn_idx'],
        m: ['reconciliation_matches_row_uq'],
        reconciliation_matches: ['reconciliation_matches_row_uq'],
      },
    });
    expect(problems).toEqual([]);
    expect((await held.elsewhere(fileIds[1] as string, txns.slice(0, 50))).paymentTxnIds.size).toBe(50);
  });
});
