import { fromDbTime, type Db } from '../db/db.js';
import { ValidationError } from '../shared/errors.js';
import { formatTenge, toTiyn } from '../shared/money.js';
import { addDays, endOfDay, isoDay, kaspiIso, periodRange, registryDay } from './reconcile-calendar.js';
import { coveredDays } from './reconcile-coverage.js';
import type { HeldRecords } from './reconcile-held.js';
import type { CountAmount } from './reconcile-matcher.js';
import { csvCell } from './reconcile-report.js';

/**
 * The monthly statement (registries-seed-notes §1.9 "Monthly"): for the reconciliation by the 7th
 * (C §4.5) and for checking Kaspi's Act of services (C §4.4). One line per day: Kaspi's side from
 * the registries (the registry's date; payment rows not marked failed, refund rows, commission,
 * returned commission, the expected net), ours by txn_date (credited payments of RECONCILE_SOURCES
 * in the cut-off window) and our success refunds by when they finished (Kaspi time); then the days no
 * registry covers, the open items of the month's runs and the month's totals. Read-only. Only daily
 * registries count (a monthly file repeats them); files replaced by a corrected re-issue do not.
 */

export interface DayLine {
  day: string; // YYYY-MM-DD
  covered: boolean;
  kaspi: {
    payments: CountAmount;
    refunds: CountAmount;
    commission: number;
    returnedCommission: number;
    net: number;
  };
  ours: { credited: CountAmount; refunds: CountAmount };
  /** Kaspi's payments minus our credited ones (tiyn): 0 on a day that agrees. */
  paymentsDifference: number;
}

export interface MonthStatement {
  month: string; // YYYY-MM
  cutoff: string;
  days: DayLine[];
  daysWithoutRegistry: string[];
  openItems: Array<{
    id: string;
    runId: string;
    class: string;
    severity: string;
    txnId: string | null;
    dueAt: string | null;
    amount: number | null;
  }>;
  totals: Omit<DayLine, 'day' | 'covered'>;
}

const FINISHED = ['clean', 'discrepancies', 'resolved'];
const ca = (): CountAmount => ({ count: 0, amount: 0 });
const n = (v: unknown) => (v == null ? 0 : toTiyn(typeof v === 'number' ? v : String(v)));

function emptyLine(day: string, covered: boolean): DayLine {
  return {
    day,
    covered,
    kaspi: { payments: ca(), refunds: ca(), commission: 0, returnedCommission: 0, net: 0 },
    ours: { credited: ca(), refunds: ca() },
    paymentsDifference: 0,
  };
}

