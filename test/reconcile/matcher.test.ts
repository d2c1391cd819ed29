import fc from 'fast-check';
import {
  match,
  NOWHERE,
  type Item,
  type MatchInput,
  type OurPayment,
  type OurRefund,
} from '../../src/reconcile/reconcile-matcher.js';
import type { RegistryRow } from '../../src/reconcile/registry-profile.js';

const SETTINGS: MatchInput['settings'] = {
  cutoff: '00:00',
  accountCompare: 'exact',
  offset: '+05:00',
  receivedWall: '20261124091200',
  graceBusinessDays: 3,
  holidays: new Set(),
};

function row(rowNo: number, p: Partial<RegistryRow>): RegistryRow {
  return {
    rowNo,
    kind: 'payment',
    txnId: null,
    txnIdPrecision: false,
    refundRef: null,
    amount: null,
    commission: null,
    returnedCommission: null,
    dateRaw: '20261123120000',
    account: null,
    prvTxn: null,
    status: null,
    statusSuccess: null,
    channel: null,
    raw: {},
    problem: null,
    ...p,
  };
}

function pay(
  id: string,
  txnId: string,
  amount: number,
  state = 'credited',
  txnDateRaw = '20261123120000',
): OurPayment {
  return { id, txnId, account: 'acc', amount, state, result: state === 'failed' ? 1 : 0, txnDateRaw };
}

function refund(
  id: string,
  txnId: string,
  paymentId: string,
  amount: number,
  status: string,
  extra: Partial<OurRefund> = {},
): OurRefund {
  return {
    id,
    txnId,
    paymentId,
    refundIdentificator: `R${id}`,
    requestIdentificator: null,
    amount,
    status,
    createdAt: `2026-11-23 10:00:0${id.length}`,
    finishedWall: status === 'success' ? '20261123150000' : null,
    ...extra,
  };
}

function input(
  rows: RegistryRow[],
  payments: OurPayment[],
  refunds: OurRefund[] = [],
  p: Partial<MatchInput> = {},
): MatchInput {
  const refundsByTxn = new Map<string, OurRefund[]>();
  for (const f of refunds) refundsByTxn.set(f.txnId, [...(refundsByTxn.get(f.txnId) ?? []), f]);
  return {
    rows,
    paymentsByTxn: new Map(payments.map((x) => [x.txnId, x])),
    refundsByTxn,
    periodPayments: payments,
    periodRefunds: refunds.filter((f) => f.status === 'success'),
    precisionCandidates: [],
    elsewhere: NOWHERE,
    period: { from: '20261123', to: '20261123' },
    settings: SETTINGS,
    ...p,
  };
}

function classes(items: Item[]) {
  return items.map((i) => [i.class, i.severity, i.txnId]);
}

