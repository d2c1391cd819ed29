import type { Knex } from 'knex';
import { dbTime, fromDbTime, type Db } from '../db/db.js';
import { toTiyn } from '../shared/money.js';
import type { Item, Match, OurPayment, OurRefund, Elsewhere } from './reconcile-matcher.js';
import type { RegistryRow } from './registry-profile.js';
import type { OurSide } from './reconcile-report.js';

/**
 * The registries' tables (db/migrations/20261202130000_reconcile.ts): files byte for byte, their
 * rows, runs, items and the one-to-one matches. Nothing here is ever deleted but the matches of a
 * superseded run (the pairing moves to the run that replaced it). Reads of payments and refunds are
 * read-only lookups in batches of 1 000 txn_ids.
 */

export type RunStatus = 'running' | 'clean' | 'discrepancies' | 'resolved' | 'failed';
export type ItemState = 'open' | 'resolved' | 'ignored' | 'auto_closed' | 'superseded';

export interface RegistryFile {
  id: string;
  sha256: string;
  fileName: string | null;
  bytes: number;
  format: string;
  encoding: string | null;
  sheet: string | null;
  supersededByFileId: string | null;
  createdAt: string;
}

export interface Run {
  id: string;
  fileId: string;
  kind: string;
  profile: string;
  periodFrom: string | null;
  periodTo: string | null;
  periodInferred: boolean;
  cutoff: string;
  receivedAt: string;
  startedAt: string;
  finishedAt: string | null;
  status: RunStatus;
  origin: string;
  operator: string | null;
  rerunOf: string | null;
  replaces: string | null;
  totals: Record<string, unknown> | null;
  error: Record<string, unknown> | null;
}