export async function monthStatement(
  db: Db,
  held: HeldRecords,
  s: { sources: readonly string[]; cutoff: string; offset: string },
  month: string,
): Promise<MonthStatement> {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new ValidationError('month: YYYY-MM');
  const first = `${month.replace('-', '')}01`;
  let last = first;
  while (addDays(last, 1).slice(0, 6) === first.slice(0, 6)) last = addDays(last, 1);
  const covered = await coveredDays(db, first, last);
  const lines = new Map<string, DayLine>();
  for (let d = first; d <= last; d = addDays(d, 1)) lines.set(d, emptyLine(isoDay(d), covered.has(d)));
  const line = (day: string) => lines.get(day);

  // Kaspi: the rows of the daily registries that finished on files not replaced, by the row's day.
  const files = (
    (await db
      .knex('reconciliation_runs as r')
      .join('registry_files as f', 'f.id', 'r.file_id')
      .whereNull('f.superseded_by_file_id')
      .whereIn('r.status', FINISHED)
      .where('r.kind', 'daily')
      .where('r.period_from', '<=', addDays(last, 7))
      .where('r.period_to', '>=', addDays(first, -7))
      .distinct('r.file_id')) as Array<{ file_id: unknown }>
  ).map((r) => String(r.file_id));
  for (const fileId of files) {
    const rows = (await db
      .knex('registry_rows')
      .where('file_id', fileId)
      .whereIn('kind', ['payment', 'refund'])
      .where('date_raw', '>=', first)
      .where('date_raw', '<', `${addDays(last, 1)}`)
      .where((w) => w.whereNull('status_success').orWhere('status_success', true))
      .groupByRaw('substr(date_raw, 1, 8), kind')
      .select(db.knex.raw('substr(date_raw, 1, 8) as d'), 'kind')
      .count({ c: '*' })
      .sum({ amount: 'amount', commission: 'commission', returned: 'returned_commission' })) as Array<{
      d: string;
      kind: string;
      c: number | string;
      amount: unknown;
      commission: unknown;
      returned: unknown;
    }>;
    for (const r of rows) {
      const l = line(String(r.d));
      if (!l) continue;
      const side = r.kind === 'payment' ? l.kaspi.payments : l.kaspi.refunds;
      side.count += Number(r.c);
      side.amount += n(r.amount);
      l.kaspi.commission += n(r.commission);
      l.kaspi.returnedCommission += n(r.returned);
    }
  }

  // Ours: credited payments by txn_date (minute groups, so the cut-off places each in its day).
  const range = periodRange(first, last, s.cutoff);
  const ours = (await db
    .knex('payments')
    .whereIn('source', s.sources)
    .where('state', 'credited')
    .where('txn_date_raw', '>=', range.start)
    .where('txn_date_raw', '<', range.end)
    .groupByRaw('substr(txn_date_raw, 1, 12)')
    .select(db.knex.raw('substr(txn_date_raw, 1, 12) as m'))
    .count({ c: '*' })
    .sum({ amount: 'amount' })) as Array<{ m: string; c: number | string; amount: unknown }>;
  for (const r of ours) {
    const l = line(registryDay(`${r.m}00`, s.cutoff));
    if (!l) continue;
    l.ours.credited.count += Number(r.c);
    l.ours.credited.amount += n(r.amount);
  }
  const startUtc = new Date(`${isoDay(first)}T00:00:00${s.offset}`);
  const endUtc = new Date(Date.parse(endOfDay(last, s.offset)) + 1000);
  for (const f of await held.successRefundsFinished(startUtc, endUtc, s.offset)) {
    const l = f.finishedWall ? line(f.finishedWall.slice(0, 8)) : undefined;
    if (!l) continue;
    l.ours.refunds.count++;
    l.ours.refunds.amount += f.amount;
  }

  const totals = emptyLine('', true);
  for (const l of lines.values()) {
    const k = l.kaspi;
    k.net = k.payments.amount - k.refunds.amount - k.commission + k.returnedCommission;
    l.paymentsDifference = k.payments.amount - l.ours.credited.amount;
    for (const [to, from] of [
      [totals.kaspi.payments, k.payments],
      [totals.kaspi.refunds, k.refunds],
      [totals.ours.credited, l.ours.credited],
      [totals.ours.refunds, l.ours.refunds],
    ] as const) {
      to.count += from.count;
      to.amount += from.amount;
    }
    totals.kaspi.commission += k.commission;
    totals.kaspi.returnedCommission += k.returnedCommission;
    totals.kaspi.net += k.net;
    totals.paymentsDifference += l.paymentsDifference;
  }

  const open = (await db
    .knex('reconciliation_items as i')
    .join('reconciliation_runs as r', 'r.id', 'i.run_id')
    .where('i.state', 'open')
    .where('r.period_from', '<=', last)
    .where('r.period_to', '>=', first)
    .orderBy('i.id')
    .select(
      'i.id',
      'i.run_id',
      'i.class',
      'i.severity',
      'i.txn_id',
      'i.due_at',
      'i.registry_amount',
      'i.our_amount',
    )) as Array<Record<string, unknown>>;
  const { day: _d, covered: _c, ...sums } = totals;
  return {
    month,
    cutoff: s.cutoff,
    days: [...lines.values()],
    daysWithoutRegistry: [...lines.values()].filter((l) => !l.covered).map((l) => l.day),
    openItems: open.map((r) => ({
      id: String(r.id),
      runId: String(r.run_id),
      class: String(r.class),
      severity: String(r.severity),
      txnId: r.txn_id == null ? null : String(r.txn_id),
      dueAt: kaspiIso(fromDbTime((r.due_at as string | null) ?? null)?.toISOString() ?? null, s.offset),
      amount:
        r.registry_amount != null ? n(r.registry_amount) : r.our_amount != null ? n(r.our_amount) : null,
    })),
    totals: sums,
  };
}

const t = (v: number) => formatTenge(v);

