import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';
import { AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

// The unmappable file below is logged as an ERROR by the import: expected, kept out of the output.
const logs = captureLogs('warn');

/**
 * The reconciliation in /metrics (docs/monitoring/reconcile.rules.yml alerts on these): runs ended in
 * this process by status, the end of the latest day a registry covers, the oldest open action item.
 */
describe.each(dbKinds)('[%s] reconciliation metrics', (kind) => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  const upload = (bytes: Buffer, query: string) =>
    t
      .admin()
      .post(`/api/reconciliations?${query}`)
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(bytes);

  const series = (text: string, name: string): number | null => {
    const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };

  it('when registries are imported, refused and fail, then runs by status, the covered day and the oldest action item are served', async () => {
    logs.clear();
    const scrape = async (now = new Date()) => t.gateway.metrics.render(now);
    let m = await scrape();
    expect(series(m, 'gateway_reconcile_covered_until_timestamp_seconds')).toBe(0);
    for (const status of ['clean', 'discrepancies', 'failed'])
      expect([status, series(m, `gateway_reconcile_runs_total{status="${status}"}`)]).toEqual([status, 0]);
    expect(series(m, 'gateway_reconcile_oldest_open_action_age_seconds')).toBe(0);

    const account = `RM${process.pid}${Math.floor(Math.random() * 1e6)}`;
    await t.gateway.stores.accounts.addAccount({ account, name: 'Payer', balance: 0 });
    const txnId = newTxnId();
    expect((await pay(t.api(), txnId, account, '10.00', { txn_date: '20261123120000' })).xml.result).toBe(
      '0',
    );
    const clean = await upload(
      csvOf([RU_HEADER, [txnId, '10,00', '23.11.2026 12:00:00', account, 'Платёж']]),
      'from=2026-11-23&to=2026-11-23',
    );
    expect(clean.body.status).toBe('clean');
    // A registry no one has: MISSING_OURS, an action item; the later day is the covered one.
    const missing = await upload(
      csvOf([RU_HEADER, [newTxnId(), '5,00', '24.11.2026 10:00:00', account, 'Платёж']]),
      'from=2026-11-24&to=2026-11-24',
    );
    expect(missing.body.status).toBe('discrepancies');
    // Refused before a run exists (legacy .xls): not a run, not counted.
    const xls = await upload(
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]),
      'filename=a.xls',
    );
    expect(xls.status).toBe(415);
    // Stored and failed: a file the profile cannot map.
    const unmapped = await upload(
      csvOf([
        ['what', 'ever'],
        ['1', '2'],
      ]),
      'filename=b.csv',
    );
    expect(unmapped.status).toBe(422);
    // The same clean file again: its run, a duplicate, not a new run.
    expect(
      (
        await upload(
          csvOf([RU_HEADER, [txnId, '10,00', '23.11.2026 12:00:00', account, 'Платёж']]),
          'from=2026-11-23&to=2026-11-23',
        )
      ).body.duplicate,
    ).toBe(true);

    m = await scrape(new Date(Date.now() + 2 * 3_600_000));
    expect(series(m, 'gateway_reconcile_runs_total{status="clean"}')).toBe(1);
    expect(series(m, 'gateway_reconcile_runs_total{status="discrepancies"}')).toBe(1);
    expect(series(m, 'gateway_reconcile_runs_total{status="failed"}')).toBe(1);
    expect(series(m, 'gateway_reconcile_covered_until_timestamp_seconds')).toBe(
      Date.parse('2026-11-24T23:59:59+05:00') / 1000,
    );
    const age = series(m, 'gateway_reconcile_oldest_open_action_age_seconds') as number;
    expect(age).toBeGreaterThan(2 * 3600 - 120);
    expect(age).toBeLessThan(2 * 3600 + 120);
    expect(logs.find('error', 'the file cannot be mapped')).toHaveLength(1);
  });
});
