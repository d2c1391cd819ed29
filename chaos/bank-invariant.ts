import type { Db } from '../src/db/db.js';
import { checkLedger } from '../bench/bench-db.js';
import type { KaspiLedger } from './kaspi-traffic.js';

/** Where credits land: the embedded ledger, or an external billing's own record of them. */
export type CreditBook =
  | { kind: 'sql' }
  | {
      kind: 'http';
      /** txn_ids the billing applied a credit for (one per Idempotency-Key) */
      credited: Set<string>;
      /** calls that broke the contract (wrong key, body changed on a repeat...) */
      violations: string[];
      /** most calls for one key open at the same moment */
      maxConcurrentPerKey: number;
    };

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
  opts: { budgetMs: number; open: string[]; book?: CreditBook },
): Promise<InvariantReport> {
  const book = opts.book ?? { kind: 'sql' };
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
  // payment ids the billing side credited
  const credited =
    book.kind === 'sql'
      ? new Set(
          (await k('account_ledger').where({ kind: 'credit' }).select('payment_id')).map(
            (r: { payment_id: unknown }) => String(r.payment_id),
          ),
        )
      : new Set([...book.credited].map((txn) => String(byTxn.get(txn)?.id ?? `missing:${txn}`)));

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
  fail('payments left unfinished (received/crediting/pending)', l.unfinished);
  if (book.kind === 'sql') {
    fail('payments credited twice', l.doubled);
    fail('credits without a credited payment, or the reverse', l.orphans);
    if (l.balanceGap !== '0') lines.push(`FAIL balances minus credited amounts: ${l.balanceGap}`);
  } else {
    const dbCredited = new Set(rows.filter((r) => r.state === 'credited').map((r) => String(r.txn_id)));
    const billedNotCredited = [...book.credited].filter((txn) => !dbCredited.has(txn));
    const creditedNotBilled = [...dbCredited].filter((txn) => !book.credited.has(txn));
    fail(
      'credits the billing applied but the payment is not credited',
      billedNotCredited.length,
      billedNotCredited,
    );
    fail('payments credited that the billing never applied', creditedNotBilled.length, creditedNotBilled);
    fail('billing calls that broke the contract', book.violations.length, book.violations);
    fail('one credit sent twice at the same moment', book.maxConcurrentPerKey > 1 ? 1 : 0, [
      book.maxConcurrentPerKey,
    ]);
  }

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
      `slowest answer ${maxMs} ms; payments ${l.payments}, credited ${l.credited}, ` +
      (book.kind === 'sql'
        ? `credit lines ${l.credits}`
        : `credits applied by the billing ${book.credited.size}`),
  );
  return { ok: !lines.some((x) => x.startsWith('FAIL')), lines };
}
