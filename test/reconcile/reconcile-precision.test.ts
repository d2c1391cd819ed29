import { dbTime } from '../../src/db/db.js';
import { withEvidence } from '../../src/reconcile/reconcile-evidence.js';
import type { Item } from '../../src/reconcile/reconcile-matcher.js';
import { ReconcileStore } from '../../src/reconcile/reconcile-store.js';
import type { RegistryRow } from '../../src/reconcile/registry-profile.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { captureSelects } from '../support/query-plan.js';
import { AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

const RECEIVED = '2026-11-24T09:12:00+05:00';

/**
 * A long txn_id that Excel saved to CSV in scientific notation (`1.23457E+17`, registries-seed-notes
 * edge case 7) has lost all but its leading digits: TXN_ID_PRECISION, never auto-matched, with our
 * payment of those leading digits, length and amount as the candidate a person links. And what a
 * 200 000-row import leans on: the rows stored in bulk come back as they went in, and the items'
 * request-log evidence is read per batch of txn_ids, not per item.
 */
describe.each(dbKinds)('[%s] reconciliation: precision-lost txn_ids, bulk rows, batched evidence', (kind) => {
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    t = await startTestGateway(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function account(): Promise<string> {
    seq += 1;
    const a = `PR${process.pid}${seq}${Math.floor(Math.random() * 1e6)}`;
    await t.gateway.stores.accounts.addAccount({ account: a, name: 'Registry Payer', balance: 0 });
    return a;
  }

  it('when a CSV txn_id reads "1.23457E+17", then TXN_ID_PRECISION with our payment as the candidate, never matched; link resolves it', async () => {
    // Our payments: one the damaged id is (123457…, 18 digits, 150.00), one of the same leading
    // digits and another amount (not a candidate), and an ordinary one the registry lists exactly.
    const tail = `${kind === 'mysql' ? 1 : 2}${String(Date.now() % 1e11).padStart(11, '0')}`;
    const damaged = `123457${tail}`;
    const otherAmount = `123457${String((Number(tail) + 1) % 1e12).padStart(12, '0')}`;
    const exact = newTxnId();
    for (const [txn, sum] of [
      [damaged, '150.00'],
      [otherAmount, '99.00'],
      [exact, '100.00'],
    ] as const)
      expect((await pay(t.api(), txn, await account(), sum)).xml.result).toBe('0');

    const res = await t
      .admin()
      .post(
        `/api/reconciliations?from=2026-11-23&to=2026-11-23&filename=sci.csv&receivedAt=${encodeURIComponent(RECEIVED)}`,
      )
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(
        csvOf([
          RU_HEADER,
          ['1.23457E+17', '150,00', '23.11.2026 14:15:00', 'x', 'Платёж'],
          [exact, '100,00', '23.11.2026 14:15:00', 'x', 'Платёж'],
        ]),
      );
    expect(res.status).toBe(201);
    const runId = String(res.body.id);
    const db = t.gateway.db;
    const rows = (await db
      .knex('registry_rows')
      .where({
        file_id: (await t.gateway.db.knex('reconciliation_runs').where({ id: runId }).first('file_id'))
          .file_id,
      })
      .orderBy('row_no')) as Array<{ txn_id: string; txn_id_precision: unknown }>;
    expect(rows.map((r) => [r.txn_id, Boolean(r.txn_id_precision)])).toEqual([
      ['123457000000000000', true],
      [exact, false],
    ]);
    const items = (await db.knex('reconciliation_items').where({ run_id: runId }).orderBy('id')) as Array<{
      id: string | number;
      class: string;
      txn_id: string;
      detail: string;
    }>;
    const precision = items.filter((i) => i.class === 'TXN_ID_PRECISION');
    expect(precision).toHaveLength(1);
    const detail = JSON.parse((precision[0] as { detail: string }).detail) as {
      candidates: Array<{ txnId: string; amount: number }>;
      evidence: unknown;
    };
    expect(detail.candidates.map((c) => [c.txnId, c.amount])).toEqual([[damaged, 15_000]]);
    // Its request log is not the damaged id's to show.
    expect(detail.evidence).toBeNull();
    // The exact row is the one pairing; our payment of the damaged id is paired with nothing.
    expect(res.body.totals.byClass.MATCHED.count).toBe(1);
    const paired = (await db.knex('reconciliation_matches').where({ run_id: runId }).pluck('payment_id')).map(
      String,
    );
    const ours = (await db
      .knex('payments')
      .whereIn('txn_id', [damaged, exact])
      .select('id', 'txn_id')) as Array<{
      id: unknown;
      txn_id: string;
    }>;
    const idOf = (txn: string) => String(ours.find((p) => p.txn_id === txn)?.id);
    expect(paired).toEqual([idOf(exact)]);

    const id = String((precision[0] as { id: unknown }).id);
    const wrong = await t
      .admin()
      .post(`/api/reconciliation-items/${id}/resolve`)
      .set(AUTH)
      .send({ action: 'link', payment: otherAmount, note: 'not this one' });
    expect(wrong.status).toBe(400);
    const linked = await t
      .admin()
      .post(`/api/reconciliation-items/${id}/resolve`)
      .set(AUTH)
      .send({ action: 'link', payment: damaged, note: 'same amount and time' });
    expect([linked.status, linked.body.state]).toEqual([200, 'resolved']);
  });

  it('when 1 201 rows are stored, then each comes back as it went in (nulls, booleans, text, amounts)', async () => {
    const db = t.gateway.db;
    const store = new ReconcileStore(db);
    const [fileId] = (await db.knex('registry_files').insert({
      sha256: `bulk-${kind}-${Date.now()}`.padEnd(64, '0'),
      file_name: 'bulk.csv',
      bytes: 1,
      format: 'csv',
      encoding: 'utf8',
      sheet: null,
      content: Buffer.from('x'),
      created_at: dbTime(),
    })) as [number];
    const rows: RegistryRow[] = Array.from({ length: 1201 }, (_, i) => ({
      rowNo: i + 2,
      kind: i % 3 === 0 ? 'refund' : i % 7 === 0 ? 'invalid' : 'payment',
      txnId: i % 7 === 0 ? null : `3${String(i).padStart(17, '0')}`,
      txnIdPrecision: i % 5 === 0,
      refundRef: i % 3 === 0 ? `R-${i}` : null,
      amount: i % 7 === 0 ? null : 10_000 + i,
      commission: i % 2 === 0 ? 15 : null,
      returnedCommission: null,
      dateRaw: i % 4 === 0 ? '20261123' : '20261123141500',
      account: `Лицевой ${i}`,
      prvTxn: i % 6 === 0 ? String(i) : null,
      status: i % 2 === 0 ? 'Успешно' : null,
      statusSuccess: i % 2 === 0 ? true : i % 11 === 0 ? false : null,
      channel: null,
      raw: { '№ платежа': String(i), Сумма: `${i},00` },
      problem: i % 7 === 0 ? 'no txn_id' : null,
    }));
    const ids = await db.knex.transaction((trx) => store.insertRows(trx, String(fileId), rows));
    expect(ids.size).toBe(1201);
    const back = await store.rowsOfFile(String(fileId));
    expect(back.map(({ id, ...r }) => (expect(ids.get(r.rowNo)).toBe(id), r))).toEqual(rows);
  });

  it('when 600 items want evidence, then the request log is read in 2 statements and each item gets its own', async () => {
    const db = t.gateway.db;
    const paid = [newTxnId(), newTxnId()];
    for (const txn of paid) expect((await pay(t.api(), txn, await account(), '10.00')).xml.result).toBe('0');
    await t.gateway.stores.requestLog.flush();
    const item = (txnId: string): Item => ({
      class: 'MISSING_KASPI',
      severity: 'watch',
      dueAt: null,
      escalateAt: null,
      rowNo: null,
      txnId,
      refundRef: null,
      paymentId: null,
      refundId: null,
      registryAmount: null,
      ourAmount: 1000,
      detail: {},
      suggestedAction: '',
    });
    const items = [
      ...paid.map(item),
      ...Array.from({ length: 598 }, (_, i) => item(`8${String(i).padStart(17, '0')}`)),
    ];
    let got: Array<Item & { evidence?: unknown }> = [];
    const selects = await captureSelects(db, async () => {
      got = await withEvidence(db, items, 90);
    });
    expect(selects.filter((s) => /request_log/.test(s.sql))).toHaveLength(2);
    const summary = (i: number) => (got[i]?.evidence as { summary: string }).summary;
    expect([summary(0), summary(1), summary(2), summary(599)]).toEqual([
      'pay received 1 time(s), last answered result 0',
      'pay received 1 time(s), last answered result 0',
      'no request at all',
      'no request at all',
    ]);
    expect(got.map((i) => i.txnId)).toEqual(items.map((i) => i.txnId));
  });
});
