import { randomBytes } from 'node:crypto';
import { audit } from '../audit/audit-log.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import type { RequestLog } from '../http/request-log.js';
import {
  KaspiQrApiError,
  KaspiQrTransportError,
  NotSupportedBySchemeError,
} from '../kaspi-qr/kaspi-qr-errors.js';
import {
  createReturnSession,
  customerOperations,
  returnStatus,
  type ReturnSession,
} from '../kaspi-qr/returns-calls.js';
import { getLogger } from '../log/logger.js';
import type { PaymentStore } from '../payments/payment-store.js';
import { AppError, NotFoundError } from '../shared/errors.js';
import { formatTenge } from '../shared/money.js';
import type { KaspiQrPort, KaspiQrReturns } from './kaspi-qr-returns.js';
import type { RefundStore } from './refund-store.js';
import { recordQrCall, returnablePurchase, sameRequest } from './kaspi-qr-return-common.js';
import {
  ReturnSessionStore,
  type ReturnSessionRow,
  type SessionSettings,
  type SessionState,
  type StartReturn,
} from './kaspi-qr-return-session-store.js';

// The wiring, the routes, the console and the metrics import them from here, as before the split.
export {
  ReturnSessionStore,
  SESSION_STATES,
  type ReturnSessionRow,
  type SessionSettings,
  type SessionState,
  type StartReturn,
} from './kaspi-qr-return-session-store.js';
import { QR_PAYMENT_ID, readRefundInput } from './refund-input.js';

const log = getLogger('kaspi-qr-returns');

/**
 * r2 return sessions (shared/spec/kaspi-qr.md "Returns", notes §2.7, §3.4, D-17): the payer must be
 * there. `POST /api/qr/returns` checks the purchase (credited, within what is left), asks Kaspi for a
 * return QR (return/create) and answers the page that shows it (`GET /return/:token`). The engine
 * (one runner, the scheduler's lease) polls return/status at the session's
 * QrCodeScanEventPollingInterval until CustomerIdentityObtained or the scan timeout; then
 * return/operations must list the purchase (else `wrong_customer`: whoever scanned is not the
 * payer, nothing returned), and the return goes through the ledger (KaspiQrReturns: the same lock,
 * payment/details, payment/return with the QrReturnId, the same lost-answer check). A session that
 * times out returns nothing.
 */

const DEFAULT_POLL_S = 5;
const DEFAULT_SCAN_TIMEOUT_S = 180;

export class ReturnSessions {
  constructor(
    private readonly deps: {
      db: Db;
      port: KaspiQrPort;
      store: ReturnSessionStore;
      returns: KaspiQrReturns;
      refunds: RefundStore;
      payments: PaymentStore;
      requestLog: RequestLog;
    },
    private readonly settings: SessionSettings,
  ) {}

  returnUrl(s: { token: string }): string {
    return `${this.settings.publicBaseUrl}/return/${s.token}`;
  }

  get(id: string): Promise<ReturnSessionRow> {
    return this.deps.store.byId(id).then((r) => {
      if (!r) throw new NotFoundError('return session');
      return r;
    });
  }

  byToken(token: string): Promise<ReturnSessionRow | null> {
    return this.deps.store.byToken(token);
  }

