import { registerReconcileCommands } from '../../src/cli/reconcile-commands.js';
import { runCliInProcess } from '../support/cli-in-process.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

/**
 * The monthly statement (`reconcile month YYYY-MM`, GET /api/reconciliations/month/:yyyymm;
 * registries-seed-notes §1.9 "Monthly"): one line per day, Kaspi's side from the daily registries
 * (with commission and the expected net), ours by txn_date, the days no registry covers, the open
 * items of the month, and the totals, as JSON, CSV and text.
 */
describe.each(dbKinds)('[%s] the monthly statement', (kind) => {
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    t = await startTestGateway(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function credited(sum: string, txnDate: string) {
    seq += 1;
    const account = `RMO${process.pid}${seq}`;
    await t.gateway.stores.accounts.addAccount({ account, name: 'Payer', balance: 0 });
    const txnId = newTxnId();
    expect((await pay(t.api(), txnId, account, sum, { txn_date: txnDate })).xml.result).toBe('0');
    return { txnId, account };
  }

  it('when November has one daily registry, then the 23rd agrees, the others have no registry, our payment of the 24th shows as a difference, and the cabinet refund is open', async () => {
    const a = await credited('10.00', '20261123120000');
    const b = await credited('20.00', '20261123130000');
    await credited('5.00', '20261124090000'); // no registry for the 24th
    await credited('7.00', '20261201090000'); // December: not in the statement
    const header = [...RU_HEADER, 'Комиссия'];
    const run = await t
      .admin()
      .post('/api/reconciliations?from=2026-11-23&to=2026-11-23')
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(
        csvOf([
          header,
          [a.txnId, '10,00', '23.11.2026 12:00:00', a.account, 'Платёж', '0,20'],
          [b.txnId, '20,00', '23.11.2026 13:00:00', b.account, 'Платёж', '0,40'],
          [a.txnId, '1,00', '23.11.2026 18:00:00', a.account, 'Возврат', ''],
        ]),
      );
    expect(Object.keys(run.body.totals.byClass).sort()).toEqual(['MATCHED', 'REFUND_MISSING_OURS']);

    const r = await t.admin().get('/api/reconciliations/month/2026-11').set(AUTH);
    expect(r.status).toBe(200);
    const m = r.body;
    expect(m.days).toHaveLength(30);
    const d23 = m.days.find((d: { day: string }) => d.day === '2026-11-23');
    expect(d23).toMatchObject({
      covered: true,
      kaspi: {
        payments: { count: 2, amount: '30.00' },
        refunds: { count: 1, amount: '1.00' },
        commission: '0.60',
        net: '28.40',
      },
      ours: { credited: { count: 2, amount: '30.00' } },
      paymentsDifference: '0.00',
    });
    expect(m.days.find((d: { day: string }) => d.day === '2026-11-24')).toMatchObject({
      covered: false,
      ours: { credited: { count: 1, amount: '5.00' } },
      paymentsDifference: '-5.00',
    });
    expect(m.daysWithoutRegistry).toHaveLength(29);
    expect(m.daysWithoutRegistry).not.toContain('2026-11-23');
    expect(m.openItems.map((i: { class: string; txnId: string }) => [i.class, i.txnId])).toEqual([
      ['REFUND_MISSING_OURS', a.txnId],
    ]);
    expect(m.totals).toMatchObject({
      kaspi: { payments: { count: 2, amount: '30.00' }, net: '28.40' },
      ours: { credited: { count: 3, amount: '35.00' } },
      paymentsDifference: '-5.00',
    });

    const csv = (await t.admin().get('/api/reconciliations/month/202611?format=csv').set(AUTH)).text;
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(32); // header, 30 days, total
    expect(lines).toContain('2026-11-23,yes,2,30.00,1,1.00,0.60,0.00,28.40,2,30.00,0,0.00,0.00');
    expect(lines.at(-1)).toBe('total,,2,30.00,1,1.00,0.60,0.00,28.40,3,35.00,0,0.00,-5.00');
    expect((await t.admin().get('/api/reconciliations/month/2026-13').set(AUTH)).status).toBe(400);

    const text = await runCliInProcess(t.config, registerReconcileCommands, [
      'reconcile',
      'month',
      '2026-11',
    ]);
    expect(text).toMatch(/^Kaspi monthly statement 2026-11, cut-off 00:00/);
    expect(text).toContain('DAYS THAT DIFFER (0)');
    expect(text).toContain('DAYS WITHOUT A REGISTRY (29)');
    expect(text).toContain('OPEN ITEMS (1)');
    expect(text).toContain('Result: OPEN');
    expect(process.exitCode).toBe(3);
    process.exitCode = undefined;
  });
});
