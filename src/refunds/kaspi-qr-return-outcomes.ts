import { dbTime } from '../db/db.js';
import type { KaspiQrApiError } from '../kaspi-qr/kaspi-qr-errors.js';
import { getLogger } from '../log/logger.js';
import { AppError } from '../shared/errors.js';
import type { KaspiQrRefundStore } from './kaspi-qr-refund-store.js';
import type { RefundLedger } from './kaspi-qr-returns.js';
import { MOVABLE_STATUSES, type Refund, type RefundStore } from './refund-store.js';

const log = getLogger('kaspi-qr-returns');
const MOVABLE = MOVABLE_STATUSES;

/** A refusal Kaspi gave to payment/return, as our API answers it (the refund is stored as declined). */
const KASPI_REFUSALS: Record<string, { status: number; text: string }> = {
  refund_exceeds_available: { status: 422, text: 'the amount is above what is left to return at Kaspi' },
  partial_refund_not_allowed: {
    status: 422,
    text: 'Kaspi does not allow a partial return of this purchase: return it in full',
  },
  refund_not_allowed_state: { status: 409, text: 'Kaspi says the purchase cannot be returned in its state' },
  device_mismatch: {
    status: 502,
    text: "the purchase belongs to another trade point than this device's: return it from a device of that trade point",
  },
};

const int32 = (n: number) => (n >= -2147483648 && n <= 2147483647 ? n : null);

/**
 * Where a Kaspi QR return ends (kaspi-qr-returns.ts decides which): success and the refusals
 * through the ledger (the billing's notice, the debit), `fatal` or a flag for a person, or `later`
 * for the poller.
 */
export class ReturnOutcomes {
  constructor(
    private readonly deps: { refunds: RefundStore; qrRefunds: KaspiQrRefundStore },
    private readonly ledger: RefundLedger | null,
    private readonly recheckMs: number,
  ) {}

  async succeed(refund: Refund, opId: string | null, note: string | null): Promise<void> {
    await this.deps.qrRefunds.update(refund.id, { returnOperationId: opId, note });
    await (this.ledger as RefundLedger).finish(refund, 'success', { lastProblem: null });
  }

  async declined(refund: Refund, e: KaspiQrApiError): Promise<AppError> {
    const r = KASPI_REFUSALS[e.kind] ?? { status: 502, text: 'Kaspi refused the return' };
    const text = `${r.text} (Kaspi ${e.kaspiCode}: ${e.kaspiMessage}); refund ${refund.id} is declined, nothing was returned`;
    await (this.ledger as RefundLedger).finish(refund, 'declined', {
      errorCode: int32(e.kaspiCode),
      errorMessage: `${e.kind}: ${e.kaspiCode} ${e.kaspiMessage}`,
    });
    if (r.status >= 500)
      log.error('kaspi qr return refused for a configuration reason: a person must fix it', {
        refundId: refund.id,
        kaspiCode: e.kaspiCode,
        kind: e.kind,
      });
    return new AppError(KASPI_REFUSALS[e.kind] ? e.kind : 'kaspi_error', text, {
      httpStatus: r.status,
      details: { refundId: refund.id, kaspiCode: e.kaspiCode },
    });
  }

  async fatal(refund: Refund, reason: string): Promise<void> {
    const moved = await this.deps.refunds.transition(undefined, refund.id, MOVABLE, {
      status: 'fatal',
      polled: true,
      nextPollAt: null,
      lastProblem: reason,
      flagReason: reason,
    });
    if (moved)
      log.error('kaspi qr return needs a person', { refundId: refund.id, txnId: refund.txnId, reason });
  }

  async flag(refund: Refund, reason: string): Promise<void> {
    await this.deps.refunds.transition(undefined, refund.id, MOVABLE, {
      polled: true,
      nextPollAt: null,
      lastProblem: reason,
      flagReason: reason,
    });
    log.error('kaspi qr return needs a person', { refundId: refund.id, reason });
  }

  /** Not settled yet: the poller looks again after `recheckMs`. */
  async later(refund: Refund, problem: string): Promise<void> {
    log.warn('kaspi qr return not settled yet: will look again', { refundId: refund.id, problem });
    await this.deps.refunds.transition(undefined, refund.id, MOVABLE, {
      polled: true,
      lastProblem: problem,
      nextPollAt: dbTime(new Date(Date.now() + this.recheckMs)),
    });
  }
}
