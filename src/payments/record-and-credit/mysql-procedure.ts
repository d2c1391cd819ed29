import { commitConflict, isBrokenConnection } from '../../db/commit-retry.js';
import { dbTime, type Db } from '../../db/db.js';
import { getLogger } from '../../log/logger.js';
import { extraJson } from '../payment-store.js';
import { PAY_PROCEDURE as PROCEDURE } from './one-call-columns.js';
import type { OneCallPayment, OneCallStats, PoolClient } from './one-call-payment.js';

const log = getLogger('one-call');

interface MysqlConnection {
  query(sql: string, values: unknown[], cb: (err: Error | null, result: unknown) => void): void;
  destroy(): void;
}

/** The procedure's D: this txn_id is stored already. */
const DUPLICATE = Symbol('duplicate');
/** The procedure's L: the account is locked by another transaction; the pay goes again alone. */
const LOCKED = Symbol('locked');
/** A pay's outcome in a call: its id, null (no active account), or one of the two above. */
type Outcome = string | null | typeof DUPLICATE | typeof LOCKED;

/** The error a duplicate gets, as the database's own would be recognised (isUniqueViolation). */
function duplicateError(p: OneCallPayment): Error {
  return Object.assign(new Error(`Duplicate entry for payment ${p.source}:${p.txnId}`), {
    code: 'ER_DUP_ENTRY',
    errno: 1062,
  });
}

function badOutcome(o: string): never {
  throw new Error(`${PROCEDURE}: unexpected outcome "${o.slice(0, 40)}"`);
}

/** Byte order, as the sort must be the same in every process (no locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How many batch calls may be in the database at once (the lane), and how many pays one may carry. */
export interface OneCallOptions {
  maxInFlight?: number;
  maxBatch?: number;
}

interface Waiting {
  p: OneCallPayment;
  resolve(id: string | null): void;
  reject(e: unknown): void;
}

/**
 * MySQL: the common pay as one CALL of the stored procedure (its SQL is frozen in its migration).
 * Pays go through a lane of `maxInFlight` calls (one by default): pays that arrive while the lane
 * is busy wait and go together in the next call (group commit), one round trip and one log flush
 * for all of them. A pay alone goes at once, so a quiet gateway adds no wait. Measured at 2000
 * pays/s, one lane cost ~390 µs of gateway CPU and ~160 µs of MariaDB CPU per pay, three lanes ~500
 * and ~240 (smaller batches). Nothing one pay waits for holds up the lane: a call in the lane never
 * waits for a row lock (such a pay steps out), and what must go again goes alone, outside the lane:
 * a pay whose account is locked, and every pay of a batch that failed as a whole (a deadlock, one
 * pay's bad data), so each gets its own outcome, as if it had gone alone.
 */
export class MysqlProcedureLane {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;

