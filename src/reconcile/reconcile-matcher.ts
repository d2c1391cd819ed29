/**
 * The matcher (registries-seed-notes §1.6, §1.7): the canonical rows of one registry and what we
 * hold → items and one-to-one matches. Pure: no I/O, no clock (the time it needs comes in), so
 * it is property-tested (test/reconcile/matcher-property.test.ts). The key is txn_id alone, by the
 * exact string; amounts compare as integers of tiyn with no tolerance.
 */
import { addBusinessDays, endOfDay, periodRange, registryDay, seventhAfter } from './reconcile-calendar.js';
import { compareAccount, type Profile, type RegistryRow } from './registry-profile.js';

export const CLASSES = [
  'MATCHED',
  'MISSING_OURS',
  'PENDING_OURS',
  'REFUSED_OURS',
  'AMOUNT_DIFFERS',
  'ACCOUNT_DIFFERS',
  'DATE_DIFFERS',
  'STATUS_NOT_SUCCESS',
  'DUPLICATE_ROW',
  'IN_OTHER_REGISTRY',
  'MISSING_KASPI',
  'PENDING_NOT_LISTED',
  'REFUND_MATCHED',
  'REFUND_MISSING_OURS',
  'REFUND_PENDING_OURS',
  'REFUND_STATUS_DIFFERS',
  'REFUND_AMOUNT_DIFFERS',
  'REFUND_OVER_PAYMENT',
  'REFUND_WITHOUT_PAYMENT',
  'REFUND_MISSING_KASPI',
  'FILE_TOTAL_MISMATCH',
  'ROW_INVALID',
  'TXN_ID_PRECISION',
  'EXCLUDED',
] as const;
export type ItemClass = (typeof CLASSES)[number];
export type Severity = 'action' | 'watch' | 'info';

/** Classes that are counted, never listed as items. */
export const COUNTED_ONLY: readonly ItemClass[] = ['MATCHED', 'REFUND_MATCHED'];

export interface OurPayment {
  id: string;
  txnId: string;
  account: string;
  amount: number;
  state: string;
  result: number | null;
  txnDateRaw: string | null;
}

export interface OurRefund {
  id: string;
  txnId: string;
  paymentId: string;
  refundIdentificator: string;
  requestIdentificator: string | null;
  amount: number;
  status: string;
  createdAt: string;
  /** finished_at in Kaspi wall time (YYYYMMDDhhmmss), for "in the period". */
  finishedWall: string | null;
}

/** What other imported, not superseded registries already hold. */
export interface Elsewhere {
  paymentTxnIds: ReadonlySet<string>;
  matchedPaymentIds: ReadonlySet<string>;
  matchedRefundIds: ReadonlySet<string>;
  refundSumByTxn: ReadonlyMap<string, number>;
}

export const NOWHERE: Elsewhere = {
  paymentTxnIds: new Set(),
  matchedPaymentIds: new Set(),
  matchedRefundIds: new Set(),
  refundSumByTxn: new Map(),
};

export interface MatchSettings {
  cutoff: string; // HH:MM
  accountCompare: Profile['accountCompare'];
  offset: string; // +05:00
  /** When the registry was received, Kaspi wall time YYYYMMDDhhmmss. */
  receivedWall: string;
  graceBusinessDays: number;
  holidays: ReadonlySet<string>;
}

export interface MatchInput {
  rows: readonly RegistryRow[];
  /** Our payments (sources RECONCILE_SOURCES) of the rows' txn_ids. */
  paymentsByTxn: ReadonlyMap<string, OurPayment>;
  /** Our refunds of the rows' txn_ids. */
  refundsByTxn: ReadonlyMap<string, readonly OurRefund[]>;
  /** Our payments whose txn_date falls in the period's windows. */
  periodPayments: readonly OurPayment[];
  /** Our `success` refunds finished in the period. */
  periodRefunds: readonly OurRefund[];
  /** Payments sharing a 15-digit prefix with a TXN_ID_PRECISION row. */
  precisionCandidates: readonly OurPayment[];
  elsewhere: Elsewhere;
  /** Given (inclusive days YYYYMMDD), or null to infer from the rows. */
  period: { from: string; to: string } | null;
  settings: MatchSettings;
}

