import { dbTime, fromDbTime, type Db } from '../db/db.js';
import type { Actor } from '../audit/audit-log.js';
import type { Tiyn } from '../shared/money.js';

/**
 * r2 return sessions as kaspi_qr_return_sessions holds them (db/migrations/20261202120000_kaspi_qr_returns.ts):
 * read, claimed for one poll by a conditional UPDATE, and saved while the claim is still ours.
 */

export type SessionState = 'pending' | 'identified' | 'returned' | 'wrong_customer' | 'expired' | 'failed';
export const SESSION_STATES: readonly SessionState[] = [
  'pending',
  'identified',
  'returned',
  'wrong_customer',
  'expired',
  'failed',
];
export const FINAL: readonly SessionState[] = ['returned', 'wrong_customer', 'expired', 'failed'];

export interface ReturnSessionRow {
  id: string;
  token: string;
  idempotencyKey: string | null;
  qrReturnId: string;
  qrToken: string;
  expireDateRaw: string | null;
  paymentId: string;
  txnId: string;
  amount: Tiyn;
  reason: string;
  createdBy: string;
  state: SessionState;
  kaspiStatus: string | null;
  pollIntervalS: number;
  deadline: Date;
  nextPollAt: Date | null;
  polls: number;
  refundId: string | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

type Row = Record<string, unknown>;
const s = (v: unknown) => (v == null ? null : String(v));

function toSession(r: Row): ReturnSessionRow {
  return {
    id: String(r.id),
    token: String(r.token),
    idempotencyKey: s(r.idempotency_key),
    qrReturnId: String(r.qr_return_id),
    qrToken: String(r.qr_token),
    expireDateRaw: s(r.expire_date_raw),
    paymentId: String(r.payment_id),
    txnId: String(r.txn_id),
    amount: Number(r.amount),
    reason: String(r.reason),
    createdBy: String(r.created_by ?? ''),
    state: r.state as SessionState,
    kaspiStatus: s(r.kaspi_status),
    pollIntervalS: Number(r.poll_interval_s),
    deadline: fromDbTime(r.deadline as string) as Date,
    nextPollAt: fromDbTime(r.next_poll_at as string | null),
    polls: Number(r.polls ?? 0),
    refundId: s(r.refund_id),
    lastError: s(r.last_error),
    createdAt: fromDbTime(r.created_at as string) as Date,
    updatedAt: fromDbTime(r.updated_at as string) as Date,
  };
}

export class ReturnSessionStore {
  constructor(private readonly db: Db) {}

  async byId(id: string): Promise<ReturnSessionRow | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    const r = (await this.db.knex('kaspi_qr_return_sessions').where({ id }).first()) as Row | undefined;
    return r ? toSession(r) : null;
  }

  async byToken(token: string): Promise<ReturnSessionRow | null> {
    if (!/^[0-9a-f]{32}$/.test(token)) return null;
    const r = (await this.db.knex('kaspi_qr_return_sessions').where({ token }).first()) as Row | undefined;
    return r ? toSession(r) : null;
  }

  async byKey(key: string): Promise<ReturnSessionRow | null> {
    const r = (await this.db.knex('kaspi_qr_return_sessions').where({ idempotency_key: key }).first()) as
      Row | undefined;
    return r ? toSession(r) : null;
  }

  /** Open sessions of a purchase (one at a time: two QRs for one purchase would confuse the payer). */
  async openFor(paymentId: string): Promise<ReturnSessionRow[]> {
    const rows = (await this.db
      .knex('kaspi_qr_return_sessions')
      .where({ payment_id: paymentId })
      .whereIn('state', ['pending', 'identified'])) as Row[];
    return rows.map(toSession);
  }

  async due(now: Date, limit: number): Promise<ReturnSessionRow[]> {
    const rows = (await this.db
      .knex('kaspi_qr_return_sessions')
      .whereIn('state', ['pending', 'identified'])
      .where('next_poll_at', '<=', dbTime(now))
      .orderBy('next_poll_at')
      .limit(limit)) as Row[];
    return rows.map(toSession);
  }

  /** One poll of a due session is ours: a conditional UPDATE, so two runners never poll it twice. */
  async claim(id: string, now: Date, holdUntil: Date, claim: string): Promise<boolean> {
    const n = await this.db
      .knex('kaspi_qr_return_sessions')
      .where({ id })
      .whereIn('state', ['pending', 'identified'])
      .where('next_poll_at', '<=', dbTime(now))
      .update({ next_poll_at: dbTime(holdUntil), poll_claim: claim, polls: this.db.knex.raw('polls + 1') });
    return n === 1;
  }

  async save(
    id: string,
    claim: string | null,
    patch: Partial<Pick<ReturnSessionRow, 'state' | 'kaspiStatus' | 'nextPollAt' | 'refundId' | 'lastError'>>,
  ): Promise<boolean> {
    const u: Record<string, unknown> = { updated_at: dbTime() };
    if (patch.state !== undefined) u.state = patch.state;
    if (patch.kaspiStatus !== undefined) u.kaspi_status = patch.kaspiStatus?.slice(0, 64) ?? null;
    if (patch.nextPollAt !== undefined) u.next_poll_at = patch.nextPollAt ? dbTime(patch.nextPollAt) : null;
    if (patch.refundId !== undefined) u.refund_id = patch.refundId;
    if (patch.lastError !== undefined) u.last_error = patch.lastError?.slice(0, 255) ?? null;
    let q = this.db.knex('kaspi_qr_return_sessions').where({ id }).whereNotIn('state', FINAL);
    if (claim !== null) q = q.where({ poll_claim: claim });
    return (await q.update(u)) === 1;
  }
}

export interface SessionSettings {
  /** The public origin of the return page, no trailing slash. */
  publicBaseUrl: string;
  /** After the scan deadline, this long before a session is expired (one last status call first). */
  graceMs: number;
  /** An identified session whose return could not be made yet is tried again until this long after its deadline. */
  identifiedForMs: number;
}

export interface StartReturn {
  txnId: string;
  amount: Tiyn;
  reason: string;
  idempotencyKey?: string | null;
  createdBy: string;
  actor: Actor;
}