  constructor(
    private readonly db: Db,
    private readonly stats: OneCallStats,
    opts: OneCallOptions = {},
  ) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 32);
  }

  run(p: OneCallPayment): Promise<string | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ p, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The oldest waiting pays, up to maxBatch, that share the comment and reference one call writes. */
  private takeBatch(): Waiting[] {
    const head = this.waiting[0] as Waiting;
    const batch: Waiting[] = [];
    for (let i = 0; i < this.waiting.length && batch.length < this.maxBatch;) {
      const w = this.waiting[i] as Waiting;
      if (w.p.comment === head.p.comment && w.p.billingRef === head.p.billingRef) {
        batch.push(w);
        this.waiting.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  /**
   * A batch in the lane: it never waits for a row lock (a pay whose account is held steps out as L),
   * and what must go again goes alone, outside the lane, so nothing one pay waits for holds up others.
   */
  private async send(batch: Waiting[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.callMysql(
        batch.map((w) => w.p),
        { wait: false },
      );
    } catch (e) {
      // A pay alone gets its error as is: the caller knows what to do with a deadlock or a lost database.
      if (batch.length === 1) return (batch[0] as Waiting).reject(e);
      this.stats.split++;
      // A deadlock (on Galera: a certification failure at COMMIT) is expected under contention: debug.
      const level = commitConflict(e) === null ? 'warn' : 'debug';
      log[level]('a batch of pays failed as a whole: each goes again alone', { pays: batch.length, err: e });
      for (const w of batch) void this.sendAlone(w);
      return;
    }
    batch.forEach((w, i) => {
      const out = outcomes[i];
      if (out === DUPLICATE) w.reject(duplicateError(w.p));
      else if (out === LOCKED) void this.sendAlone(w);
      else w.resolve(out ?? null);
    });
  }

  /** One pay in a call of its own, waiting for row locks as any statement would. */
  private async sendAlone(w: Waiting): Promise<void> {
    try {
      const [out] = await this.callMysql([w.p], { wait: true });
      if (out === DUPLICATE) w.reject(duplicateError(w.p));
      else if (out === LOCKED) w.reject(new Error(`${PROCEDURE}: locked outcome for a call that waits`));
      else w.resolve(out ?? null);
    } catch (e) {
      w.reject(e);
    }
  }

  /** One CALL for the pays given; their outcomes in the same order. */
  private async callMysql(pays: OneCallPayment[], opts: { wait: boolean }): Promise<Outcome[]> {
    // Sorted by account: calls running side by side (lanes, pays sent alone) lock accounts in one order.
    const order = pays.map((_, i) => i).sort((a, b) => compare(pays[a]!.account, pays[b]!.account));
    const items = order.map((i) => {
      const p = pays[i] as OneCallPayment;
      const extra = extraJson(p.extra);
      return {
        source: p.source,
        txn: p.txnId,
        account: p.account,
        amount: String(p.amount),
        // JSON null would come back as the text 'null': a missing key is SQL NULL.
        ...(p.txnDateRaw === null ? {} : { raw: p.txnDateRaw }),
        ...(p.txnDate === null ? {} : { date: p.txnDate }),
        ...(extra === null ? {} : { extra }),
      };
    });
    const first = pays[0] as OneCallPayment;
    this.stats.calls++;
    this.stats.pays += pays.length;
    const rows = await this.queryMysql(`CALL \`${PROCEDURE}\`(?, ?, ?, ?, ?)`, [
      JSON.stringify(items),
      first.comment,
      first.billingRef,
      dbTime(),
      opts.wait ? 0 : 1,
    ]);
    const list = String((rows as [{ outcomes: string }[]])[0][0]?.outcomes ?? '').split(',');
    if (list.length !== pays.length + 1)
      throw new Error(`${PROCEDURE}: ${pays.length} pays, ${list.length - 1} outcomes`);
    const outcomes: Outcome[] = new Array(pays.length);
    order.forEach((i, k) => {
      const o = list[k] as string;
      outcomes[i] =
        o === 'N' ? null : o === 'D' ? DUPLICATE : o === 'L' ? LOCKED : /^\d+$/.test(o) ? o : badOutcome(o);
    });
    return outcomes;
  }

  /**
   * One statement on a connection of knex's pool, without knex's runner around it: the same pool
   * (size, acquire timeout, a dead connection dropped on its next acquire), less CPU per call.
   */
  private async queryMysql(sql: string, values: unknown[]): Promise<unknown> {
    const client = this.db.knex.client as PoolClient;
    const conn = (await client.acquireConnection()) as MysqlConnection;
    try {
      return await new Promise((resolve, reject) => {
        conn.query(sql, values, (err, result) => (err ? reject(err) : resolve(result)));
      });
    } catch (e) {
      // mysql2 lost its place in the CALL's result sets (seen on Galera: "Should not reach here"
      // after an error packet mid-CALL): this connection serves nothing more; the pool drops it on
      // its next acquire (knex validates), and the pay's retry goes on a fresh one.
      if (isBrokenConnection(e)) conn.destroy();
      throw e;
    } finally {
      await client.releaseConnection(conn);
    }
  }
}
