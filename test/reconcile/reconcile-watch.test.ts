import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

/** Replaced files, reruns, the watch job's escalation and stuck runs (edge cases 23, 27, 42, 43). */
describe.each(dbKinds)('[%s] reconciliation over time', (kind) => {
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    t = await startTestGateway(kind, { RECONCILE_HOLIDAYS: '2026-11-30' });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function credited(sum: string, txnDate?: string) {
    seq += 1;
    const account = `RW${process.pid}${seq}${Math.floor(Math.random() * 1e6)}`;
    await t.gateway.stores.accounts.addAccount({ account, name: 'Payer', balance: 0 });
    const txnId = newTxnId();
    expect((await pay(t.api(), txnId, account, sum, txnDate ? { txn_date: txnDate } : {})).xml.result).toBe(
      '0',
    );
    return { txnId, account };
  }

  const upload = (bytes: Buffer, query: string) =>
    t
      .admin()
      .post(`/api/reconciliations?${query}`)
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(bytes);

  const row = (txnId: string, sum: string, account: string) => [
    txnId,
    sum,
    '23.11.2026 14:15:00',
    account,
    'Платёж',
  ];

  it('when a payment is in two files, then IN_OTHER_REGISTRY; a corrected re-issue with replaces supersedes the old run', async () => {
    const a = await credited('10.00');
    const b = await credited('20.00');
    const first = await upload(
      csvOf([RU_HEADER, row(a.txnId, '10,00', a.account), row(b.txnId, '20,01', b.account)]),
      'from=2026-11-23&to=2026-11-23',
    );
    expect(first.body.totals.byClass).toMatchObject({ MATCHED: { count: 1 }, AMOUNT_DIFFERS: { count: 1 } });
    const dup = await upload(
      csvOf([RU_HEADER, row(a.txnId, '10,00', a.account)]),
      'from=2026-11-23&to=2026-11-23',
    );
    expect(Object.keys(dup.body.totals.byClass)).toEqual(['IN_OTHER_REGISTRY']);
    const fixed = csvOf([
      RU_HEADER,
      row(a.txnId, '10,00', a.account),
      row(b.txnId, '20,00', b.account),
      ['Итого', '30,00', '', '', ''],
    ]);
    const re = await upload(fixed, `from=2026-11-23&to=2026-11-23&replaces=${first.body.id}`);
    expect(re.status).toBe(201);
    // The second file still lists a: that is a double listing against the corrected one.
    expect(Object.keys(re.body.totals.byClass).sort()).toEqual(['IN_OTHER_REGISTRY', 'MATCHED']);
    const old = (await t.admin().get(`/api/reconciliations/${first.body.id}`).set(AUTH)).body;
    expect(old.items.map((i: { state: string }) => i.state)).toEqual(['superseded']);
    const resolve = await t
      .admin()
      .post(`/api/reconciliation-items/${old.items[0].id}/resolve`)
      .set(AUTH)
      .send({ action: 'accept', note: 'x' });
    expect(resolve.status).toBe(409);
  });

  it('when a run is re-matched after a fix, then fewer items and the resolutions carried over by txn_id and class', async () => {
    const c = await credited('30.00');
    const missing = newTxnId();
    const csv = csvOf([RU_HEADER, row(c.txnId, '30,01', c.account), row(missing, '5,00', c.account)]);
    const run = (await upload(csv, 'from=2026-11-23&to=2026-11-23')).body;
    const items = (await t.admin().get(`/api/reconciliations/${run.id}`).set(AUTH)).body.items as Array<{
      id: string;
      class: string;
    }>;
    const amount = items.find((i) => i.class === 'AMOUNT_DIFFERS') as { id: string };
    await t
      .admin()
      .post(`/api/reconciliation-items/${amount.id}/resolve`)
      .set(AUTH)
      .send({ action: 'accept', note: 'Kaspi: 30.01' });
    // Meanwhile the missing payment arrives from Kaspi.
    expect((await pay(t.api(), missing, c.account, '5.00')).xml.result).toBe('0');
    const rerun = await t.admin().post(`/api/reconciliations/${run.id}/rerun`).set(AUTH);
    expect(rerun.status).toBe(201);
    const again = (await t.admin().get(`/api/reconciliations/${rerun.body.id}`).set(AUTH)).body;
    expect(again.run.rerunOf).toBe(run.id);
    const mine = again.items.filter((i: { txnId: string }) => i.txnId === c.txnId || i.txnId === missing);
    expect(mine.map((i: { class: string; state: string }) => `${i.class}:${i.state}`)).toEqual([
      'AMOUNT_DIFFERS:resolved',
    ]);
    expect(mine[0].resolution.note).toMatch(/Kaspi: 30\.01 \(resolved in run \d+\)/);
  });

  it('when a credited payment stays in no registry past the grace, then the watch job escalates it, once', async () => {
    const d = await credited('40.00');
    // The registry for the 23rd does not list it: MISSING_KASPI, watched for 3 business days.
    const other = await credited('1.00');
    const run = (
      await upload(
        csvOf([RU_HEADER, row(other.txnId, '1,00', other.account)]),
        'from=2026-11-23&to=2026-11-23&receivedAt=2026-11-24T09:00:00%2B05:00',
      )
    ).body;
    const items = (await t.admin().get(`/api/reconciliations/${run.id}`).set(AUTH)).body.items as Array<{
      id: string;
      class: string;
      txnId: string;
      escalateAt: string;
    }>;
    const watched = items.find((i) => i.class === 'MISSING_KASPI' && i.txnId === d.txnId) as {
      id: string;
      escalateAt: string;
    };
    // Monday 23rd + 3 business days = Thursday 26th.
    expect(watched.escalateAt).toBe('2026-11-26T23:59:59+05:00');
    const svc = t.gateway.services.reconcile;
    await svc.watch(new Date('2026-11-26T12:00:00Z'));
    expect((await svc.store.getItem(watched.id))?.severity).toBe('watch');
    const late = await svc.watch(new Date('2026-11-27T00:00:00Z'));
    expect(late.escalated).toBeGreaterThanOrEqual(1);
    expect((await svc.store.getItem(watched.id))?.severity).toBe('action');
    const todo = (await t.admin().get('/api/reconciliation-items?severity=action').set(AUTH)).body
      .items as Array<{ id: string }>;
    expect(todo.map((i) => i.id)).toContain(watched.id);
  });

  it('when an import was killed mid-way, then the watch job fails the stuck run and a re-import works', async () => {
    const e = await credited('50.00', '20261201120000');
    const csv = csvOf([RU_HEADER, [e.txnId, '50,00', '01.12.2026 12:00:00', e.account, 'Платёж']]);
    const svc = t.gateway.services.reconcile;
    const fileId = await svc.store.insertFile({
      sha256: (await import('node:crypto')).createHash('sha256').update(csv).digest('hex'),
      fileName: 'k.csv',
      content: csv,
      format: 'csv',
      encoding: 'utf8',
      sheet: null,
    });
    const stuck = await svc.store.insertRun({
      fileId,
      kind: 'daily',
      profile: 'kaspi-default',
      cutoff: '00:00',
      receivedAt: new Date(),
      origin: 'cli',
      operator: null,
    });
    const counted = { ...svc.runCounts() };
    const w = await svc.watch(new Date(Date.now() + 16 * 60_000));
    expect(w.failedRuns).toBe(1);
    // gateway_reconcile_runs_total{status="failed"}: the stuck run ended here, as failed.
    expect(svc.runCounts().failed).toBe((counted.failed ?? 0) + 1);
    expect((await svc.store.getRun(stuck))?.status).toBe('failed');
    const again = await upload(csv, 'from=2026-12-01&to=2026-12-01');
    expect([again.status, again.body.status]).toEqual([201, 'clean']);
    expect(svc.runCounts().clean).toBe((counted.clean ?? 0) + 1);
    // The file was stored once, byte for byte.
    const files = await t.gateway.db.knex('registry_files').where({ id: fileId });
    expect(files).toHaveLength(1);
    expect(Buffer.compare(Buffer.from(files[0].content as Buffer), csv)).toBe(0);
  });
});
