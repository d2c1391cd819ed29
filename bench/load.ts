import autocannon from 'autocannon';
import { accountName } from './bench-db.js';

export interface LoadResult {
  label: string;
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** connection errors + timeouts + non-2xx + answers that are not result 0 */
  errors: number;
  detail: { errors: number; timeouts: number; non2xx: number; mismatches: number };
}

const RESULT_OK = '<result>0</result>';
export const TXN_DATE = '20261123141500';

/**
 * A txn_id source: 18 digits, unique across runs (the epoch second of the start, then a counter),
 * so no pay of a later round replays an earlier one.
 */
export function txnIds(prefix: string) {
  const base = `${prefix}${Math.floor(Date.now() / 1000)}`;
  let seq = 0;
  return () => `${base}${String(++seq).padStart(18 - base.length, '0')}`;
}

export type Endpoint = 'pay' | 'check' | 'bare';

/** The request path for one call: a new txn_id per pay, an account picked at random. */
export function pathMaker(endpoint: Endpoint, accounts: number, nextTxn: () => string): () => string {
  const pick = () => accountName(Math.floor(Math.random() * accounts));
  if (endpoint === 'pay')
    return () =>
      `/payment_app.cgi?command=pay&txn_id=${nextTxn()}&account=${pick()}&sum=10.00&txn_date=${TXN_DATE}`;
  return () => `/payment_app.cgi?command=check&txn_id=${nextTxn()}&account=${pick()}&sum=10.00`;
}

/**
 * One autocannon run against 127.0.0.1. Every answer's body is checked for result 0, the bare
 * server's included, so both sides pay the same client cost.
 */
export async function load(opts: {
  label: string;
  port: number;
  path: () => string;
  connections: number;
  seconds?: number;
  amount?: number;
  onBody?: (body: string) => void;
}): Promise<LoadResult> {
  const r = await autocannon({
    url: `http://127.0.0.1:${opts.port}`,
    connections: opts.connections,
    ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? 10 }),
    timeout: 15,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: opts.path() }),
        ...(opts.onBody ? { onResponse: (_status: number, body: string) => opts.onBody?.(body) } : {}),
      },
    ],
    verifyBody: (body) => typeof body === 'string' && body.includes(RESULT_OK),
  });
  const detail = { errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, mismatches: r.mismatches };
  return {
    label: opts.label,
    connections: opts.connections,
    seconds: r.duration,
    requests: r.requests.total,
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx + r.mismatches,
    detail,
  };
}
