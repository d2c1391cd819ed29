import { dbTime, fromDbTime, type Db } from '../db/db.js';
import { toTiyn } from '../shared/money.js';
import type { Elsewhere, OurPayment, OurRefund } from './reconcile-matcher.js';
import { chunks, s, type Row } from './reconcile-records.js';
import type { OurSide } from './reconcile-report.js';

/**
 * What we hold, as the matcher needs it: our payments and refunds, and what the other imported
 * registries list. Read-only. Lookups go in batches of 1 000 txn_ids; the period's payments (up to a
 * registry's 200 000) in keyset pages of 5 000, only the columns the matcher reads, the state as
 * one shared string: one compact object per payment, never a full row of every payment at once.
 */

const LOOKUP = 1000;
const PAGE = 5000;
const PAYMENT_COLUMNS = ['id', 'txn_id', 'account', 'amount', 'state', 'result', 'txn_date_raw'];

/** A handful of states, 200 000 payments: one string each, not one per row. */
const STATES = new Map<string, string>();
const state = (v: unknown): string => {
  const t = String(v);
  let known = STATES.get(t);
  if (known === undefined) STATES.set(t, (known = t));
  return known;
};

function toOurPayment(r: Row): OurPayment {
  return {
    id: String(r.id),
    txnId: String(r.txn_id),
    account: String(r.account),
    amount: toTiyn(r.amount),
    state: state(r.state),
    result: r.result == null ? null : Number(r.result),
    txnDateRaw: s(r.txn_date_raw),
  };
}

function toOurRefund(r: Row, offset: string): OurRefund {
  const finished = fromDbTime(r.finished_at as string | null);
  let finishedWall: string | null = null;
  if (finished) {
    const sign = offset.startsWith('-') ? -1 : 1;
    const [h, m] = offset.slice(1).split(':').map(Number) as [number, number];
    const t = new Date(finished.getTime() + sign * (h * 60 + m) * 60_000);
    finishedWall = t.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  }
  return {
    id: String(r.id),
    txnId: String(r.txn_id),
    paymentId: String(r.payment_id),
    refundIdentificator: String(r.refund_identificator),
    requestIdentificator: s(r.request_identificator),
    amount: toTiyn(r.amount),
    status: String(r.status),
    createdAt: String(r.created_at),
    finishedWall,
  };
}

export class HeldRecords {
  constructor(private readonly db: Db) {}

  /** Our payments of these txn_ids, added to `into` (by txn_id) when given. */
  async paymentsByTxn(
    sources: readonly string[],
    txnIds: Iterable<string>,
    into = new Map<string, OurPayment>(),
  ): Promise<Map<string, OurPayment>> {
    for (const batch of chunks([...new Set(txnIds)], LOOKUP)) {
      const rows = (await this.db
        .knex('payments')
        .whereIn('source', sources)
        .whereIn('txn_id', batch)
        .select(PAYMENT_COLUMNS)) as Row[];
      for (const r of rows) into.set(String(r.txn_id), toOurPayment(r));
    }
    return into;
  }

  /**
   * Our payments whose txn_date_raw is in [start, end), one source at a time, in keyset pages by
   * (txn_date_raw, id): the index payments_source_txn_date_idx serves the range and the order.
   */
  async *paymentsInRange(
    sources: readonly string[],
    start: string,
    end: string,
  ): AsyncGenerator<OurPayment[]> {
    for (const source of sources) {
      let after: { date: string; id: string } | null = null;
      for (;;) {
        let q = this.db
          .knex('payments')
          .where('source', source)
          .where('txn_date_raw', '<', end)
          .orderBy([
            { column: 'txn_date_raw', order: 'asc' },
            { column: 'id', order: 'asc' },
          ])
          .limit(PAGE)
          .select(PAYMENT_COLUMNS);
        const from = after;
        q = from
          ? q
              .where('txn_date_raw', '>=', from.date)
              .where((w) => w.where('txn_date_raw', '>', from.date).orWhere('id', '>', from.id))
          : q.where('txn_date_raw', '>=', start);
        const rows = (await q) as Row[];
        if (rows.length === 0) break;
        yield rows.map(toOurPayment);
        const last = rows[rows.length - 1] as Row;
        after = { date: String(last.txn_date_raw), id: String(last.id) };
        if (rows.length < PAGE) break;
      }
    }
  }

