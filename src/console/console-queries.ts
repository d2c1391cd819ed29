import { dbTime, type Db } from '../db/db.js';
import { KaspiQrStore, type PurchaseWithPayment, type QrState } from '../kaspi-qr/kaspi-qr-store.js';
import { toTiyn, type Tiyn } from '../shared/money.js';

/**
 * The console's read-only summaries (Overview, Attention): counts and sums straight from the
 * tables, one GROUP BY each over an indexed time range. Nothing here writes; every change goes
 * through the services.
 */

export interface SourceDay {
  source: string;
  count: number;
  creditedCount: number;
  creditedSum: Tiyn;
}

export interface ResultCount {
  command: string;
  result: string;
  count: number;
}

export class ConsoleQueries {
  constructor(private readonly db: Db) {}

  /** Kaspi QR purchases whose outcome Kaspi would not tell (`unknown`): a person asks Kaspi. */
  qrUnknown(limit = 100): Promise<PurchaseWithPayment[]> {
    return new KaspiQrStore(this.db).list({ state: 'unknown', limit });
  }

  /** Kaspi QR purchases, newest first, with their payment's account, amount and credit state. */
  qrPurchases(f: { state?: QrState; account?: string }, limit = 100): Promise<PurchaseWithPayment[]> {
    return new KaspiQrStore(this.db).list({ ...f, limit });
  }

  ledger(account: string): Promise<LedgerLine[]> {
    return ledgerOf(this.db, account);
  }

  /** A payment's ledger lines (embedded billing; none with an external one), by its unique key. */
  async paymentLedger(paymentId: string): Promise<LedgerLine[]> {
    const rows = (await this.db
      .knex('account_ledger')
      .where({ payment_id: paymentId })
      .orderBy('id')
      .limit(100)) as Record<string, unknown>[];
    return rows.map(toLine);
  }

  /** The ids of a Kaspi QR payment's return sessions, newest first (ReturnSessions reads each). */
  async returnSessionIds(paymentId: string): Promise<string[]> {
    const rows = (await this.db
      .knex('kaspi_qr_return_sessions')
      .where({ payment_id: paymentId })
      .orderBy('id', 'desc')
      .limit(20)
      .select('id')) as { id: unknown }[];
    return rows.map((r) => String(r.id));
  }

  /** Payments received in [from, to), by source: how many, and how many credited for how much. */
  async bySource(from: Date, to: Date): Promise<SourceDay[]> {
    const k = this.db.knex;
    const rows = (await k('payments')
      .where('received_at', '>=', dbTime(from))
      .where('received_at', '<', dbTime(to))
      .groupBy('source')
      .select('source')
      .count({ n: '*' })
      .select(k.raw("SUM(CASE WHEN state = 'credited' THEN 1 ELSE 0 END) AS c"))
      .select(k.raw("SUM(CASE WHEN state = 'credited' THEN amount ELSE 0 END) AS s"))) as Record<
      string,
      unknown
    >[];
    return rows.map((r) => ({
      source: String(r.source),
      count: Number(r.n),
      creditedCount: Number(r.c ?? 0),
      creditedSum: toTiyn(r.s == null ? 0 : String(r.s).replace(/\.0+$/, '')),
    }));
  }

  /** Our answers to Kaspi in [from, to), by command and result code. */
  async kaspiAnswers(from: Date, to: Date): Promise<ResultCount[]> {
    const rows = (await this.db
      .knex('request_log')
      .where('channel', 'kaspi')
      .where('at', '>=', dbTime(from))
      .where('at', '<', dbTime(to))
      .groupBy('command', 'result')
      .select('command', 'result')
      .count({ n: '*' })
      .orderBy(['command', 'result'])) as Record<string, unknown>[];
    return rows.map((r) => ({
      command: r.command == null ? '' : String(r.command),
      result: r.result == null ? '' : String(r.result),
      count: Number(r.n),
    }));
  }

  /** Refunds by status, and how many carry a flag. */
  async refundsByStatus(): Promise<{ status: string; count: number; flagged: number }[]> {
    const k = this.db.knex;
    const rows = (await k('refunds')
      .groupBy('status')
      .select('status')
      .count({ n: '*' })
      .select(k.raw('SUM(CASE WHEN flagged_at IS NULL THEN 0 ELSE 1 END) AS f'))
      .orderBy('status')) as Record<string, unknown>[];
    return rows.map((r) => ({ status: String(r.status), count: Number(r.n), flagged: Number(r.f ?? 0) }));
  }
}

export interface LedgerLine {
  id: string;
  paymentId: string;
  kind: string;
  ref: string;
  orderNumber: string | null;
  amount: Tiyn;
  createdAt: string;
}

/** An account's ledger lines, newest first (read only: the billing writes them). */
export async function ledgerOf(db: Db, account: string, limit = 200): Promise<LedgerLine[]> {
  const rows = (await db
    .knex('account_ledger')
    .where({ account })
    .orderBy('id', 'desc')
    .limit(limit)) as Record<string, unknown>[];
  return rows.map(toLine);
}

function toLine(r: Record<string, unknown>): LedgerLine {
  return {
    id: String(r.id),
    paymentId: String(r.payment_id),
    kind: String(r.kind),
    ref: String(r.ref ?? ''),
    orderNumber: r.order_number == null ? null : String(r.order_number),
    amount: toTiyn(r.amount),
    createdAt: String(r.created_at),
  };
}