export interface Item {
  class: ItemClass;
  severity: Severity;
  /** ISO instant with Kaspi's offset, or null (no deadline). */
  dueAt: string | null;
  /** When a watch item becomes action (the grace), or null. */
  escalateAt: string | null;
  rowNo: number | null;
  txnId: string | null;
  refundRef: string | null;
  paymentId: string | null;
  refundId: string | null;
  registryAmount: number | null;
  ourAmount: number | null;
  detail: Record<string, unknown>;
  suggestedAction: string;
}

export interface Match {
  rowNo: number;
  paymentId: string | null;
  refundId: string | null;
}

export interface CountAmount {
  count: number;
  amount: number;
}

export interface Totals {
  registry: {
    payments: CountAmount;
    refunds: CountAmount;
    commission: number;
    returnedCommission: number;
    net: number;
    rows: number;
  };
  ours: { credited: CountAmount; pending: CountAmount; failed: CountAmount; refundsSuccess: CountAmount };
  matched: { payments: CountAmount; refunds: CountAmount };
  byClass: Partial<Record<ItemClass, CountAmount>>;
}

export type MatchResult =
  | {
      ok: true;
      items: Item[];
      matches: Match[];
      totals: Totals;
      period: { from: string; to: string; inferred: boolean } | null;
      warnings: string[];
    }
  | { ok: false; error: string };

const PENDING_PAYMENT = ['received', 'crediting', 'pending'];
const PENDING_REFUND = ['new', 'accepted', 'in_progress', 'manual', 'in_progress_error'];
const SEVERITY_RANK: Record<Severity, number> = { action: 0, watch: 1, info: 2 };

const ca = (): CountAmount => ({ count: 0, amount: 0 });

export function sortItems<T extends Pick<Item, 'severity' | 'dueAt' | 'rowNo' | 'txnId'>>(items: T[]): T[] {
  const due = (d: string | null) => (d === null ? Infinity : Date.parse(d));
  return items.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      due(a.dueAt) - due(b.dueAt) ||
      (a.rowNo ?? Infinity) - (b.rowNo ?? Infinity) ||
      (a.txnId ?? '').localeCompare(b.txnId ?? ''),
  );
}

