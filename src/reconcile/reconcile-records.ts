import { fromDbTime } from '../db/db.js';
import { toTiyn } from '../shared/money.js';
import type { Item } from './reconcile-matcher.js';
import type { RegistryRow } from './registry-profile.js';

/** The registries' records as the code sees them, and the mapping from their database rows. */

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

export type Row = Record<string, unknown>;
export const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
export const n = (v: unknown) => (v === null || v === undefined ? null : toTiyn(v));
export const json = (v: unknown) =>
  v === null || v === undefined ? null : (JSON.parse(String(v)) as Record<string, unknown>);
const iso = (v: unknown) => fromDbTime(v as string | null)?.toISOString() ?? null;

export function toRun(r: Row): Run {
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

export function toItem(r: Row): StoredItem {
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

export function toFile(r: Row): RegistryFile {
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

export function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
