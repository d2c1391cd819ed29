import { fromDbTime, type Db } from '../db/db.js';

/** One request-log entry as the admin API shows it: the evidence for a dispute. */
export interface EvidenceEntry {
  id: string;
  at: string | null;
  channel: string;
  requestId: string | null;
  clientIp: string | null;
  method: string | null;
  request: string | null;
  command: string | null;
  httpStatus: number | null;
  result: string | null;
  comment: string | null;
  response: string | null;
  durationMs: number | null;
}

/** The most entries one txn_id returns: Kaspi repeats a pay a few times, never thousands. */
export const EVIDENCE_LIMIT = 500;

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function toEntry(r: Record<string, unknown>): EvidenceEntry {
  return {
    id: String(r.id),
    at: fromDbTime(r.at as string | null)?.toISOString() ?? null,
    channel: String(r.channel),
    requestId: str(r.request_id),
    clientIp: str(r.client_ip),
    method: str(r.method),
    request: str(r.request),
    command: str(r.command),
    httpStatus: num(r.http_status),
    result: str(r.result),
    comment: str(r.comment),
    response: str(r.response),
    durationMs: num(r.duration_ms),
  };
}

/**
 * Every request-log entry of a txn_id (Kaspi's check and pay, JetPay's calls, the Refund API's),
 * oldest first. One index lookup (request_log_txn_idx), whatever the table's size.
 */
export async function requestLogEvidence(db: Db, txnId: string): Promise<EvidenceEntry[]> {
  const rows = (await db
    .knex('request_log')
    .where('txn_id', txnId)
    .orderBy('id')
    .limit(EVIDENCE_LIMIT)) as Record<string, unknown>[];
  return rows.map(toEntry);
}

/** Txn_ids per statement of requestLogEvidenceOf. */
export const EVIDENCE_BATCH = 500;

/**
 * The same for many txn_ids (a reconciliation's items): one statement per EVIDENCE_BATCH txn_ids
 * rather than one per txn_id; each txn_id's entries oldest first, at most EVIDENCE_LIMIT, and an
 * empty list for a txn_id with none.
 */
export async function requestLogEvidenceOf(
  db: Db,
  txnIds: Iterable<string>,
): Promise<Map<string, EvidenceEntry[]>> {
  const out = new Map<string, EvidenceEntry[]>();
  for (const t of txnIds) out.set(t, []);
  const all = [...out.keys()];
  for (let i = 0; i < all.length; i += EVIDENCE_BATCH) {
    const rows = (await db
      .knex('request_log')
      .whereIn('txn_id', all.slice(i, i + EVIDENCE_BATCH))
      .orderBy('id')) as Record<string, unknown>[];
    for (const r of rows) {
      const list = out.get(String(r.txn_id));
      if (list && list.length < EVIDENCE_LIMIT) list.push(toEntry(r));
    }
  }
  return out;
}
