import type { Db } from '../db/db.js';
import { requestLogEvidenceOf, type EvidenceEntry } from '../http/request-log-evidence.js';
import type { Item } from './reconcile-matcher.js';

/** What the request log says about a txn_id, for a person. */
export function summarizeEvidence(entries: EvidenceEntry[], purged: boolean): string {
  const kaspi = entries.filter((e) => e.channel === 'kaspi');
  if (kaspi.length === 0) return purged ? 'request log purged past its retention' : 'no request at all';
  const pays = kaspi.filter((e) => e.command === 'pay');
  if (pays.length === 0) return 'only a check';
  const last = pays[pays.length - 1] as EvidenceEntry;
  if (last.result !== '0' && last.result !== '4')
    return `a pay refused (result ${last.result ?? '?'}: ${last.comment ?? ''})`;
  return `pay received ${pays.length} time(s), last answered result ${last.result ?? '?'}`;
}

/** A damaged txn_id (TXN_ID_PRECISION) is not the payment's: its request log would be someone else's or none. */
const hasEvidence = (i: Item) =>
  !!i.txnId && i.class !== 'EXCLUDED' && i.class !== 'ROW_INVALID' && i.class !== 'TXN_ID_PRECISION';

/**
 * Each item with a txn_id gets the request-log entries of that txn_id and their summary, read
 * for all the items at once (one statement per 500 txn_ids, ../http/request-log-evidence.ts).
 */
export async function withEvidence(
  db: Db,
  items: Item[],
  requestLogRetentionDays: number,
): Promise<Array<Item & { evidence?: unknown }>> {
  const retentionStart = Date.now() - requestLogRetentionDays * 86_400_000;
  const byTxn = await requestLogEvidenceOf(
    db,
    items.filter(hasEvidence).map((i) => i.txnId as string),
  );
  return items.map((i) => {
    if (!hasEvidence(i)) return i;
    const entries = byTxn.get(i.txnId as string) ?? [];
    const day = typeof i.detail.txnDate === 'string' ? i.detail.txnDate : null;
    const purged =
      day !== null && Date.parse(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`) < retentionStart;
    return {
      ...i,
      evidence: {
        summary: summarizeEvidence(entries, purged),
        entries: entries.slice(-20).map((e) => ({
          at: e.at,
          channel: e.channel,
          command: e.command,
          clientIp: e.clientIp,
          httpStatus: e.httpStatus,
          result: e.result,
          comment: e.comment,
        })),
      },
    };
  });
}
