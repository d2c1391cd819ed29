import type { Db } from '../src/db/db.js';
import { checkLedger } from '../bench/bench-db.js';
import type { KaspiLedger } from './kaspi-traffic.js';

export interface InvariantReport {
  ok: boolean;
  lines: string[];
}

const CUT = /ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/;

/**
 * The bank invariant, from the database and from what Kaspi was told:
 * one payment per txn_id; every 0 answer has its credit; no credit twice; nothing left pending;
 * one prv_txn per txn_id; no 5 for a payment that was credited; balances equal the credits;
 * and every answer within the budget (a cut connection from a killed process is not an answer).
 */
export async function checkBankInvariant(
  db: Db,
  kaspi: KaspiLedger,
  opts: { budgetMs: number; open: string[] },
): Promise<InvariantReport> {
  const lines: string[] = [];
  const fail = (what: string, n: number, sample: unknown[] = []) => {
    if (n > 0)
      lines.push(`FAIL ${what}: ${n}${sample.length ? ` e.g. ${JSON.stringify(sample.slice(0, 3))}` : ''}`);
  };
  const k = db.knex;

  const dupes = await k('payments')
    .where({ source: 'kaspi' })
    .groupBy('txn_id')
    .havingRaw('count(*) > 1')
    .select('txn_id');
  fail('txn_ids with more than one payment', dupes.length, dupes);

  const rows = await k('payments').where({ source: 'kaspi' }).select('id', 'txn_id', 'state');
  const byTxn = new Map(
    rows.map((r: { id: unknown; txn_id: unknown; state: string }) => [String(r.txn_id), r]),
  );
  const credited = new Set(
    (await k('account_ledger').where({ kind: 'credit' }).select('payment_id')).map(
      (r: { payment_id: unknown }) => String(r.payment_id),
    ),
  );

  const zeroWithoutCredit: unknown[] = [];
  const prvMismatch: unknown[] = [];
  const fiveButCredited: unknown[] = [];
  const prvOf = new Map<string, string>();
  for (const c of kaspi.calls) {
    const p = byTxn.get(c.txnId);
    if (
      c.result === 0 &&
      (!p || p.state !== 'credited' || !credited.has(String(p.id)) || String(p.id) !== c.prvTxn)
    )
      zeroWithoutCredit.push({ txn: c.txnId, prv: c.prvTxn, stored: p ?? null });
    if (c.prvTxn) {
      const seen = prvOf.get(c.txnId);
      if (seen && seen !== c.prvTxn) prvMismatch.push({ txn: c.txnId, prv: [seen, c.prvTxn] });
      prvOf.set(c.txnId, c.prvTxn);
    }
    if (c.result === 5 && p?.state === 'credited') fiveButCredited.push({ txn: c.txnId });
  }
  fail('answers 0 without their credit', zeroWithoutCredit.length, zeroWithoutCredit);
  fail('txn_ids answered with two prv_txn', prvMismatch.length, prvMismatch);
  fail('answers 5 for a credited payment', fiveButCredited.length, fiveButCredited);
  fail('txn_ids still without a final answer after the repeats', opts.open.length, opts.open);

  const l = await checkLedger(db);
  fail('payments credited twice', l.doubled);
  fail('credits without a credited payment, or the reverse', l.orphans);
  fail('payments left unfinished (received/crediting/pending)', l.unfinished);
  if (l.balanceGap !== '0') lines.push(`FAIL balances minus credited amounts: ${l.balanceGap}`);

  const answered = kaspi.calls.filter((c) => c.result !== null);
  const late = answered.filter((c) => c.ms > opts.budgetMs);
  const hung = kaspi.calls.filter((c) => c.result === null && !CUT.test(c.error ?? ''));
  fail(
    `answers later than the ${opts.budgetMs} ms budget`,
    late.length,
    late.map((c) => ({ txn: c.txnId, ms: c.ms, result: c.result })),
  );
  fail(
    'requests never answered (not a cut connection)',
    hung.length,
    hung.map((c) => ({ txn: c.txnId, ms: c.ms, error: c.error })),
  );

  const results = new Map<string, number>();
  for (const c of kaspi.calls)
    results.set(String(c.result ?? 'none'), (results.get(String(c.result ?? 'none')) ?? 0) + 1);
  const maxMs = Math.max(0, ...answered.map((c) => c.ms));
  lines.unshift(
    `${kaspi.txns.size} txn_ids, ${kaspi.calls.length} calls (${[...results].map(([r, n]) => `${r === 'none' ? 'no answer' : `result ${r}`}: ${n}`).join(', ')}), ` +
      `slowest answer ${maxMs} ms; payments ${l.payments}, credited ${l.credited}, credit lines ${l.credits}`,
  );
  return { ok: !lines.some((x) => x.startsWith('FAIL')), lines };
}