  /** POST /api/qr/returns: checks, return/create, the session stored; `created: false` for a repeat of the key. */
  async start(input: StartReturn): Promise<{ session: ReturnSessionRow; created: boolean }> {
    const scheme = this.deps.port.client.scheme;
    if (scheme !== 'r2')
      throw new NotSupportedBySchemeError(
        'return/create',
        scheme,
        scheme === 'r3'
          ? 'a return without the payer: POST /api/refunds with "source": "kaspi_qr"'
          : 'refund it in the Kaspi Pay app, section Возврат',
      );
    const { reason, idempotencyKey: key } = readRefundInput(input, QR_PAYMENT_ID);
    if (key) {
      const earlier = await this.deps.store.byKey(key);
      if (earlier)
        return {
          session: sameRequest(earlier, { txnId: input.txnId, amount: input.amount, reason }, 'return'),
          created: false,
        };
    }

    // The same checks as the ledger's, before Kaspi is asked: refused here, nothing stored.
    const p = await this.deps.db.knex.transaction((trx) =>
      returnablePurchase(trx, this.deps, input.txnId, input.amount),
    );
    const open = await this.deps.store.openFor(p.id);
    if (open.length > 0)
      throw new AppError(
        'return_in_progress',
        `return session ${open[0]?.id} of purchase ${input.txnId} is still open: finish it or let it time out first`,
        { httpStatus: 409 },
      );

    const deviceToken = await this.deps.port.deviceToken();
    const token = randomBytes(16).toString('hex');
    let made: ReturnSession;
    const started = Date.now();
    try {
      // A lost answer leaves a return QR nobody saw: nothing can be returned through it. Asked again, it is a new session.
      made = await createReturnSession(this.deps.port.client, { deviceToken, externalId: token });
      this.record('return/create', input.txnId, started, null, { QrReturnId: made.qrReturnId });
    } catch (e) {
      this.record('return/create', input.txnId, started, e);
      if (e instanceof KaspiQrTransportError && e.sent === 'maybe')
        throw new AppError(
          'kaspi_qr_outcome_unknown',
          `Kaspi's answer to return/create was lost (${e.reason}): no return QR was shown, nothing can be returned through it; ask again`,
          { httpStatus: 502 },
        );
      throw e;
    }
    const now = new Date();
    const interval = clamp(made.pollIntervalS ?? DEFAULT_POLL_S, 1, 60);
    const timeout = made.scanTimeoutS && made.scanTimeoutS > 0 ? made.scanTimeoutS : DEFAULT_SCAN_TIMEOUT_S;
    let id: string;
    try {
      id = await this.deps.db.knex.transaction(async (trx) => {
        const [sid] = await trx('kaspi_qr_return_sessions').insert({
          token,
          idempotency_key: key,
          qr_return_id: made.qrReturnId,
          qr_token: made.qrToken.slice(0, 100),
          expire_date_raw: made.expireDate?.raw ?? null,
          payment_id: p.id,
          txn_id: input.txnId,
          amount: input.amount,
          reason,
          created_by: input.createdBy.slice(0, 64),
          state: 'pending',
          kaspi_status: 'QrTokenCreated',
          poll_interval_s: interval,
          deadline: dbTime(new Date(now.getTime() + timeout * 1000)),
          next_poll_at: dbTime(new Date(now.getTime() + interval * 1000)),
          created_at: dbTime(now),
          updated_at: dbTime(now),
        });
        await audit.record(trx, {
          actor: input.actor,
          action: 'qr.return_started',
          target: { type: 'payment', id: String(p.id) },
          details: {
            source: 'kaspi_qr',
            returnSession: String(sid),
            qrReturnId: made.qrReturnId,
            txnId: input.txnId,
            amount: formatTenge(input.amount),
            reason,
          },
        });
        return String(sid);
      });
    } catch (e) {
      if (key && isUniqueViolation(e)) {
        const earlier = await this.deps.store.byKey(key);
        if (earlier)
          return {
            session: sameRequest(earlier, { txnId: input.txnId, amount: input.amount, reason }, 'return'),
            created: false,
          };
      }
      throw e;
    }
    log.info('kaspi qr return session started', {
      sessionId: id,
      txnId: input.txnId,
      qrReturnId: made.qrReturnId,
    });
    return { session: (await this.deps.store.byId(id)) as ReturnSessionRow, created: true };
  }

  /** One engine tick: every due session polled once, at its own interval. */
  async run(opts: { now?: Date; signal?: AbortSignal; limit?: number } = {}): Promise<number> {
    const now = opts.now ?? new Date();
    const due = await this.deps.store.due(now, opts.limit ?? 50);
    let n = 0;
    for (const sess of due) {
      if (opts.signal?.aborted) break;
      const claim = randomBytes(8).toString('hex');
      // Held for the length of one conversation; a runner that dies leaves it due again then.
      if (!(await this.deps.store.claim(sess.id, now, new Date(now.getTime() + 120_000), claim))) continue;
      n += 1;
      try {
        await this.poll(sess, claim, now);
      } catch (e) {
        log.error('kaspi qr return session poll failed', { sessionId: sess.id, err: e });
        await this.deps.store.save(sess.id, claim, {
          lastError: e instanceof Error ? e.message : String(e),
          nextPollAt: new Date(now.getTime() + sess.pollIntervalS * 1000),
        });
      }
    }
    return n;
  }

  private async poll(sess: ReturnSessionRow, claim: string, now: Date): Promise<void> {
    const next = new Date(now.getTime() + sess.pollIntervalS * 1000);
    if (sess.state === 'identified') return this.returnIt(sess, claim, now);
    const pastDeadline = now.getTime() > sess.deadline.getTime() + this.settings.graceMs;
    let status: string;
    const started = Date.now();
    try {
      status = await returnStatus(this.deps.port.client, sess.qrReturnId);
      this.record('return/status', sess.txnId, started, null, { Status: status });
    } catch (e) {
      this.record('return/status', sess.txnId, started, e);
      if (!(e instanceof KaspiQrApiError) && !(e instanceof KaspiQrTransportError)) throw e;
      if (pastDeadline) return this.expire(sess, claim, `no status after the deadline: ${e.message}`);
      await this.deps.store.save(sess.id, claim, {
        lastError: e.message,
        nextPollAt: new Date(now.getTime() + Math.min(sess.pollIntervalS * 2000, 30_000)),
      });
      return;
    }
    if (status === 'CustomerIdentityObtained') {
      await this.deps.store.save(sess.id, claim, { state: 'identified', kaspiStatus: status });
      return this.returnIt({ ...sess, state: 'identified', kaspiStatus: status }, claim, now);
    }
    if (status === 'Error') {
      await this.deps.store.save(sess.id, claim, { state: 'failed', kaspiStatus: status, nextPollAt: null });
      log.info('kaspi qr return session failed at Kaspi: nothing returned', { sessionId: sess.id });
      return;
    }
    if (status !== 'QrTokenCreated' && sess.kaspiStatus !== status)
      log.error('kaspi qr return session: a status we do not know, treated as not final', {
        sessionId: sess.id,
        status,
      });
    if (pastDeadline) return this.expire(sess, claim, 'the payer did not scan the return QR in time');
    await this.deps.store.save(sess.id, claim, { kaspiStatus: status, nextPollAt: next });
  }

