import type { Knex } from 'knex';
import type { RequestLog } from '../http/request-log.js';
import { KaspiQrApiError, KaspiQrTransportError } from '../kaspi-qr/kaspi-qr-errors.js';
import type { Payment, PaymentStore } from '../payments/payment-store.js';
import { AppError, ConflictError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { RefundStore } from './refund-store.js';

/** What the returns (kaspi-qr-returns.ts) and the r2 return sessions (kaspi-qr-return-sessions.ts) share. */

const GETS = ['payment/details', 'return/status'];

/**
 * One call to Kaspi for a return in the request log (channel kaspi_qr): what was asked, Kaspi's
 * code (or transport_<reason>), what came back. Never the device token.
 */
export function recordQrCall(
  requestLog: RequestLog,
  c: {
    command: string;
    txnId: string;
    started: number;
    err: unknown;
    request?: string | null;
    answer?: Record<string, unknown>;
  },
): void {
  const { err } = c;
  requestLog.record({
    channel: 'kaspi_qr',
    method: GETS.includes(c.command) ? 'GET' : 'POST',
    command: c.command,
    txnId: c.txnId,
    ...(c.request ? { request: c.request } : {}),
    result:
      err instanceof KaspiQrApiError
        ? err.kaspiCode
        : err instanceof KaspiQrTransportError
          ? `transport_${err.reason}`
          : err
            ? 'error'
            : 0,
    comment: err ? (err instanceof Error ? err.message : String(err)) : null,
    response: c.answer ? JSON.stringify(c.answer) : null,
    durationMs: Date.now() - c.started,
  });
}

/**
 * A purchase a return may be asked for, in the caller's transaction: a kaspi_qr payment, credited,
 * and the amount within what is left after the returns held against it. Refused here, nothing stored.
 */
export async function returnablePurchase(
  trx: Knex.Transaction,
  deps: { payments: PaymentStore; refunds: RefundStore },
  txnId: string,
  amount: Tiyn,
): Promise<Payment> {
  const p = await deps.payments.findForRefund(trx, 'kaspi_qr', txnId);
  if (!p)
    throw new AppError('payment_not_found', `no Kaspi QR purchase with QrPaymentId ${txnId}`, {
      httpStatus: 404,
    });
  if (p.state !== 'credited')
    throw new AppError(
      'payment_not_credited',
      `purchase ${txnId} is ${p.state}, not credited: nothing to return`,
      {
        httpStatus: 409,
      },
    );
  const held = await deps.refunds.heldAmount(trx, p.id);
  if (held + amount > p.amount)
    throw new AppError(
      'refund_exceeds_payment',
      `refund ${formatTenge(amount)} is above what is left of purchase ${txnId}: ${formatTenge(Math.max(0, p.amount - held))} of ${formatTenge(p.amount)}`,
      { httpStatus: 422, details: { remaining: formatTenge(Math.max(0, p.amount - held)) } },
    );
  return p;
}

/** A repeat of an Idempotency-Key: the same request answers the earlier one; another one is 409. */
export function sameRequest<T extends { id: string; txnId: string; amount: Tiyn; reason: string }>(
  earlier: T,
  req: { txnId: string; amount: Tiyn; reason: string },
  what: 'refund' | 'return',
): T {
  if (earlier.txnId === req.txnId && earlier.amount === req.amount && earlier.reason === req.reason)
    return earlier;
  throw new ConflictError(`idempotency key already used for another ${what}`, {
    [what === 'refund' ? 'refundId' : 'sessionId']: earlier.id,
  });
}