  /**
   * Candidates for precision-damaged txn_ids: our payments whose txn_id starts with the digits left
   * (a range on the txn_id index: `p <= txn_id < p + ':'`, as ':' follows '9'), of the same length
   * and amount; at most 50 for each.
   */
  async precisionCandidates(
    sources: readonly string[],
    wanted: ReadonlyArray<{ prefix: string; length: number; amount: number }>,
  ): Promise<OurPayment[]> {
    const out = new Map<string, OurPayment>();
    const seen = new Set<string>();
    for (const w of wanted) {
      const key = `${w.prefix}|${w.length}|${w.amount}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const rows = (await this.db
        .knex('payments')
        .whereIn('source', sources)
        .where('txn_id', '>=', w.prefix)
        .where('txn_id', '<', `${w.prefix}:`)
        .whereRaw('length(txn_id) = ?', [w.length])
        .where('amount', w.amount)
        .limit(50)
        .select(PAYMENT_COLUMNS)) as Row[];
      for (const r of rows) out.set(String(r.id), toOurPayment(r));
    }
    return [...out.values()];
  }

  async refundsByTxn(txnIds: readonly string[], offset: string): Promise<Map<string, OurRefund[]>> {
    const out = new Map<string, OurRefund[]>();
    for (const batch of chunks([...new Set(txnIds)], LOOKUP)) {
      const rows = (await this.db.knex('refunds').whereIn('txn_id', batch).orderBy('id')) as Row[];
      for (const r of rows) {
        const f = toOurRefund(r, offset);
        out.set(f.txnId, [...(out.get(f.txnId) ?? []), f]);
      }
    }
    return out;
  }

  async successRefundsFinished(startUtc: Date, endUtc: Date, offset: string): Promise<OurRefund[]> {
    const rows = (await this.db
      .knex('refunds')
      .where('status', 'success')
      .where('finished_at', '>=', dbTime(startUtc))
      .where('finished_at', '<', dbTime(endUtc))) as Row[];
    return rows.map((r) => toOurRefund(r, offset));
  }

  async paymentsById(ids: readonly string[]): Promise<Map<string, OurSide>> {
    const out = new Map<string, OurSide>();
    for (const batch of chunks([...new Set(ids)], LOOKUP)) {
      const rows = (await this.db.knex('payments').whereIn('id', batch)) as Row[];
      for (const r of rows)
        out.set(String(r.id), {
          prvTxn: String(r.id),
          state: String(r.state),
          result: r.result == null ? null : Number(r.result),
          amount: toTiyn(r.amount),
          txnDate: s(r.txn_date_raw),
          account: String(r.account),
        });
    }
    return out;
  }

  async refundStatuses(ids: readonly string[]): Promise<Map<string, { status: string }>> {
    const out = new Map<string, { status: string }>();
    for (const batch of chunks([...new Set(ids)], LOOKUP)) {
      const rows = (await this.db.knex('refunds').whereIn('id', batch).select('id', 'status')) as Row[];
      for (const r of rows) out.set(String(r.id), { status: String(r.status) });
    }
    return out;
  }

  /**
   * What the other imported, not superseded registry files hold of these txn_ids (this file left
   * out): their payment rows, their refund sums, and the pairings their runs made. A pairing is
   * always of a row with the same txn_id, so one read by txn_id finds the rows and their pairings
   * (registry_rows_txn_idx), rather than every pairing ever made.
   */
  async elsewhere(fileId: string | null, txnIds: Iterable<string>): Promise<Elsewhere> {
    const paymentTxnIds = new Set<string>();
    const refundSumByTxn = new Map<string, number>();
    const matchedPaymentIds = new Set<string>();
    const matchedRefundIds = new Set<string>();
    // Replaced files are few: left out here rather than by a join that could lead the plan away
    // from registry_rows_txn_idx (this file's own 200 000 rows are found by txn_id too).
    const replaced = new Set(
      (
        (await this.db.knex('registry_files').whereNotNull('superseded_by_file_id').pluck('id')) as unknown[]
      ).map(String),
    );
    for (const batch of chunks([...new Set(txnIds)], LOOKUP)) {
      let q = this.db
        .knex('registry_rows as r')
        .leftJoin('reconciliation_matches as m', 'm.row_id', 'r.id')
        .whereIn('r.txn_id', batch)
        .whereIn('r.kind', ['payment', 'refund'])
        .where('r.txn_id_precision', false)
        .select('r.file_id', 'r.txn_id', 'r.kind', 'r.amount', 'm.payment_id', 'm.refund_id');
      if (fileId) q = q.whereNot('r.file_id', fileId);
      for (const r of (await q) as Row[]) {
        if (replaced.has(String(r.file_id))) continue;
        const t = String(r.txn_id);
        if (r.kind === 'payment') paymentTxnIds.add(t);
        else refundSumByTxn.set(t, (refundSumByTxn.get(t) ?? 0) + toTiyn(r.amount));
        if (r.payment_id != null) matchedPaymentIds.add(String(r.payment_id));
        if (r.refund_id != null) matchedRefundIds.add(String(r.refund_id));
      }
    }
    return { paymentTxnIds, refundSumByTxn, matchedPaymentIds, matchedRefundIds };
  }

  /** A payment txn_id listed by some not superseded registry other than `fileId`'s. */
  async listedElsewhere(txnId: string, fileId: string): Promise<boolean> {
    const r = await this.db
      .knex('registry_rows as r')
      .join('registry_files as f', 'f.id', 'r.file_id')
      .whereNull('f.superseded_by_file_id')
      .where('r.txn_id', txnId)
      .where('r.kind', 'payment')
      .whereNot('r.file_id', fileId)
      .first('r.id');
    return !!r;
  }
}