  private async expire(sess: ReturnSessionRow, claim: string, why: string): Promise<void> {
    if (await this.deps.store.save(sess.id, claim, { state: 'expired', nextPollAt: null, lastError: why }))
      log.info('kaspi qr return session expired: nothing returned', { sessionId: sess.id, why });
  }

  /** The payer scanned: the purchase must be theirs, then the ledger returns it with the QrReturnId. */
  private async returnIt(sess: ReturnSessionRow, claim: string, now: Date): Promise<void> {
    const deviceToken = await this.deps.port.deviceToken();
    const started = Date.now();
    let listed: string[];
    try {
      const ops = await customerOperations(this.deps.port.client, {
        deviceToken,
        qrReturnId: sess.qrReturnId,
      });
      listed = ops.map((o) => o.qrPaymentId);
      this.record('return/operations', sess.txnId, started, null, { QrPaymentIds: listed });
    } catch (e) {
      this.record('return/operations', sess.txnId, started, e);
      if (!(e instanceof KaspiQrApiError) && !(e instanceof KaspiQrTransportError)) throw e;
      return this.retryIdentified(sess, claim, now, e.message);
    }
    if (!listed.includes(sess.txnId)) {
      await this.deps.store.save(sess.id, claim, {
        state: 'wrong_customer',
        nextPollAt: null,
        lastError: 'whoever scanned the return QR did not make this purchase: nothing returned',
      });
      log.warn('kaspi qr return session: wrong customer scanned, nothing returned', { sessionId: sess.id });
      return;
    }
    try {
      const { refund } = await this.deps.returns.create({
        txnId: sess.txnId,
        amount: sess.amount,
        reason: sess.reason,
        // A crash between the return and the session's update: the next tick gets the same refund back.
        idempotencyKey: `qr-return-session:${sess.id}`,
        createdBy: sess.createdBy || 'qr-return-session',
        actor: { id: sess.createdBy || 'qr-return-session', ip: null },
        qrReturnId: sess.qrReturnId,
      });
      // `new`: the outcome is being settled (the poller reads payment/details); asked again, the key answers that refund.
      const state: SessionState =
        refund.status === 'success' ? 'returned' : refund.status === 'new' ? 'identified' : 'failed';
      await this.deps.store.save(sess.id, claim, {
        state,
        refundId: refund.id,
        nextPollAt: state === 'identified' ? new Date(now.getTime() + 60_000) : null,
        lastError: refund.status === 'success' ? null : `refund ${refund.id} is ${refund.status}`,
      });
      log.info('kaspi qr return session: return made', {
        sessionId: sess.id,
        refundId: refund.id,
        status: refund.status,
      });
    } catch (e) {
      if (e instanceof AppError && e.operational && !(e instanceof KaspiQrTransportError)) {
        const refundId = typeof e.details?.refundId === 'string' ? e.details.refundId : null;
        await this.deps.store.save(sess.id, claim, {
          state: 'failed',
          nextPollAt: null,
          refundId,
          lastError: `${e.code}: ${e.message}`,
        });
        log.info('kaspi qr return session: the return was refused', { sessionId: sess.id, code: e.code });
        return;
      }
      if (e instanceof KaspiQrTransportError) return this.retryIdentified(sess, claim, now, e.message);
      throw e;
    }
  }

  private async retryIdentified(
    sess: ReturnSessionRow,
    claim: string,
    now: Date,
    why: string,
  ): Promise<void> {
    if (now.getTime() > sess.deadline.getTime() + this.settings.identifiedForMs) {
      await this.deps.store.save(sess.id, claim, { state: 'failed', nextPollAt: null, lastError: why });
      log.error(
        'kaspi qr return session: the payer was identified but the return could not be made: a person must look',
        {
          sessionId: sess.id,
          why,
        },
      );
      return;
    }
    await this.deps.store.save(sess.id, claim, {
      lastError: why,
      nextPollAt: new Date(now.getTime() + Math.min(sess.pollIntervalS * 2000, 30_000)),
    });
  }

  private record(
    command: string,
    txnId: string,
    started: number,
    err: unknown,
    answer?: Record<string, unknown>,
  ): void {
    recordQrCall(this.deps.requestLog, { command, txnId, started, err, answer });
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
