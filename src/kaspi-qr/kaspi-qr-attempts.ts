import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { dbTime, type Db } from '../db/db.js';
import type { Tiyn } from '../shared/money.js';

/**
 * Create attempts (db/migrations/20261202110000_kaspi_qr_attempts.ts): written before `qr/create`
 * or `qr/create-link` leaves, so a lost answer is known and never re-sent blindly. States:
 * `sending` (the call may be on its way), `answered` (Kaspi's id read, the payment row not yet
 * committed), `created`, `refused` (Kaspi said no), `not_sent` (provably never left), `lost` (the
 * outcome is unknown: no QR or link was shown to anyone, so nothing is payable).
 */
export type AttemptState = 'sending' | 'answered' | 'created' | 'refused' | 'not_sent' | 'lost';

export interface Attempt {
  externalId: string;
  idemKey: string;
  kind: string;
  account: string;
  amount: Tiyn;
  state: AttemptState;
  qrPaymentId: string | null;
  paymentId: string | null;
  error: string | null;
  createdAt: string;
}

type Row = Record<string, unknown>;
const toAttempt = (r: Row): Attempt => ({
  externalId: String(r.external_id),
  idemKey: String(r.idem_key),
  kind: String(r.kind),
  account: String(r.account),
  amount: Number(r.amount),
  state: r.state as AttemptState,
  qrPaymentId: r.qr_payment_id == null ? null : String(r.qr_payment_id),
  paymentId: r.payment_id == null ? null : String(r.payment_id),
  error: r.error == null ? null : String(r.error),
  createdAt: String(r.created_at),
});

export class AttemptStore {
  constructor(private readonly db: Db) {}

  /** A new attempt in `sending`, committed before the call goes out; its id is the ExternalId. */
  async start(a: { idemKey: string; kind: string; account: string; amount: Tiyn }): Promise<string> {
    const externalId = randomBytes(16).toString('hex');
    await this.db.knex('kaspi_qr_attempts').insert({
      external_id: externalId,
      idem_key: a.idemKey,
      kind: a.kind,
      account: a.account,
      amount: a.amount,
      state: 'sending',
      created_at: dbTime(),
    });
    return externalId;
  }

  /** Moves an attempt on, only from one of `from` (a sweep and the request never both finish it). */
  async finish(
    externalId: string,
    from: readonly AttemptState[],
    to: AttemptState,
    more: { qrPaymentId?: string; paymentId?: string; error?: string } = {},
    trx?: Knex.Transaction,
  ): Promise<boolean> {
    const n = await (trx ?? this.db.knex)('kaspi_qr_attempts')
      .where({ external_id: externalId })
      .whereIn('state', from)
      .update({
        state: to,
        ...(more.qrPaymentId ? { qr_payment_id: more.qrPaymentId } : {}),
        ...(more.paymentId ? { payment_id: more.paymentId } : {}),
        ...(more.error ? { error: more.error.slice(0, 255) } : {}),
        ...(to === 'sending' || to === 'answered' ? {} : { finished_at: dbTime() }),
      });
    return n === 1;
  }

  async get(externalId: string): Promise<Attempt | null> {
    const r = (await this.db.knex('kaspi_qr_attempts').where({ external_id: externalId }).first()) as
      Row | undefined;
    return r ? toAttempt(r) : null;
  }

  /** The newest attempt of an Idempotency-Key. */
  async latestForKey(idemKey: string): Promise<Attempt | null> {
    const r = (await this.db
      .knex('kaspi_qr_attempts')
      .where({ idem_key: idemKey })
      .orderBy('created_at', 'desc')
      .first()) as Row | undefined;
    return r ? toAttempt(r) : null;
  }

  /** Attempts still `sending`/`answered` since before `olderThan`: their request died with its process. */
  async stale(olderThan: Date, limit = 50): Promise<Attempt[]> {
    const rows = (await this.db
      .knex('kaspi_qr_attempts')
      .whereIn('state', ['sending', 'answered'])
      .where('created_at', '<', dbTime(olderThan))
      .orderBy('created_at')
      .limit(limit)) as Row[];
    return rows.map(toAttempt);
  }

  async list(limit = 100): Promise<Attempt[]> {
    const rows = (await this.db
      .knex('kaspi_qr_attempts')
      .orderBy('created_at', 'desc')
      .limit(limit)) as Row[];
    return rows.map(toAttempt);
  }
}
