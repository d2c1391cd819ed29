import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';
import { AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

// The ERROR lines this test is about: captured, counted, kept out of the output.
const logs = captureLogs('warn');

/**
 * Overdue items in the log (registries-seed-notes §1.9 "The watch job"): one ERROR per item the
 * first time it is overdue, then one summary ERROR a day (Kaspi time) while any stays overdue, once
 * across workers (a notice key of the day), and none once it is resolved.
 */
describe.each(dbKinds)('[%s] overdue reconciliation items in the log', (kind) => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  const at = (iso: string) => new Date(iso);
  const errors = (text: string) => logs.find('error', text);

  it('when an item stays overdue, then its own ERROR once, then one summary ERROR a day until it is resolved', async () => {
    const svc = t.gateway.services.reconcile;
    const txnId = newTxnId();
    const run = await t
      .admin()
      .post('/api/reconciliations?from=2026-11-23&to=2026-11-23&receivedAt=2026-11-24T09:00:00%2B05:00')
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(csvOf([RU_HEADER, [txnId, '5,00', '23.11.2026 10:00:00', 'A-1', 'Платёж']]));
    expect(Object.keys(run.body.totals.byClass)).toEqual(['MISSING_OURS']);
    logs.clear();

    // Due at the end of the 24th (the day it was received). Before that: nothing.
    expect((await svc.watch(at('2026-11-24T23:00:00+05:00'))).overdue).toBe(0);
    // The 25th: its own ERROR, no summary yet (that line was today's).
    const first = await svc.watch(at('2026-11-25T10:00:00+05:00'));
    expect([first.overdue, first.overdueSummary]).toEqual([1, false]);
    expect(errors('a reconciliation item is overdue')).toHaveLength(1);
    expect(errors('a reconciliation item is overdue')[0]).toMatchObject({ txnId, class: 'MISSING_OURS' });
    await svc.watch(at('2026-11-25T15:00:00+05:00'));
    expect(logs.lines.filter((l) => l.level === 'error')).toHaveLength(1);

    // The 26th: one summary; the next hourly run that day says nothing.
    const day2 = await svc.watch(at('2026-11-26T10:00:00+05:00'));
    expect(day2.overdueSummary).toBe(true);
    await svc.watch(at('2026-11-26T11:00:00+05:00'));
    const summaries = errors('reconciliation items are still overdue');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      module: 'reconcile',
      overdue: 1,
      stillOverdue: 1,
      byClass: { MISSING_OURS: 1 },
      earliestDueAt: '2026-11-24T23:59:59+05:00',
    });
    expect(errors('a reconciliation item is overdue')).toHaveLength(1);

    // The 27th, two workers at once: one summary between them.
    const both = await Promise.all([
      svc.watch(at('2026-11-27T10:00:00+05:00')),
      svc.watch(at('2026-11-27T10:00:01+05:00')),
    ]);
    expect(both.map((w) => w.overdueSummary).sort()).toEqual([false, true]);
    expect(errors('reconciliation items are still overdue')).toHaveLength(2);

    // Resolved: no more lines.
    const item = (await svc.store.items({ runId: run.body.id }))[0] as { id: string };
    await svc.resolve(item.id, { action: 'accept', note: 'Kaspi withdrew it', actor: { id: 'cli' } });
    const after = await svc.watch(at('2026-11-28T10:00:00+05:00'));
    expect([after.overdue, after.overdueSummary]).toEqual([0, false]);
    expect(logs.lines.filter((l) => l.level === 'error')).toHaveLength(3);
  });
});
