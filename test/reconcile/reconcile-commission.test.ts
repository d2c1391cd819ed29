import { commissionItems } from '../../src/reconcile/reconcile-commission.js';
import type { RegistryRow } from '../../src/reconcile/registry-profile.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { AUTH } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

const S = { offset: '+05:00', holidays: new Set<string>() };

function row(
  n: number,
  amount: number,
  commission: number | null,
  extra: Partial<RegistryRow> = {},
): RegistryRow {
  return {
    rowNo: n,
    kind: 'payment',
    txnId: String(1000 + n),
    txnIdPrecision: false,
    refundRef: null,
    amount,
    commission,
    returnedCommission: null,
    dateRaw: '20261123120000',
    account: null,
    prvTxn: null,
    status: null,
    statusSuccess: null,
    channel: null,
    raw: {},
    problem: null,
    ...extra,
  };
}

/** COMMISSION_RATE (registries-seed-notes §1.7, edge case 38): RECONCILE_COMMISSION_PERCENT against each row. */
describe('the commission check', () => {
  it('when a row is off by more than 1 tiyn of round(amount × rate), then COMMISSION_RATE, in integers, half up', () => {
    const items = commissionItems(
      [
        row(1, 200_000, 3_900), // 2 000.00 × 1.95 % = 39.00: agrees
        row(2, 200_000, 3_901), // 1 tiyn off: within
        row(3, 200_000, 3_902), // 2 tiyn off: an item
        row(4, 100, 0), // 1.00 × 1.95 % = 1.95 → 2 tiyn (half up): 2 off
        row(5, 100_000_000_000, 1_950_000_000), // 1 000 000 000.00: exact, no float on the way
        row(6, 200_000, null), // no commission given: nothing to check
        row(7, 200_000, 0, { kind: 'refund' }), // refunds carry returned commission, not checked here
        row(8, 200_000, 0, { statusSuccess: false }), // not a successful payment
      ],
      '1.95',
      S,
      '20261124',
    );
    expect(items.map((i) => [i.rowNo, i.registryAmount, i.ourAmount])).toEqual([
      [3, 3_902, 3_900],
      [4, 0, 2],
    ]);
    // The Act arrives by the 15th of the next month (a Tuesday); answered within 5 business days.
    expect(items[0]).toMatchObject({
      class: 'COMMISSION_RATE',
      severity: 'watch',
      dueAt: '2026-12-22T23:59:59+05:00',
    });
    expect(commissionItems([row(1, 10_000, 200)], '2', S, '20261124')).toEqual([]);
    expect(commissionItems([row(1, 10_000, 200)], '1.9999', S, '20261124')).toEqual([]);
    expect(commissionItems([row(1, 10_000, 197)], '1.9999', S, '20261124')).toHaveLength(1);
  });
});

describe.each(dbKinds)('[%s] the commission check on import', (kind) => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway(kind, { RECONCILE_COMMISSION_PERCENT: '1.95' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when RECONCILE_COMMISSION_PERCENT is set and a row is off, then the run has one watched COMMISSION_RATE item', async () => {
    const account = `RC${process.pid}${Math.floor(Math.random() * 1e6)}`;
    await t.gateway.stores.accounts.addAccount({ account, name: 'Payer', balance: 0 });
    const ok = newTxnId();
    const off = newTxnId();
    for (const txn of [ok, off])
      expect((await pay(t.api(), txn, account, '2000.00', { txn_date: '20261123120000' })).xml.result).toBe(
        '0',
      );
    const run = await t
      .admin()
      .post('/api/reconciliations?from=2026-11-23&to=2026-11-23')
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(
        csvOf([
          [...RU_HEADER, 'Комиссия'],
          [ok, '2 000,00', '23.11.2026 12:00:00', account, 'Платёж', '39,00'],
          [off, '2 000,00', '23.11.2026 12:00:00', account, 'Платёж', '39,02'],
        ]),
      );
    expect(run.body.status).toBe('discrepancies');
    expect(run.body.totals.byClass).toEqual({
      MATCHED: { count: 2, amount: '4000.00', amountMinor: 400_000 },
      COMMISSION_RATE: { count: 1, amount: '39.02', amountMinor: 3_902 },
    });
    const items = (await t.admin().get(`/api/reconciliations/${run.body.id}/items`).set(AUTH)).body.items;
    expect(
      items.map((i: { class: string; severity: string; txnId: string }) => [i.class, i.severity, i.txnId]),
    ).toEqual([['COMMISSION_RATE', 'watch', off]]);
  });
});
