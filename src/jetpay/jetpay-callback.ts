import { isAppError, NotFoundError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import type { Tiyn } from '../shared/money.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { PaymentState } from '../payments/payment-store.js';
import type { Deposit, DepositFlag, DepositStore } from '../payments/deposit-store.js';
import { toJetpayAnswer } from './jetpay-errors.js';
import type { CallbackRequest } from './jetpay-request.js';

const log = getLogger('jetpay');

export const CURRENCY = 'KZT';

/**
 * 0: applied (or already applied, or set aside for a person): HTTP 200, JetPay stops. 500: in doubt
 * (HTTP 500): the Gate platform redelivers until it gets HTTP 200.
 */
export type CallbackAnswer = { code: 0 } | { code: 500; message: string };

const TIMED_OUT = Symbol('deadline');
const OK: CallbackAnswer = { code: 0 };
const IN_DOUBT: CallbackAnswer = {
  code: 500,
  message: 'Payment is being processed, repeat the callback later',
};

const FLAG_TEXT: Record<DepositFlag, string> = {
  success_after_decline:
    'JetPay reported success for a payment it had declined: nothing credited, a person must check',
  decline_after_success:
    'JetPay reported a decline for a payment already credited: nothing undone, a person must check',
  amount_mismatch: 'JetPay paid a different amount than check_deposit announced: credited what was paid',
  credit_refused:
    'JetPay took the money but the billing refused the credit: a person must credit or refund it',
  currency_mismatch:
    'JetPay reported success in a currency other than KZT: nothing credited, a person must check',
};

/**
 * JetPay's callback: credit once on success, mark a decline, flag what a person must see. Exactly
 * once is decided by the database: the credit goes through PaymentService's conditional state move,
 * so replays and concurrent repeats find the payment already moved on.
 */
export class JetpayCallbacks {
  constructor(
    private readonly deps: {
      payments: PaymentService;
      store: DepositStore;
      /** A callback is answered within this budget (PAY_DEADLINE_MS); past it, 500 and JetPay repeats. */
      deadlineMs: number;
    },
  ) {}

  /**
   * Applies a callback within the deadline (from `startedAt`, the request's arrival). What does not
   * fit, or fails on the way (billing or database down), is answered 500: JetPay sends the callback
   * again, and the conditional state moves make the repeat safe. Work cut by the deadline goes on:
   * if it commits, the repeat finds it applied; if not, nothing was written and the repeat does it.
   * 0 only once the stored state, read afresh, says the callback is applied.
   */
  async callback(req: CallbackRequest, startedAt?: bigint): Promise<CallbackAnswer> {
    const work = this.applyCallback(req).catch((e: unknown) => this.inDoubt(req.paymentId, e));
    const elapsedMs = startedAt === undefined ? 0 : Number(process.hrtime.bigint() - startedAt) / 1e6;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, this.deps.deadlineMs - elapsedMs));
    });
    const done = await Promise.race([work, deadline]).finally(() => clearTimeout(timer));
    if (done !== TIMED_OUT) return done;
    log.warn('jetpay callback not applied within the deadline: answered 500 so JetPay repeats', {
      paymentId: req.paymentId,
      deadlineMs: this.deps.deadlineMs,
    });
    work.then(
      (late) => {
        if (late.code === 0)
          log.info('jetpay callback applied after its 500 answer', { paymentId: req.paymentId });
      },
      () => undefined, // a refusal found late (unknown payment): the repeat gets it
    );
    return IN_DOUBT;
  }

  /**
   * A callback that failed on the way. Operational refusals (unknown payment) keep their answer; an
   * outage of the database is in doubt (WARN: it heals itself, and a callback that stays in doubt is
   * an ERROR of its own, see StuckCallbackWatch); anything else is a bug, logged whole, also 500.
   */
  private inDoubt(paymentId: string, e: unknown): CallbackAnswer {
    if (isAppError(e) && e.operational && toJetpayAnswer(e).code !== 500) throw e;
    if (isDatabaseOutage(e)) {
      log.warn('jetpay callback met a database failure: answered 500 so JetPay repeats', {
        paymentId,
        err: e,
      });
    } else {
      log.error('jetpay callback failed unexpectedly: answered 500 so JetPay repeats', { paymentId, err: e });
    }
    return IN_DOUBT;
  }

  private async applyCallback(req: CallbackRequest): Promise<CallbackAnswer> {
    const d = await this.deps.store.find(req.paymentId);
    if (!d) throw new NotFoundError('payment', 'Payment not found');
    if (req.status === 'success') return this.onSuccess(d, req);
    if (req.status === 'decline') return this.onDecline(d, req);
    log.warn('jetpay callback with a status we do not act on: nothing changed', {
      paymentId: d.txnId,
      status: req.status,
    });
    return OK;
  }

  private async onSuccess(d: Deposit, req: CallbackRequest): Promise<CallbackAnswer> {
    // A credit left in doubt by an earlier delivery (external billing): this repeat sends it again
    // at once, with the amount already recorded, rather than wait for the retry job's next turn.
    if (d.state === 'pending') return this.credit(d, req, ['pending']);
    if (d.state !== 'awaiting_callback') return this.settle(d.txnId, req, false);
    if (req.currency !== CURRENCY) {
      await this.flag(d, 'currency_mismatch', { currency: req.currency, amount: String(req.amount) });
      return OK;
    }
    const paid = req.amount as bigint;
    if (paid <= 0n || paid > BigInt(Number.MAX_SAFE_INTEGER)) {
      await this.flag(d, 'amount_mismatch', {
        announced: d.announcedAmount,
        paid: String(paid),
        note: 'not creditable',
      });
      return OK;
    }
    const amount = Number(paid);
    if (amount !== d.announcedAmount && (await this.deps.store.setPaidAmount(d.id, amount))) {
      await this.flag(d, 'amount_mismatch', { announced: d.announcedAmount, paid: amount });
    }
    return this.credit(d, req, ['awaiting_callback'], amount);
  }

  private async credit(
    d: Deposit,
    req: CallbackRequest,
    from: readonly PaymentState[],
    amount?: Tiyn,
  ): Promise<CallbackAnswer> {
    let created = false;
    try {
      created = (await this.deps.payments.creditStored(d.id, from, amount)).created;
    } catch (e) {
      // The credit's transaction did not commit (or its outcome is unknown): JetPay repeats, and
      // the conditional state move makes the repeat safe.
      log.warn('jetpay credit did not complete; answered 500 so JetPay repeats', {
        paymentId: d.txnId,
        err: e,
      });
      return IN_DOUBT;
    }
    return this.settle(d.txnId, req, created);
  }

  /** After a success callback: the stored state, read afresh, says what to answer. */
  private async settle(
    paymentId: string,
    req: CallbackRequest,
    createdHere: boolean,
  ): Promise<CallbackAnswer> {
    const now = (await this.deps.store.find(paymentId)) as Deposit;
    switch (now.state) {
      case 'credited':
        if (!createdHere) log.info('jetpay success callback repeated: already credited', { paymentId });
        return OK;
      case 'failed':
        await this.flag(now, 'credit_refused', {
          result: now.result,
          comment: now.comment,
          operationId: req.operation.id,
        });
        return OK;
      case 'declined':
        await this.flag(now, 'success_after_decline', {
          operationId: req.operation.id,
          amount: String(req.amount),
        });
        return OK;
      default:
        return IN_DOUBT;
    }
  }

  private async onDecline(d: Deposit, req: CallbackRequest): Promise<CallbackAnswer> {
    if (d.state === 'awaiting_callback') {
      const comment =
        `Declined by JetPay: ${[req.operation.code, req.operation.message].filter(Boolean).join(' ')}`.trim();
      if (await this.deps.store.decline(d.id, comment)) {
        log.info('jetpay payment declined', { paymentId: d.txnId, prvTxn: d.id, code: req.operation.code });
        return OK;
      }
    }
    const now = (await this.deps.store.find(d.txnId)) as Deposit;
    if (now.state === 'declined') {
      log.info('jetpay decline callback repeated: already declined', { paymentId: d.txnId });
      return OK;
    }
    await this.flag(now, 'decline_after_success', {
      state: now.state,
      operationId: req.operation.id,
      code: req.operation.code,
    });
    return OK;
  }

  /** Stores the flag and logs the ERROR once; a replay of the same anomaly logs nothing new. */
  private async flag(d: Deposit, flag: DepositFlag, details: Record<string, unknown>): Promise<void> {
    if (await this.deps.store.addFlag(d.id, flag)) {
      log.error(FLAG_TEXT[flag], {
        flag,
        paymentId: d.txnId,
        prvTxn: d.id,
        account: d.account,
        state: d.state,
        ...details,
      });
    } else {
      log.info('jetpay anomaly repeated: already flagged', { flag, paymentId: d.txnId });
    }
  }
}

/**
 * The database (or the connection to it) failed, as opposed to a bug: driver and pool errors carry
 * a code (ER_*, SQLITE_*, ECONNREFUSED, PROTOCOL_CONNECTION_LOST) or are knex's pool timeout.
 */
function isDatabaseOutage(e: unknown): boolean {
  const err = e as { code?: unknown; name?: unknown };
  if (err?.name === 'KnexTimeoutError') return true;
  return typeof err?.code === 'string' && /^(ER_|SQLITE_|E[A-Z]+$|PROTOCOL_)/.test(err.code);
}
