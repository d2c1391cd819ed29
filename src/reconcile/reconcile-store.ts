import type { Knex } from 'knex';
import { insertMany } from '../db/bulk-insert.js';
import { dbTime, type Db } from '../db/db.js';
import type { Item, Match } from './reconcile-matcher.js';
import {
  chunks,
  toFile,
  toItem,
  toRegistryRow,
  toRun,
  type ItemState,
  type RegistryFile,
  type Row,
  type Run,
  type RunStatus,
  type StoredItem,
} from './reconcile-records.js';
import type { RegistryRow } from './registry-profile.js';

export type { ItemState, RegistryFile, Run, RunStatus, StoredItem } from './reconcile-records.js';
export { toRegistryRow } from './reconcile-records.js';

/**
 * The registries' tables (db/migrations/20261202130000_reconcile.ts): files byte for byte, their
 * rows, runs, items and the one-to-one matches. Nothing here is ever deleted but the matches of a
 * superseded run (the pairing moves to the run that replaced it). What we hold (payments, refunds,
 * other registries) is read by ./reconcile-held.ts.
 */

const BATCH = 500;

const ROW_COLUMNS = [
  'file_id',
  'row_no',
  'kind',
  'txn_id',
  'txn_id_precision',
  'refund_ref',
  'amount',
  'commission',
  'returned_commission',
  'date_raw',
  'account',
  'prv_txn',
  'status_raw',
  'status_success',
  'channel',
  'raw',
  'problem',
];

function* rowValues(fileId: string, rows: readonly RegistryRow[]): Generator<unknown[]> {
  for (const r of rows)
    yield [
      fileId,
      r.rowNo,
      r.kind,
      r.txnId,
      r.txnIdPrecision,
      r.refundRef,
      r.amount,
      r.commission,
      r.returnedCommission,
      r.dateRaw,
      r.account,
      r.prvTxn,
      r.status,
      r.statusSuccess,
      r.channel,
      JSON.stringify(r.raw),
      r.problem?.slice(0, 500) ?? null,
    ];
}

/** One statement's share of a registry file on MySQL (sent as hex: 2 MiB of statement). */
const FILE_CHUNK = 1024 * 1024;

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

  /**
   * Throws a unique violation when the same sha256 is already stored: the caller takes the winner.
   * On MySQL the bytes go in pieces of FILE_CHUNK in one transaction: mysql2 writes a Buffer into
   * the statement as hex, twice its size, and one statement must fit the server's
   * max_allowed_packet (16 MiB by default), so a 10 MiB registry in one INSERT was refused. The
   * transaction makes the stored file whole or absent, never a prefix under its sha256.
   */
  async insertFile(f: NewFile): Promise<string> {
    const row = {
      sha256: f.sha256,
      file_name: f.fileName?.slice(0, 255) ?? null,
      bytes: f.content.length,
      format: f.format,
      encoding: f.encoding,
      sheet: f.sheet?.slice(0, 255) ?? null,
      created_at: dbTime(),
    };
    if (this.db.dialect !== 'mysql' || f.content.length <= FILE_CHUNK) {
      const [id] = await this.db.knex('registry_files').insert({ ...row, content: f.content });
      return String(id);
    }
    return this.db.knex.transaction(async (trx) => {
      const [inserted] = await trx('registry_files').insert({
        ...row,
        content: f.content.subarray(0, FILE_CHUNK),
      });
      const id = String(inserted);
      for (let at = FILE_CHUNK; at < f.content.length; at += FILE_CHUNK)
        await trx.raw('update `registry_files` set `content` = concat(`content`, ?) where `id` = ?', [
          f.content.subarray(at, at + FILE_CHUNK),
          id,
        ]);
      return id;
    });
  }

  /** Throws a unique violation while another run of the same file is running (active_file_id). */
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
      // Unique while running: a second run of the same file at the same time is refused here.
      active_file_id: r.fileId,
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
      .update({
        status: 'failed',
        error: JSON.stringify(error),
        finished_at: dbTime(),
        active_file_id: null,
      });
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
        active_file_id: null,
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

  /** A finished (not failed) run of the file other than `exceptRunId`, the latest. */
  async finishedRunOfFile(fileId: string, exceptRunId: string): Promise<Run | null> {
    const r = await this.db
      .knex('reconciliation_runs')
      .where({ file_id: fileId })
      .whereNot('id', exceptRunId)
      .whereIn('status', ['clean', 'discrepancies', 'resolved'])
      .orderBy('id', 'desc')
      .first();
    return r ? toRun(r) : null;
  }

  /** A run claimed a moment ago that turned out to be a duplicate: nothing refers to it yet. */
  async withdrawRun(id: string): Promise<void> {
    await this.db.knex('reconciliation_runs').where({ id, status: 'running' }).delete();
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

  /** Rows in one transaction (../db/bulk-insert.ts); the row ids by row number. */
  async insertRows(
    trx: Knex.Transaction,
    fileId: string,
    rows: readonly RegistryRow[],
  ): Promise<Map<number, string>> {
    await insertMany(this.db, trx, 'registry_rows', ROW_COLUMNS, rowValues(fileId, rows));
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

  /** Just these rows (an item's row, a report's item rows), never the whole file for a few. */
  async rowsById(ids: readonly string[]): Promise<Array<RegistryRow & { id: string }>> {
    const out: Array<RegistryRow & { id: string }> = [];
    for (const batch of chunks([...new Set(ids)], 1000)) {
      const rows = (await this.db.knex('registry_rows').whereIn('id', batch).orderBy('row_no')) as Row[];
      for (const r of rows) out.push(toRegistryRow(r));
    }
    return out;
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
    await insertMany(
      this.db,
      trx,
      'reconciliation_matches',
      ['run_id', 'row_id', 'payment_id', 'refund_id'],
      (function* () {
        for (const m of matches) yield [runId, rowIds.get(m.rowNo) as string, m.paymentId, m.refundId];
      })(),
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
}