export function match(input: MatchInput): MatchResult {
  const s = input.settings;
  const items: Item[] = [];
  const matches: Match[] = [];
  const warnings: string[] = [];
  const receivedDay = s.receivedWall.slice(0, 8);
  const endOfReceived = endOfDay(receivedDay, s.offset);
  const nextBusiness = endOfDay(addBusinessDays(receivedDay, 1, s.holidays), s.offset);
  const seventh = (day: string | null | undefined) => endOfDay(seventhAfter(day ?? receivedDay), s.offset);

  const dataRows = input.rows.filter((r) => r.kind === 'payment' || r.kind === 'refund');
  let period: { from: string; to: string; inferred: boolean } | null = null;
  if (input.period) period = { ...input.period, inferred: false };
  else {
    const days = dataRows.map((r) => registryDay(r.dateRaw as string, s.cutoff)).sort();
    if (days.length)
      period = { from: days[0] as string, to: days[days.length - 1] as string, inferred: true };
  }
  const range = period ? periodRange(period.from, period.to, s.cutoff) : null;
  const monthDay = period?.to ?? receivedDay;

  const add = (it: Omit<Item, 'escalateAt' | 'detail' | 'refundRef'> & Partial<Item>) =>
    items.push({ escalateAt: null, detail: {}, refundRef: null, ...it });
  const fromRow = (r: RegistryRow) => ({
    rowNo: r.rowNo,
    txnId: r.txnId,
    refundRef: r.refundRef,
    registryAmount: r.amount,
  });

  // Unit sanity first: a profile reading tenge as tiyn (or back) is one error, not 1 000 items.
  let pairs = 0;
  let scaled = 0;
  for (const r of dataRows) {
    if (r.kind !== 'payment' || r.txnIdPrecision || !r.txnId) continue;
    const ours = input.paymentsByTxn.get(r.txnId);
    if (!ours || r.amount === null) continue;
    pairs++;
    if (r.amount !== 0 && (r.amount === ours.amount * 100 || r.amount * 100 === ours.amount)) scaled++;
  }
  if (pairs > 0 && scaled / pairs >= 0.9)
    return { ok: false, error: 'amounts look like tiyn/tenge: check the profile' };

  const matchedPayments = new Set<string>();
  const matchedRefunds = new Set<string>(input.elsewhere.matchedRefundIds);
  const listedHere = new Set<string>();
  const refundSums = new Map(input.elsewhere.refundSumByTxn);
  const overPaymentFlagged = new Set<string>();
  const registry = { payments: ca(), refunds: ca(), commission: 0, returnedCommission: 0, net: 0, rows: 0 };
  const matched = { payments: ca(), refunds: ca() };
  const seen = new Set<string>();

  for (const r of input.rows) {
    registry.rows++;
    if (r.kind === 'invalid') {
      add({
        class: 'ROW_INVALID',
        severity: 'action',
        dueAt: seventh(r.dateRaw ?? monthDay),
        ...fromRow(r),
        paymentId: null,
        refundId: null,
        ourAmount: null,
        detail: { problem: r.problem, cells: r.raw },
        suggestedAction: 'fix the profile, or ask Kaspi; the row’s cells are in the item',
      });
      continue;
    }
    if (r.kind === 'excluded') {
      add({
        class: 'EXCLUDED',
        severity: 'info',
        dueAt: null,
        ...fromRow(r),
        paymentId: null,
        refundId: null,
        ourAmount: null,
        suggestedAction: 'none: left out by a profile rule',
      });
      continue;
    }
    if (r.kind === 'totals') {
      if (r.amount === null) continue;
      let pay = 0;
      let ref = 0;
      for (const x of dataRows) {
        if (x.rowNo >= r.rowNo || x.amount === null) continue;
        if (x.kind === 'payment') pay += x.amount;
        else ref += x.amount;
      }
      if (r.amount !== pay && r.amount !== pay - ref)
        add({
          class: 'FILE_TOTAL_MISMATCH',
          severity: 'action',
          dueAt: seventh(monthDay),
          ...fromRow(r),
          paymentId: null,
          refundId: null,
          ourAmount: pay,
          detail: { totalsRow: r.amount, payments: pay, paymentsMinusRefunds: pay - ref },
          suggestedAction: 'ask Kaspi for a corrected registry, then import it with --replaces',
        });
      continue;
    }
    const txnId = r.txnId as string;
    const amount = r.amount as number;
    registry.commission += r.commission ?? 0;
    registry.returnedCommission += r.returnedCommission ?? 0;
    if (r.kind === 'payment') {
      registry.payments.count++;
      registry.payments.amount += amount;
    } else {
      registry.refunds.count++;
      registry.refunds.amount += amount;
    }
    if (r.txnIdPrecision) {
      const prefix = txnId.slice(0, 15);
      const candidates = input.precisionCandidates
        .filter(
          (p) =>
            p.txnId.length === txnId.length &&
            p.txnId.startsWith(prefix) &&
            p.amount === amount &&
            (p.txnDateRaw ?? '').slice(0, 8) === (r.dateRaw ?? '').slice(0, 8),
        )
        .map((p) => ({ paymentId: p.id, txnId: p.txnId, amount: p.amount, state: p.state }));
      add({
        class: 'TXN_ID_PRECISION',
        severity: 'action',
        dueAt: seventh(r.dateRaw),
        ...fromRow(r),
        paymentId: null,
        refundId: null,
        ourAmount: null,
        detail: { candidates, cells: r.raw },
        suggestedAction:
          'the txn_id was stored by Excel as a number and lost digits: confirm a candidate with --action link --payment <txn_id>',
      });
      continue;
    }
    if (r.kind === 'refund') {
      matchRefund(r, txnId, amount);
      continue;
    }
    // payment row
    listedHere.add(txnId);
    const ours = input.paymentsByTxn.get(txnId) ?? null;
    const base = {
      ...fromRow(r),
      paymentId: ours?.id ?? null,
      refundId: null,
      ourAmount: ours?.amount ?? null,
    };
    if (r.statusSuccess === false) {
      const credited = ours?.state === 'credited';
      add({
        class: 'STATUS_NOT_SUCCESS',
        severity: credited ? 'action' : 'info',
        dueAt: credited ? seventh(r.dateRaw) : null,
        ...base,
        detail: { status: r.status },
        suggestedAction: credited
          ? 'Kaspi lists it as not successful and we credited it: ask Kaspi'
          : 'none: never credited from the registry',
      });
      continue;
    }
    if (seen.has(txnId)) {
      add({
        class: 'DUPLICATE_ROW',
        severity: 'action',
        dueAt: seventh(r.dateRaw),
        ...base,
        suggestedAction: 'the txn_id is twice in the file: ask Kaspi (crediting stays exactly once)',
      });
      continue;
    }
    seen.add(txnId);
    if (input.elsewhere.paymentTxnIds.has(txnId)) {
      add({
        class: 'IN_OTHER_REGISTRY',
        severity: 'action',
        dueAt: seventh(r.dateRaw),
        ...base,
        suggestedAction:
          'also in another registry: ask Kaspi (double settlement risk); a corrected re-issue is imported with --replaces',
      });
      continue;
    }
    if (!ours) {
      add({
        class: 'MISSING_OURS',
        severity: 'action',
        dueAt: endOfReceived,
        ...base,
        suggestedAction: r.account
          ? 'credit it: --action credit'
          : 'credit it: --action credit --account <account> (the row has none)',
      });
      continue;
    }
    if (matchedPayments.has(ours.id) || input.elsewhere.matchedPaymentIds.has(ours.id)) continue;
    matchedPayments.add(ours.id);
    matches.push({ rowNo: r.rowNo, paymentId: ours.id, refundId: null });
    if (PENDING_PAYMENT.includes(ours.state)) {
      add({
        class: 'PENDING_OURS',
        severity: 'action',
        dueAt: endOfReceived,
        ...base,
        detail: { state: ours.state },
        suggestedAction:
          'the credit retry was kicked; if it stays pending follow the runbook "Stuck credits"',
      });
    } else if (ours.state !== 'credited') {
      add({
        class: 'REFUSED_OURS',
        severity: 'action',
        dueAt: endOfReceived,
        ...base,
        detail: { state: ours.state, result: ours.result },
        suggestedAction: 'Kaspi counts it as paid: --action credit --account <account>, or --action refund',
      });
    } else if (ours.amount !== amount) {
      add({
        class: 'AMOUNT_DIFFERS',
        severity: 'action',
        dueAt: seventh(ours.txnDateRaw ?? r.dateRaw),
        ...base,
        suggestedAction:
          'raise it with Kaspi (Pay@kaspi.kz) quoting the txn_id; adjust only what Kaspi confirms, then --action accept --note',
      });
    } else {
      matched.payments.count++;
      matched.payments.amount += amount;
    }
    if (
      r.account &&
      ours.account &&
      compareAccount(r.account, s.accountCompare) !== compareAccount(ours.account, s.accountCompare)
    )
      add({
        class: 'ACCOUNT_DIFFERS',
        severity: 'watch',
        dueAt: seventh(r.dateRaw),
        ...base,
        detail: { registryAccount: r.account, ourAccount: ours.account },
        suggestedAction: 'usually formatting: set accountCompare in the profile; otherwise look at it',
      });
    if (ours.txnDateRaw && r.dateRaw) {
      const n = r.dateRaw.length === 14 ? 14 : 8;
      if (ours.txnDateRaw.slice(0, n) !== r.dateRaw.slice(0, n)) {
        const otherMonth = ours.txnDateRaw.slice(0, 6) !== r.dateRaw.slice(0, 6);
        add({
          class: 'DATE_DIFFERS',
          severity: otherMonth ? 'watch' : 'info',
          dueAt: otherMonth ? seventh(ours.txnDateRaw) : null,
          ...base,
          detail: { registryDate: r.dateRaw, ourTxnDate: ours.txnDateRaw },
          suggestedAction: otherMonth
            ? 'the registry puts it in another month than our txn_date: the monthly totals differ'
            : 'none: shown for the monthly totals',
        });
      }
    }
  }

  function matchRefund(r: RegistryRow, txnId: string, amount: number): void {
    const payment = input.paymentsByTxn.get(txnId) ?? null;
    const all = (input.refundsByTxn.get(txnId) ?? []).filter((x) => !matchedRefunds.has(x.id));
    let found: OurRefund | null = null;
    if (r.refundRef)
      found =
        all.find((x) => x.refundIdentificator === r.refundRef || x.requestIdentificator === r.refundRef) ??
        null;
    const byRef = found !== null;
    if (!found) {
      const rank = (st: string) =>
        st === 'success' ? 0 : PENDING_REFUND.includes(st) || st === 'fatal' ? 1 : 2;
      found =
        all
          .filter((x) => x.amount === amount)
          .sort((a, b) => rank(a.status) - rank(b.status) || a.createdAt.localeCompare(b.createdAt))[0] ??
        null;
    }
    const base = {
      ...fromRow(r),
      paymentId: payment?.id ?? null,
      refundId: found?.id ?? null,
      ourAmount: found?.amount ?? null,
    };
    const sum = (refundSums.get(txnId) ?? 0) + amount;
    refundSums.set(txnId, sum);
    if (payment && sum > payment.amount && !overPaymentFlagged.has(txnId)) {
      overPaymentFlagged.add(txnId);
      add({
        class: 'REFUND_OVER_PAYMENT',
        severity: 'action',
        dueAt: seventh(r.dateRaw),
        ...base,
        detail: { refundsInRegistries: sum, payment: payment.amount },
        suggestedAction: 'the refunds of this txn_id add up to more than the payment: ask Kaspi',
      });
    }
    if (!found) {
      if (!payment)
        add({
          class: 'REFUND_WITHOUT_PAYMENT',
          severity: 'action',
          dueAt: nextBusiness,
          ...base,
          suggestedAction:
            'a refund of a payment that is not ours: exclude it with a profile rule, or handle it by hand',
        });
      else
        add({
          class: 'REFUND_MISSING_OURS',
          severity: 'action',
          dueAt: nextBusiness,
          ...base,
          suggestedAction: 'a refund made outside the gateway: --action record-refund tells the billing once',
        });
      return;
    }
    matchedRefunds.add(found.id);
    matches.push({ rowNo: r.rowNo, paymentId: null, refundId: found.id });
    if (found.status === 'success') {
      if (byRef && found.amount !== amount)
        add({
          class: 'REFUND_AMOUNT_DIFFERS',
          severity: 'action',
          dueAt: seventh(r.dateRaw),
          ...base,
          suggestedAction: 'ask Kaspi; --action accept --note once settled',
        });
      else {
        matched.refunds.count++;
        matched.refunds.amount += amount;
      }
    } else if (PENDING_REFUND.includes(found.status)) {
      add({
        class: 'REFUND_PENDING_OURS',
        severity: 'watch',
        dueAt: nextBusiness,
        ...base,
        detail: { refundStatus: found.status },
        suggestedAction: 'the refund poll was kicked; the item closes when the refund is success',
      });
    } else {
      add({
        class: 'REFUND_STATUS_DIFFERS',
        severity: 'action',
        dueAt: nextBusiness,
        ...base,
        detail: { refundStatus: found.status },
        suggestedAction:
          found.status === 'fatal'
            ? 'ask Kaspi; if it was paid: npm run cli -- refunds resume'
            : 'ask Kaspi; if it was paid: --action record-refund',
      });
    }
  }

  const ours = { credited: ca(), pending: ca(), failed: ca(), refundsSuccess: ca() };
  if (range) {
    const inRange = (w: string | null) => !!w && w.length === 14 && w >= range.start && w < range.end;
    for (const p of input.periodPayments) {
      if (!inRange(p.txnDateRaw)) continue;
      const bucket =
        p.state === 'credited'
          ? ours.credited
          : PENDING_PAYMENT.includes(p.state)
            ? ours.pending
            : ours.failed;
      bucket.count++;
      bucket.amount += p.amount;
      const listed =
        matchedPayments.has(p.id) ||
        listedHere.has(p.txnId) ||
        input.elsewhere.matchedPaymentIds.has(p.id) ||
        input.elsewhere.paymentTxnIds.has(p.txnId);
      if (listed || (p.state !== 'credited' && !PENDING_PAYMENT.includes(p.state))) continue;
      const day = registryDay(p.txnDateRaw as string, s.cutoff);
      const credited = p.state === 'credited';
      add({
        class: credited ? 'MISSING_KASPI' : 'PENDING_NOT_LISTED',
        severity: 'watch',
        dueAt: credited ? seventh(day) : null,
        escalateAt: credited
          ? endOfDay(addBusinessDays(day, s.graceBusinessDays, s.holidays), s.offset)
          : null,
        rowNo: null,
        txnId: p.txnId,
        paymentId: p.id,
        refundId: null,
        registryAmount: null,
        ourAmount: p.amount,
        detail: { state: p.state, txnDate: p.txnDateRaw },
        suggestedAction: credited
          ? `re-checked until the grace ends, then action: ask Kaspi whether the payment exists`
          : 'not final and in no registry: Kaspi may have cancelled a payment we keep retrying',
      });
    }
    for (const f of input.periodRefunds) {
      if (f.status !== 'success' || !inRange(f.finishedWall)) continue;
      ours.refundsSuccess.count++;
      ours.refundsSuccess.amount += f.amount;
      if (matchedRefunds.has(f.id)) continue;
      const day = (f.finishedWall as string).slice(0, 8);
      add({
        class: 'REFUND_MISSING_KASPI',
        severity: 'watch',
        dueAt: seventh(day),
        escalateAt: endOfDay(addBusinessDays(day, s.graceBusinessDays, s.holidays), s.offset),
        rowNo: null,
        txnId: f.txnId,
        paymentId: f.paymentId,
        refundId: f.id,
        registryAmount: null,
        ourAmount: f.amount,
        suggestedAction: 'our refund is in no registry: ask Kaspi',
      });
    }
  }
  if (dataRows.length === 0) warnings.push('registry with no rows');

  const byClass: Partial<Record<ItemClass, CountAmount>> = {};
  const bump = (c: ItemClass, amount: number) => {
    const b = (byClass[c] ??= ca());
    b.count++;
    b.amount += amount;
  };
  if (matched.payments.count) byClass.MATCHED = { ...matched.payments };
  if (matched.refunds.count) byClass.REFUND_MATCHED = { ...matched.refunds };
  for (const it of items) bump(it.class, it.registryAmount ?? it.ourAmount ?? 0);
  registry.net =
    registry.payments.amount - registry.refunds.amount - registry.commission + registry.returnedCommission;
  return {
    ok: true,
    items: sortItems(items),
    matches,
    totals: { registry, ours, matched, byClass },
    period,
    warnings,
  };
}