export interface StoredItem {
  id: string;
  runId: string;
  class: Item['class'];
  severity: Item['severity'];
  state: ItemState;
  dueAt: string | null;
  escalateAt: string | null;
  overdueLoggedAt: string | null;
  rowId: string | null;
  rowNo: number | null;
  paymentId: string | null;
  refundId: string | null;
  txnId: string | null;
  refundRef: string | null;
  registryAmount: number | null;
  ourAmount: number | null;
  detail: Record<string, unknown>;
  action: string | null;
  note: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

type Row = Record<string, unknown>;
const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
const n = (v: unknown) => (v === null || v === undefined ? null : toTiyn(v));
const json = (v: unknown) =>
  v === null || v === undefined ? null : (JSON.parse(String(v)) as Record<string, unknown>);
const iso = (v: unknown) => fromDbTime(v as string | null)?.toISOString() ?? null;

function toRun(r: Row): Run {
  return {
    id: String(r.id),
    fileId: String(r.file_id),
    kind: String(r.kind),
    profile: String(r.profile),
    periodFrom: s(r.period_from),
    periodTo: s(r.period_to),
    periodInferred: Boolean(r.period_inferred),
    cutoff: String(r.cutoff),
    receivedAt: iso(r.received_at) as string,
    startedAt: iso(r.started_at) as string,
    finishedAt: iso(r.finished_at),
    status: r.status as RunStatus,
    origin: String(r.origin),
    operator: s(r.operator),
    rerunOf: s(r.rerun_of),
    replaces: s(r.replaces),
    totals: json(r.totals),
    error: json(r.error),
  };
}

function toItem(r: Row): StoredItem {
  return {
    id: String(r.id),
    runId: String(r.run_id),
    class: r.class as Item['class'],
    severity: r.severity as Item['severity'],
    state: r.state as ItemState,
    dueAt: iso(r.due_at),
    escalateAt: iso(r.escalate_at),
    overdueLoggedAt: iso(r.overdue_logged_at),
    rowId: s(r.row_id),
    rowNo: r.row_no == null ? null : Number(r.row_no),
    paymentId: s(r.payment_id),
    refundId: s(r.refund_id),
    txnId: s(r.txn_id),
    refundRef: s(r.refund_ref),
    registryAmount: n(r.registry_amount),
    ourAmount: n(r.our_amount),
    detail: json(r.detail) ?? {},
    action: s(r.action),
    note: s(r.note),
    resolvedBy: s(r.resolved_by),
    resolvedAt: iso(r.resolved_at),
    createdAt: iso(r.created_at) as string,
    updatedAt: iso(r.updated_at) as string,
  };
}

function toFile(r: Row): RegistryFile {
  return {
    id: String(r.id),
    sha256: String(r.sha256),
    fileName: s(r.file_name),
    bytes: Number(r.bytes),
    format: String(r.format),
    encoding: s(r.encoding),
    sheet: s(r.sheet),
    supersededByFileId: s(r.superseded_by_file_id),
    createdAt: iso(r.created_at) as string,
  };
}

export function toRegistryRow(r: Row): RegistryRow & { id: string } {
  return {
    id: String(r.id),
    rowNo: Number(r.row_no),
    kind: r.kind as RegistryRow['kind'],
    txnId: s(r.txn_id),
    txnIdPrecision: Boolean(r.txn_id_precision),
    refundRef: s(r.refund_ref),
    amount: n(r.amount),
    commission: n(r.commission),
    returnedCommission: n(r.returned_commission),
    dateRaw: s(r.date_raw),
    account: s(r.account),
    prvTxn: s(r.prv_txn),
    status: s(r.status_raw),
    statusSuccess: r.status_success == null ? null : Boolean(r.status_success),
    channel: s(r.channel),
    raw: (json(r.raw) ?? {}) as Record<string, string>,
    problem: s(r.problem),
  };
}

const BATCH = 500;
const LOOKUP = 1000;

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

export interface NewFile {
  sha256: string;
  fileName: string | null;
  content: Buffer;
  format: string;
  encoding: string | null;
  sheet: string | null;
}

export interface NewRun {
  fileId: string;
  kind: string;
  profile: string;
  cutoff: string;
  receivedAt: Date;
  origin: string;
  operator: string | null;
  rerunOf?: string | null;
  replaces?: string | null;
}

export class ReconcileStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Knex.Transaction) {
    return trx ?? this.db.knex;
  }

  async findFileBySha(sha256: string): Promise<RegistryFile | null> {
    const r = await this.db.knex('registry_files').where({ sha256 }).first();
    return r ? toFile(r) : null;
  }

  async getFile(id: string): Promise<RegistryFile | null> {
    const r = await this.db.knex('registry_files').where({ id }).first();
    return r ? toFile(r) : null;
  }

  async fileContent(id: string): Promise<Buffer | null> {
    const r = (await this.db.knex('registry_files').where({ id }).first('content')) as
      { content?: Buffer } | undefined;
    return r?.content ? Buffer.from(r.content) : null;
  }

  /** Throws a unique violation when the same sha256 is already stored: the caller takes the winner. */
  async insertFile(f: NewFile): Promise<string> {
    const [id] = await this.db.knex('registry_files').insert({
      sha256: f.sha256,
      file_name: f.fileName?.slice(0, 255) ?? null,
      bytes: f.content.length,
      format: f.format,
      encoding: f.encoding,
      sheet: f.sheet?.slice(0, 255) ?? null,
      content: f.content,
      created_at: dbTime(),
    });
    return String(id);
  }

  async insertRun(r: NewRun): Promise<string> {
    const now = dbTime();
    const [id] = await this.db.knex('reconciliation_runs').insert({
      file_id: r.fileId,
      kind: r.kind,
      profile: r.profile,
      cutoff: r.cutoff,
      received_at: dbTime(r.receivedAt),
      started_at: now,
      status: 'running',
      origin: r.origin,
      operator: r.operator?.slice(0, 200) ?? null,
      rerun_of: r.rerunOf ?? null,
      replaces: r.replaces ?? null,
    });
    return String(id);
  }

  async failRun(id: string, error: Record<string, unknown>): Promise<void> {
    await this.db
      .knex('reconciliation_runs')
      .where({ id })
      .update({ status: 'failed', error: JSON.stringify(error), finished_at: dbTime() });
  }

  async finishRun(
    trx: Knex.Transaction,
    id: string,
    p: { status: RunStatus; totals: unknown; period: { from: string; to: string; inferred: boolean } | null },
  ): Promise<void> {
    await trx('reconciliation_runs')
      .where({ id })
      .update({
        status: p.status,
        totals: JSON.stringify(p.totals),
        period_from: p.period?.from ?? null,
        period_to: p.period?.to ?? null,
        period_inferred: p.period?.inferred ?? false,
        finished_at: dbTime(),
      });
  }

  async setRunStatus(id: string, status: RunStatus, trx?: Knex.Transaction): Promise<void> {
    await this.q(trx)('reconciliation_runs').where({ id }).update({ status });
  }

  async getRun(id: string, trx?: Knex.Transaction): Promise<Run | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    const r = await this.q(trx)('reconciliation_runs').where({ id }).first();
    return r ? toRun(r) : null;
  }

  async lastRunOfFile(fileId: string): Promise<Run | null> {
    const r = await this.db
      .knex('reconciliation_runs')
      .where({ file_id: fileId })
      .orderBy('id', 'desc')
      .first();
    return r ? toRun(r) : null;
  }

  async listRuns(
    f: { from?: string; to?: string; status?: string; limit?: number; offset?: number } = {},
  ): Promise<Run[]> {
    let q = this.db.knex('reconciliation_runs').orderBy('id', 'desc');
    if (f.from) q = q.where('period_to', '>=', f.from);
    if (f.to) q = q.where('period_from', '<=', f.to);
    if (f.status) q = q.where('status', f.status);
    const rows = await q.limit(Math.min(f.limit ?? 50, 500)).offset(f.offset ?? 0);
    return rows.map(toRun);
  }

  async stuckRuns(olderThan: Date): Promise<Run[]> {
    const rows = await this.db
      .knex('reconciliation_runs')
      .where('status', 'running')
      .where('started_at', '<', dbTime(olderThan));
    return rows.map(toRun);
  }

  /** Rows in one transaction, batches of 500; the row ids by row number. */
  async insertRows(
    trx: Knex.Transaction,
    fileId: string,
    rows: readonly RegistryRow[],
  ): Promise<Map<number, string>> {
    for (const batch of chunks(rows, BATCH)) {
      await trx('registry_rows').insert(
        batch.map((r) => ({
          file_id: fileId,
          row_no: r.rowNo,
          kind: r.kind,
          txn_id: r.txnId,
          txn_id_precision: r.txnIdPrecision,
          refund_ref: r.refundRef,
          amount: r.amount,
          commission: r.commission,
          returned_commission: r.returnedCommission,
          date_raw: r.dateRaw,
          account: r.account,
          prv_txn: r.prvTxn,
          status_raw: r.status,
          status_success: r.statusSuccess,
          channel: r.channel,
          raw: JSON.stringify(r.raw),
          problem: r.problem?.slice(0, 500) ?? null,
        })),
      );
    }
    return this.rowIds(fileId, trx);
  }

  async rowIds(fileId: string, trx?: Knex.Transaction): Promise<Map<number, string>> {
    const ids = (await this.q(trx)('registry_rows')
      .where({ file_id: fileId })
      .select('id', 'row_no')) as Row[];
    return new Map(ids.map((r) => [Number(r.row_no), String(r.id)]));
  }

  async rowsOfFile(fileId: string): Promise<Array<RegistryRow & { id: string }>> {
    const rows = (await this.db.knex('registry_rows').where({ file_id: fileId }).orderBy('row_no')) as Row[];
    return rows.map(toRegistryRow);
  }

  async hasRows(fileId: string): Promise<boolean> {
    return !!(await this.db.knex('registry_rows').where({ file_id: fileId }).first('id'));
  }

  async insertItems(
    trx: Knex.Transaction,
    runId: string,
    items: ReadonlyArray<Item & { state?: ItemState; evidence?: unknown; carried?: Partial<StoredItem> }>,
    rowIds: ReadonlyMap<number, string>,
  ): Promise<void> {
    const now = dbTime();
    const toDb = (isoText: string | null) => (isoText ? dbTime(new Date(isoText)) : null);
    for (const batch of chunks(items, BATCH)) {
      await trx('reconciliation_items').insert(
        batch.map((i) => ({
          run_id: runId,
          class: i.class,
          severity: i.severity,
          state: i.state ?? 'open',
          due_at: toDb(i.dueAt),
          escalate_at: toDb(i.escalateAt),
          row_id: i.rowNo === null ? null : (rowIds.get(i.rowNo) ?? null),
          row_no: i.rowNo,
          payment_id: i.paymentId,
          refund_id: i.refundId,
          txn_id: i.txnId,
          refund_ref: i.refundRef,
          registry_amount: i.registryAmount,
          our_amount: i.ourAmount,
          detail: JSON.stringify({
            ...i.detail,
            suggestedAction: i.suggestedAction,
            evidence: i.evidence ?? null,
          }),
          action: i.carried?.action ?? null,
          note: i.carried?.note ?? null,
          resolved_by: i.carried?.resolvedBy ?? null,
          resolved_at: i.carried?.resolvedAt ? dbTime(new Date(i.carried.resolvedAt)) : null,
          created_at: now,
          updated_at: now,
        })),
      );
    }
  }

  async insertMatches(
    trx: Knex.Transaction,
    runId: string,
    matches: readonly Match[],
    rowIds: ReadonlyMap<number, string>,
  ): Promise<void> {
    for (const batch of chunks(matches, BATCH))
      await trx('reconciliation_matches').insert(
        batch.map((m) => ({
          run_id: runId,
          row_id: rowIds.get(m.rowNo) as string,
          payment_id: m.paymentId,
          refund_id: m.refundId,
        })),
      );
  }

  /** A run replaced by a rerun or a corrected file: its open items superseded, its pairings released. */
  async supersedeRun(trx: Knex.Transaction, runId: string): Promise<void> {
    await trx('reconciliation_items')
      .where({ run_id: runId, state: 'open' })
      .update({ state: 'superseded', updated_at: dbTime() });
    await trx('reconciliation_matches').where({ run_id: runId }).delete();
  }

  async supersedeFile(trx: Knex.Transaction, oldFileId: string, newFileId: string): Promise<void> {
    await trx('registry_files').where({ id: oldFileId }).update({ superseded_by_file_id: newFileId });
  }

  async setFileSheet(fileId: string, sheet: string | null, encoding: string | null): Promise<void> {
    await this.db.knex('registry_files').where({ id: fileId }).update({ sheet, encoding });
  }

  async items(
    f: { runId?: string; state?: string; severity?: string; class?: string; limit?: number } = {},
  ): Promise<StoredItem[]> {
    let q = this.db.knex('reconciliation_items');
    if (f.runId) q = q.where('run_id', f.runId);
    if (f.state) q = q.where('state', f.state);
    if (f.severity) q = q.where('severity', f.severity);
    if (f.class) q = q.where('class', f.class);
    const rows = (await q.orderBy('id').limit(Math.min(f.limit ?? 100_000, 200_000))) as Row[];
    return rows.map(toItem);
  }

  async getItem(id: string, trx?: Knex.Transaction): Promise<StoredItem | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    let q = this.q(trx)('reconciliation_items').where({ id });
    if (trx && this.db.dialect === 'mysql') q = q.forUpdate();
    const r = await q.first();
    return r ? toItem(r) : null;
  }

  /** Moves an item out of `open` (the row count says who won). */
  async closeItem(
    trx: Knex.Transaction,
    id: string,
    p: {
      state: ItemState;
      action: string | null;
      note: string | null;
      by: string | null;
      detail?: Record<string, unknown>;
    },
  ): Promise<boolean> {
    const now = dbTime();
    const n = await trx('reconciliation_items')
      .where({ id, state: 'open' })
      .update({
        state: p.state,
        action: p.action,
        note: p.note?.slice(0, 1000) ?? null,
        resolved_by: p.by?.slice(0, 200) ?? null,
        resolved_at: now,
        updated_at: now,
        ...(p.detail ? { detail: JSON.stringify(p.detail) } : {}),
      });
    return n === 1;
  }

  async updateItem(
    id: string,
    patch: { severity?: string; detail?: Record<string, unknown>; overdueLoggedAt?: Date },
  ): Promise<void> {
    const u: Record<string, unknown> = { updated_at: dbTime() };
    if (patch.severity) u.severity = patch.severity;
    if (patch.detail) u.detail = JSON.stringify(patch.detail);
    if (patch.overdueLoggedAt) u.overdue_logged_at = dbTime(patch.overdueLoggedAt);
    await this.db.knex('reconciliation_items').where({ id }).update(u);
  }

  async openCount(runId: string, trx?: Knex.Transaction): Promise<number> {
    const r = (await this.q(trx)('reconciliation_items')
      .where({ run_id: runId, state: 'open' })
      .whereIn('severity', ['action', 'watch'])
      .count({ c: '*' })
      .first()) as { c: number | string };
    return Number(r.c);
  }

  // ---------------------------------------------------------------- what we hold

  async paymentsByTxn(
    sources: readonly string[],
    txnIds: readonly string[],
  ): Promise<Map<string, OurPayment>> {
    const out = new Map<string, OurPayment>();
    for (const batch of chunks([...new Set(txnIds)], LOOKUP)) {
      const rows = (await this.db
        .knex('payments')
        .whereIn('source', sources)
        .whereIn('txn_id', batch)) as Row[];
      for (const r of rows) out.set(String(r.txn_id), toOurPayment(r));
    }
    return out;
  }

  async paymentsInRange(sources: readonly string[], start: string, end: string): Promise<OurPayment[]> {
    const rows = (await this.db
      .knex('payments')
      .whereIn('source', sources)
      .where('txn_date_raw', '>=', start)
      .where('txn_date_raw', '<', end)) as Row[];
    return rows.map(toOurPayment);
  }

  async precisionCandidates(sources: readonly string[], prefixes: readonly string[]): Promise<OurPayment[]> {
    const out: OurPayment[] = [];
    for (const p of new Set(prefixes)) {
      const rows = (await this.db
        .knex('payments')
        .whereIn('source', sources)
        .where('txn_id', 'like', `${p}%`)
        .limit(50)) as Row[];
      out.push(...rows.map(toOurPayment));
    }
    return out;
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

  /** What the other imported, not superseded registry files hold (this file left out). */
  async elsewhere(fileId: string | null, txnIds: readonly string[]): Promise<Elsewhere> {
    const paymentTxnIds = new Set<string>();
    const refundSumByTxn = new Map<string, number>();
    const matchedPaymentIds = new Set<string>();
    const matchedRefundIds = new Set<string>();
    for (const batch of chunks([...new Set(txnIds)], LOOKUP)) {
      let q = this.db
        .knex('registry_rows as r')
        .join('registry_files as f', 'f.id', 'r.file_id')
        .whereNull('f.superseded_by_file_id')
        .whereIn('r.txn_id', batch)
        .whereIn('r.kind', ['payment', 'refund'])
        .where('r.txn_id_precision', false)
        .select('r.txn_id', 'r.kind', 'r.amount');
      if (fileId) q = q.whereNot('r.file_id', fileId);
      for (const r of (await q) as Row[]) {
        const t = String(r.txn_id);
        if (r.kind === 'payment') paymentTxnIds.add(t);
        else refundSumByTxn.set(t, (refundSumByTxn.get(t) ?? 0) + toTiyn(r.amount));
      }
    }
    // Pairings already made by other files' runs (a refund of ours matches one row in all registries).
    let m = this.db
      .knex('reconciliation_matches as m')
      .join('registry_rows as r', 'r.id', 'm.row_id')
      .join('registry_files as f', 'f.id', 'r.file_id')
      .whereNull('f.superseded_by_file_id')
      .select('m.payment_id', 'm.refund_id');
    if (fileId) m = m.whereNot('r.file_id', fileId);
    for (const r of (await m) as Row[]) {
      if (r.payment_id != null) matchedPaymentIds.add(String(r.payment_id));
      if (r.refund_id != null) matchedRefundIds.add(String(r.refund_id));
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

  async counts(): Promise<{
    open: Array<{ severity: string; class: string; n: number }>;
    overdue: number;
    lastImport: Date | null;
  }> {
    const open = (await this.db
      .knex('reconciliation_items')
      .where('state', 'open')
      .groupBy('severity', 'class')
      .select('severity', 'class')
      .count({ n: '*' })) as Row[];
    const overdue = (await this.db
      .knex('reconciliation_items')
      .where('state', 'open')
      .where('severity', 'action')
      .where('due_at', '<', dbTime())
      .count({ n: '*' })
      .first()) as Row;
    const last = (await this.db
      .knex('reconciliation_runs')
      .whereNot('status', 'failed')
      .max({ t: 'started_at' })
      .first()) as Row;
    return {
      open: open.map((r) => ({ severity: String(r.severity), class: String(r.class), n: Number(r.n) })),
      overdue: Number(overdue.n),
      lastImport: fromDbTime(last?.t as string | null),
    };
  }
}

function toOurPayment(r: Row): OurPayment {
  return {
    id: String(r.id),
    txnId: String(r.txn_id),
    account: String(r.account),
    amount: toTiyn(r.amount),
    state: String(r.state),
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
