import { parseTenge, type Tiyn } from '../shared/money.js';
import { readTxnDate } from '../shared/txn-date.js';

export type KaspiCommand = 'check' | 'pay';

export interface KaspiRequest {
  command: KaspiCommand;
  txnId: string;
  account: string;
  /** pay: the amount; check: the nominal sum if it parsed, else null (check ignores it). */
  sum: Tiyn | null;
  txnDateRaw: string | null;
  /** UTC instant "YYYY-MM-DD HH:MM:SS.000" */
  txnDateUtc: string | null;
  /** The same instant written with the configured offset, e.g. 2026-11-23T14:15:00+05:00 */
  txnDateIso: string | null;
  extra: Record<string, string>;
}

/** A request we refuse, with the protocol result and a short comment for Kaspi. */
export interface KaspiRejection {
  result: 1 | 5;
  comment: string;
  /** What we could read, for the answer's txn_id and the request log. */
  txnId: string | null;
  command: string | null;
}

export interface KaspiRules {
  accountRegex: RegExp;
  minSum: Tiyn;
  maxSum: Tiyn;
  /** "+05:00" */
  txnDateOffset: string;
}

const TXN_ID = /^\d{1,18}$/;
const DATA_KEY = /^data\d{1,3}$/;

/**
 * Reads the raw query string ourselves: a repeated key or a bracket key is malformed (the
 * framework's parser would quietly turn them into arrays or objects).
 */
export function parseQuery(rawQuery: string): Map<string, string> | null {
  const params = new URLSearchParams(rawQuery);
  const out = new Map<string, string>();
  for (const [key, value] of params) {
    if (key.includes('[') || key.includes(']') || out.has(key)) return null;
    out.set(key, value);
  }
  return out;
}

export function validateKaspiRequest(rawQuery: string, rules: KaspiRules): KaspiRequest | KaspiRejection {
  const q = parseQuery(rawQuery);
  if (!q)
    return {
      result: 5,
      comment: 'Malformed request: repeated or structured parameter',
      txnId: null,
      command: null,
    };
  const command = q.get('command') ?? null;
  const rawTxn = q.get('txn_id');
  const txnId = rawTxn !== undefined && TXN_ID.test(rawTxn) ? rawTxn : null;
  const reject = (result: 1 | 5, comment: string): KaspiRejection => ({ result, comment, txnId, command });

  if (command !== 'check' && command !== 'pay') return reject(5, 'Unknown command');
  if (txnId === null) return reject(5, 'Invalid txn_id');

  const account = q.get('account');
  if (
    account === undefined ||
    account.length === 0 ||
    Array.from(account).length > 200 ||
    !rules.accountRegex.test(account)
  ) {
    return reject(1, 'Invalid account');
  }

  const rawSum = q.get('sum');
  const sum = rawSum === undefined ? null : parseTenge(rawSum);
  let txnDate: { utc: string; iso: string } | null = null;
  const rawDate = q.get('txn_date') ?? null;
  if (command === 'pay') {
    if (rawSum === undefined) return reject(5, 'Missing sum');
    if (sum === null) return reject(5, 'Invalid sum');
    if (sum < rules.minSum || sum > rules.maxSum) return reject(5, 'Sum out of the allowed range');
    if (rawDate === null) return reject(5, 'Missing txn_date');
    txnDate = readTxnDate(rawDate, rules.txnDateOffset);
    if (!txnDate) return reject(5, 'Invalid txn_date');
  }

  const extra: Record<string, string> = {};
  for (const [k, v] of q) if (DATA_KEY.test(k)) extra[k] = v;

  return {
    command,
    txnId,
    account,
    sum,
    txnDateRaw: command === 'pay' ? rawDate : null,
    txnDateUtc: txnDate?.utc ?? null,
    txnDateIso: txnDate?.iso ?? null,
    extra,
  };
}

export function isRejection(r: KaspiRequest | KaspiRejection): r is KaspiRejection {
  return 'result' in r;
}