describe('the matcher: one of each class', () => {
  it('when a credited payment is listed with its amount, then MATCHED and the run is clean', () => {
    const r = match(input([row(2, { txnId: '1', amount: 200000 })], [pay('10', '1', 200000)]));
    if (!r.ok) throw new Error(r.error);
    expect(r.items).toEqual([]);
    expect(r.totals.byClass).toEqual({ MATCHED: { count: 1, amount: 200000 } });
    expect(r.matches).toEqual([{ rowNo: 2, paymentId: '10', refundId: null }]);
  });

  it('when each payment-side difference is planted, then each class once, with deadlines in +05:00', () => {
    const rows = [
      row(2, { txnId: '1', amount: 100 }), // MISSING_OURS
      row(3, { txnId: '2', amount: 100 }), // PENDING_OURS
      row(4, { txnId: '3', amount: 100 }), // REFUSED_OURS
      row(5, { txnId: '4', amount: 101 }), // AMOUNT_DIFFERS
      row(6, { txnId: '5', amount: 100, account: 'other' }), // MATCHED + ACCOUNT_DIFFERS
      row(7, { txnId: '6', amount: 100, dateRaw: '20261122120000' }), // MATCHED + DATE_DIFFERS (info)
      row(8, { txnId: '7', amount: 100, status: 'отказ', statusSuccess: false }), // STATUS_NOT_SUCCESS → action
      row(9, { txnId: '8', amount: 100 }),
      row(10, { txnId: '8', amount: 100 }), // DUPLICATE_ROW
      row(11, { txnId: '9', amount: 100 }), // IN_OTHER_REGISTRY
      row(12, { kind: 'invalid', problem: 'not a date' }), // ROW_INVALID
      row(13, { txnId: '123456789012345600', amount: 100, txnIdPrecision: true }), // TXN_ID_PRECISION
      row(14, { kind: 'excluded', txnId: '11', amount: 100 }), // EXCLUDED
      row(15, { kind: 'totals', amount: 1 }), // FILE_TOTAL_MISMATCH
    ];
    const payments = [
      pay('p2', '2', 100, 'pending'),
      pay('p3', '3', 100, 'failed'),
      pay('p4', '4', 100),
      pay('p5', '5', 100),
      pay('p6', '6', 100),
      pay('p7', '7', 100),
      pay('p8', '8', 100),
      pay('p12', '12', 100), // MISSING_KASPI
      pay('p13', '13', 100, 'pending'), // PENDING_NOT_LISTED
      pay('p14', '14', 100, 'failed'), // counted, not listed
      pay('p15', '123456789012345678', 100),
    ];
    const r = match(
      input(rows, payments, [], {
        elsewhere: { ...NOWHERE, paymentTxnIds: new Set(['9']) },
        precisionCandidates: [payments[10] as OurPayment],
      }),
    );
    if (!r.ok) throw new Error(r.error);
    const got = Object.fromEntries(Object.entries(r.totals.byClass).map(([k, v]) => [k, v.count]));
    expect(got).toEqual({
      MATCHED: 3,
      MISSING_OURS: 1,
      PENDING_OURS: 1,
      REFUSED_OURS: 1,
      AMOUNT_DIFFERS: 1,
      ACCOUNT_DIFFERS: 1,
      DATE_DIFFERS: 1,
      STATUS_NOT_SUCCESS: 1,
      DUPLICATE_ROW: 1,
      IN_OTHER_REGISTRY: 1,
      ROW_INVALID: 1,
      TXN_ID_PRECISION: 1,
      EXCLUDED: 1,
      FILE_TOTAL_MISMATCH: 1,
      MISSING_KASPI: 2, // p12, and p15 until a person links the TXN_ID_PRECISION row to it
      PENDING_NOT_LISTED: 1,
    });
    const by = (c: string) => r.items.find((i) => i.class === c) as Item;
    expect(by('MISSING_OURS').dueAt).toBe('2026-11-24T23:59:59+05:00');
    expect(by('AMOUNT_DIFFERS').dueAt).toBe('2026-12-07T23:59:59+05:00');
    expect(by('STATUS_NOT_SUCCESS').severity).toBe('action');
    expect(by('MISSING_KASPI')).toMatchObject({ severity: 'watch', escalateAt: '2026-11-26T23:59:59+05:00' });
    expect(by('TXN_ID_PRECISION').detail.candidates).toEqual([
      { paymentId: 'p15', txnId: '123456789012345678', amount: 100, state: 'credited' },
    ]);
    // ordered: action first, earliest due, then row
    expect(r.items.map((i) => i.severity)).toEqual(
      [...r.items.map((i) => i.severity)].sort(
        (a, b) => ['action', 'watch', 'info'].indexOf(a) - ['action', 'watch', 'info'].indexOf(b),
      ),
    );
    expect(classes(r.items).slice(0, 3)).toEqual([
      ['MISSING_OURS', 'action', '1'],
      ['PENDING_OURS', 'action', '2'],
      ['REFUSED_OURS', 'action', '3'],
    ]);
  });

  it('when refunds are planted, then each refund class once and partial refunds pair one to one', () => {
    const payments = [
      pay('p1', '1', 100000),
      pay('p2', '2', 100000),
      pay('p3', '3', 100000),
      pay('p4', '4', 1000),
    ];
    const refunds = [
      refund('a', '1', 'p1', 50000, 'success'),
      refund('b', '1', 'p1', 50000, 'success'),
      refund('c', '2', 'p2', 100, 'in_progress'),
      refund('d', '3', 'p3', 100, 'declined'),
      refund('e', '3', 'p3', 300, 'success', { requestIdentificator: 'K-77' }),
      refund('f', '4', 'p4', 500, 'success', { finishedWall: '20261123235959' }),
    ];
    const rows = [
      row(2, { kind: 'refund', txnId: '1', amount: 50000 }),
      row(3, { kind: 'refund', txnId: '1', amount: 50000 }),
      row(4, { kind: 'refund', txnId: '2', amount: 100 }),
      row(5, { kind: 'refund', txnId: '3', amount: 100 }),
      row(6, { kind: 'refund', txnId: '3', amount: 200, refundRef: 'K-77' }),
      row(7, { kind: 'refund', txnId: '2', amount: 99 }),
      row(8, { kind: 'refund', txnId: '99', amount: 5 }),
      row(9, { kind: 'refund', txnId: '4', amount: 2000 }),
    ];
    const r = match(input(rows, payments, refunds, { periodPayments: [] }));
    if (!r.ok) throw new Error(r.error);
    const got = Object.fromEntries(Object.entries(r.totals.byClass).map(([k, v]) => [k, v.count]));
    expect(got).toEqual({
      REFUND_MATCHED: 2,
      REFUND_PENDING_OURS: 1,
      REFUND_STATUS_DIFFERS: 1,
      REFUND_AMOUNT_DIFFERS: 1,
      REFUND_MISSING_OURS: 2,
      REFUND_WITHOUT_PAYMENT: 1,
      REFUND_OVER_PAYMENT: 1,
      REFUND_MISSING_KASPI: 1,
    });
    expect(
      r.matches
        .filter((m) => m.refundId)
        .map((m) => m.refundId)
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((r.items.find((i) => i.class === 'REFUND_MISSING_OURS') as Item).dueAt).toBe(
      '2026-11-25T23:59:59+05:00',
    );
  });

  it('when every amount is ×100, then the run fails with the unit hint and no items', () => {
    const r = match(
      input(
        [row(2, { txnId: '1', amount: 10000 }), row(3, { txnId: '2', amount: 500 })],
        [pay('a', '1', 100), pay('b', '2', 5)],
      ),
    );
    expect(r).toEqual({ ok: false, error: 'amounts look like tiyn/tenge: check the profile' });
  });

  it('when the cut-off is 18:00, then a payment at 19:00 belongs to the next day', () => {
    const settings = { ...SETTINGS, cutoff: '18:00' };
    const late = pay('a', '1', 100, 'credited', '20261123190000');
    const r = match(input([], [late], [], { settings }));
    expect(r.ok && r.items).toEqual([]);
    const next = match(input([], [late], [], { settings, period: { from: '20261124', to: '20261124' } }));
    expect(next.ok && next.items.map((i) => i.class)).toEqual(['MISSING_KASPI']);
  });

  it('when the period is not given, then it is inferred from the rows', () => {
    const r = match(
      input(
        [
          row(2, { txnId: '1', amount: 1, dateRaw: '20261121' }),
          row(3, { txnId: '2', amount: 1, dateRaw: '20261123101010' }),
        ],
        [],
        [],
        { period: null },
      ),
    );
    expect(r.ok && r.period).toEqual({ from: '20261121', to: '20261123', inferred: true });
  });

  it('when the grace counts business days, then weekends and holidays are skipped', () => {
    // Friday 2026-11-27 + 3 business days, Monday 30th a holiday → Thursday 3 December.
    const settings = { ...SETTINGS, holidays: new Set(['20261130']) };
    const r = match(
      input([], [pay('a', '1', 1, 'credited', '20261127100000')], [], {
        settings,
        period: { from: '20261127', to: '20261127' },
      }),
    );
    expect(r.ok && r.items[0]?.escalateAt).toBe('2026-12-03T23:59:59+05:00');
  });

  it('when accountCompare is last10, then +7701…, 8701… and 701… are the same account', () => {
    const settings = { ...SETTINGS, accountCompare: 'last10' as const };
    const ours = { ...pay('a', '1', 1), account: '+77011234567' };
    for (const account of ['87011234567', '7011234567', '+7 701 123 45 67']) {
      const r = match(input([row(2, { txnId: '1', amount: 1, account })], [ours], [], { settings }));
      expect(r.ok && r.items).toEqual([]);
    }
    const exact = match(input([row(2, { txnId: '1', amount: 1, account: '87011234567' })], [ours]));
    expect(exact.ok && exact.items.map((i) => i.class)).toEqual(['ACCOUNT_DIFFERS']);
  });
});

describe('the matcher: properties', () => {
  const states = fc.constantFrom('credited', 'credited', 'pending', 'failed', 'received');
  const world = fc
    .record({
      payments: fc.uniqueArray(
        fc.record({
          txn: fc.integer({ min: 1, max: 40 }),
          amount: fc.integer({ min: 1, max: 10 ** 9 }),
          state: states,
        }),
        {
          selector: (p) => p.txn,
          maxLength: 30,
        },
      ),
      rows: fc.array(
        fc.record({
          txn: fc.integer({ min: 1, max: 50 }),
          delta: fc.constantFrom(0, 0, 0, 1, -1),
          refund: fc.boolean(),
        }),
        { maxLength: 40 },
      ),
    })
    .map(({ payments, rows }) => {
      const ours = payments.map((p) => pay(`p${p.txn}`, String(p.txn), p.amount, p.state));
      const amountOf = (txn: number) => payments.find((p) => p.txn === txn)?.amount ?? 7;
      const regRows = rows.map((r, i) =>
        row(i + 2, {
          kind: r.refund ? 'refund' : 'payment',
          txnId: String(r.txn),
          amount: Math.max(1, amountOf(r.txn) + r.delta),
        }),
      );
      return { ours, regRows };
    });

  it('every payment and refund of ours is matched at most once; every payment row gets one outcome', () => {
    fc.assert(
      fc.property(world, ({ ours, regRows }) => {
        const r = match(input(regRows, ours));
        if (!r.ok) return; // the unit-sanity refusal is its own test
        const pays = r.matches.filter((m) => m.paymentId).map((m) => m.paymentId);
        expect(new Set(pays).size).toBe(pays.length);
        const outcomeClasses = [
          'MISSING_OURS',
          'PENDING_OURS',
          'REFUSED_OURS',
          'AMOUNT_DIFFERS',
          'DUPLICATE_ROW',
          'IN_OTHER_REGISTRY',
        ];
        const paymentRows = regRows.filter((x) => x.kind === 'payment');
        const outcomes =
          r.items.filter((i) => outcomeClasses.includes(i.class)).length +
          (r.totals.byClass.MATCHED?.count ?? 0);
        expect(outcomes).toBe(paymentRows.length);
        for (const i of r.items) {
          expect(Number.isSafeInteger(i.registryAmount ?? 0)).toBe(true);
          if (i.severity === 'action') expect(i.dueAt).toMatch(/^\d{4}-\d{2}-\d{2}T23:59:59\+05:00$/);
        }
      }),
    );
  });

  it('every credited payment of the period is listed by a row or is MISSING_KASPI, never both', () => {
    fc.assert(
      fc.property(world, ({ ours, regRows }) => {
        const r = match(input(regRows, ours));
        if (!r.ok) return;
        const listed = new Set(regRows.filter((x) => x.kind === 'payment').map((x) => x.txnId));
        const missing = new Set(r.items.filter((i) => i.class === 'MISSING_KASPI').map((i) => i.txnId));
        for (const p of ours.filter((x) => x.state === 'credited'))
          expect(listed.has(p.txnId) !== missing.has(p.txnId)).toBe(true);
      }),
    );
  });

  it('the outcome does not depend on the order of the rows (counts and amounts by class)', () => {
    fc.assert(
      fc.property(world, fc.integer(), ({ ours, regRows }, seed) => {
        const unique = regRows.filter((x, i) => regRows.findIndex((y) => y.txnId === x.txnId) === i);
        const shuffled = [...unique].sort(
          (a, b) => ((a.rowNo * 7919 + seed) % 101) - ((b.rowNo * 7919 + seed) % 101),
        );
        const a = match(input(unique, ours));
        const b = match(input(shuffled, ours));
        expect(a.ok && a.totals.byClass).toEqual(b.ok && b.totals.byClass);
      }),
    );
  });

  it('the same input gives the same items (deterministic)', () => {
    fc.assert(
      fc.property(world, ({ ours, regRows }) => {
        expect(match(input(regRows, ours))).toEqual(match(input(regRows, ours)));
      }),
    );
  });
});