/** The statement as JSON for a machine: amounts as "2000.00" strings (and tiyn in *Minor). */
export function monthJson(m: MonthStatement) {
  const money = (c: CountAmount) => ({ count: c.count, amount: t(c.amount), amountMinor: c.amount });
  const side = (l: Omit<DayLine, 'day' | 'covered'>) => ({
    kaspi: {
      payments: money(l.kaspi.payments),
      refunds: money(l.kaspi.refunds),
      commission: t(l.kaspi.commission),
      returnedCommission: t(l.kaspi.returnedCommission),
      net: t(l.kaspi.net),
    },
    ours: { credited: money(l.ours.credited), refunds: money(l.ours.refunds) },
    paymentsDifference: t(l.paymentsDifference),
  });
  return {
    schemaVersion: 1,
    month: m.month,
    cutoff: m.cutoff,
    days: m.days.map((l) => ({ day: l.day, covered: l.covered, ...side(l) })),
    daysWithoutRegistry: m.daysWithoutRegistry,
    openItems: m.openItems.map((i) => ({ ...i, amount: i.amount === null ? null : t(i.amount) })),
    totals: side(m.totals),
  };
}

const HEADER = [
  'day',
  'covered',
  'kaspi_payments',
  'kaspi_payments_amount',
  'kaspi_refunds',
  'kaspi_refunds_amount',
  'commission',
  'returned_commission',
  'kaspi_net',
  'our_credited',
  'our_credited_amount',
  'our_refunds',
  'our_refunds_amount',
  'payments_difference',
];
const AMOUNTS = new Set([3, 5, 6, 7, 8, 10, 12, 13]);

/** One line per day and a totals line, RFC 4180, for a spreadsheet. */
export function monthCsv(m: MonthStatement): string {
  const row = (day: string, covered: string, l: Omit<DayLine, 'day' | 'covered'>) =>
    [
      day,
      covered,
      l.kaspi.payments.count,
      t(l.kaspi.payments.amount),
      l.kaspi.refunds.count,
      t(l.kaspi.refunds.amount),
      t(l.kaspi.commission),
      t(l.kaspi.returnedCommission),
      t(l.kaspi.net),
      l.ours.credited.count,
      t(l.ours.credited.amount),
      l.ours.refunds.count,
      t(l.ours.refunds.amount),
      t(l.paymentsDifference),
    ]
      .map((c, i) => csvCell(c, AMOUNTS.has(i)))
      .join(',');
  return [
    HEADER.join(','),
    ...m.days.map((l) => row(l.day, l.covered ? 'yes' : 'no', l)),
    row('total', '', m.totals),
    '',
  ].join('\r\n');
}

/** For a person: the days that disagree or have no registry, the open items, the month's totals. */
export function monthText(m: MonthStatement): string {
  const out = [
    `Kaspi monthly statement ${m.month}, cut-off ${m.cutoff} (reconcile by the 7th of the next month)`,
    '',
  ];
  const k = m.totals.kaspi;
  const o = m.totals.ours;
  out.push(
    `Kaspi:  ${k.payments.count} payments ${t(k.payments.amount)} | ${k.refunds.count} refunds ${t(k.refunds.amount)} | commission ${t(k.commission)} | returned ${t(k.returnedCommission)} | net ${t(k.net)}`,
    `Ours:   ${o.credited.count} credited ${t(o.credited.amount)} | ${o.refunds.count} refunds ${t(o.refunds.amount)}`,
    `Payments difference (Kaspi − ours): ${t(m.totals.paymentsDifference)}`,
    '',
  );
  const differing = m.days.filter((l) => l.covered && l.paymentsDifference !== 0);
  out.push(`DAYS THAT DIFFER (${differing.length})`);
  for (const l of differing)
    out.push(
      `  ${l.day}  Kaspi ${t(l.kaspi.payments.amount)}  ours ${t(l.ours.credited.amount)}  difference ${t(l.paymentsDifference)}`,
    );
  out.push(`DAYS WITHOUT A REGISTRY (${m.daysWithoutRegistry.length})`);
  if (m.daysWithoutRegistry.length) out.push(`  ${m.daysWithoutRegistry.join(' ')}`);
  out.push(`OPEN ITEMS (${m.openItems.length})`);
  for (const i of m.openItems)
    out.push(
      `  ${i.class.padEnd(22)}  ${i.severity.padEnd(6)}  txn ${i.txnId ?? '-'}  ${i.amount === null ? '' : t(i.amount)}  item ${i.id} (run ${i.runId})`,
    );
  out.push(
    '',
    `Result: ${m.openItems.length || m.daysWithoutRegistry.length || differing.length ? 'OPEN' : 'AGREED'}`,
  );
  return `${out.join('\n')}\n`;
}
