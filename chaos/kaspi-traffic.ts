import http from 'node:http';
import { accountName } from '../bench/bench-db.js';

export interface PayCall {
  txnId: string;
  account: string;
  sum: string;
  /** null: no answer (connection cut, timeout) */
  result: number | null;
  prvTxn: string | null;
  ms: number;
  at: number;
  error?: string;
}

/** What Kaspi knows about one txn_id: its parameters and every answer it got. */
export class KaspiLedger {
  readonly calls: PayCall[] = [];
  readonly txns = new Map<string, { account: string; sum: string }>();
}

const TXN_DATE = '20261123141500';
const agentFor = (() => {
  const agents = new Map<number, http.Agent>();
  return (port: number) => {
    let a = agents.get(port);
    if (!a) agents.set(port, (a = new http.Agent({ keepAlive: true, maxSockets: 64 })));
    return a;
  };
})();

/** One pay, as Kaspi sends it: GET, 15 s and it hangs up. */
export function pay(
  port: number,
  txnId: string,
  account: string,
  sum: string,
  timeoutMs = 15_000,
): Promise<PayCall> {
  const started = Date.now();
  const path = `/payment_app.cgi?command=pay&txn_id=${txnId}&account=${encodeURIComponent(account)}&sum=${sum}&txn_date=${TXN_DATE}`;
  return new Promise((resolve) => {
    const done = (r: Partial<PayCall>) =>
      resolve({
        txnId,
        account,
        sum,
        result: null,
        prvTxn: null,
        ms: Date.now() - started,
        at: started,
        ...r,
      });
    const req = http.get({ host: '127.0.0.1', port, path, agent: agentFor(port) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const result = /<result>(\d)<\/result>/.exec(body)?.[1];
        done({
          result: result === undefined ? null : Number(result),
          prvTxn: /<prv_txn>(\d+)<\/prv_txn>/.exec(body)?.[1] ?? null,
          error: result === undefined ? `HTTP ${res.statusCode}: ${body.slice(0, 100)}` : undefined,
        });
      });
      res.on('error', (e) => done({ error: e.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (e) => done({ error: e.message }));
  });
}

/**
 * A pay storm from `workers` connections until stop() is called: new txn_ids over many accounts,
 * and now and then the same txn_id again (a repeat, as Kaspi sends when it is not sure).
 */
export function payStorm(opts: {
  port: () => number;
  ledger: KaspiLedger;
  workers: number;
  accounts: number;
  prefix: string;
}) {
  let stopping = false;
  let seq = 0;
  const recent: string[] = [];
  const newTxn = () => {
    const id = `${opts.prefix}${String(++seq).padStart(18 - opts.prefix.length, '0')}`;
    const account = accountName(seq % opts.accounts);
    const sum = `${(seq % 50) + 1}.00`;
    opts.ledger.txns.set(id, { account, sum });
    recent.push(id);
    if (recent.length > 50) recent.shift();
    return id;
  };
  const worker = async () => {
    while (!stopping) {
      const repeat = recent.length > 0 && Math.random() < 0.15;
      const id = repeat ? (recent[Math.floor(Math.random() * recent.length)] as string) : newTxn();
      const t = opts.ledger.txns.get(id)!;
      const call = await pay(opts.port(), id, t.account, t.sum);
      opts.ledger.calls.push(call);
      if (call.result === null) await new Promise((r) => setTimeout(r, 50)); // no server: don't spin
    }
  };
  const running = Promise.all(Array.from({ length: opts.workers }, worker));
  return {
    async stop() {
      stopping = true;
      await running;
    },
  };
}

const FINAL = new Set([0, 1, 2, 3, 5]);

/**
 * Kaspi's side after a fault: every txn_id without a final answer is sent again, with a pause,
 * until it gets one or the bound is reached.
 */
export async function repeatUntilFinal(
  port: number,
  ledger: KaspiLedger,
  opts: { rounds?: number; pauseMs?: number } = {},
): Promise<string[]> {
  const lastResult = new Map<string, number | null>();
  for (const c of ledger.calls) lastResult.set(c.txnId, c.result);
  let open = [...ledger.txns.keys()].filter((id) => !FINAL.has(lastResult.get(id) ?? -1));
  for (let round = 0; round < (opts.rounds ?? 20) && open.length > 0; round++) {
    const batch: PayCall[] = [];
    for (let i = 0; i < open.length; i += 32) {
      batch.push(
        ...(await Promise.all(
          open.slice(i, i + 32).map((id) => {
            const t = ledger.txns.get(id)!;
            return pay(port, id, t.account, t.sum);
          }),
        )),
      );
    }
    ledger.calls.push(...batch);
    open = batch.filter((c) => !FINAL.has(c.result ?? -1)).map((c) => c.txnId);
    if (open.length > 0) await new Promise((r) => setTimeout(r, opts.pauseMs ?? 1000));
  }
  return open;
}
