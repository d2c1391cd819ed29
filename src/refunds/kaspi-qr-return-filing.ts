import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { audit } from '../audit/audit-log.js';
import { dbTime } from '../db/db.js';
import type { Payment, PaymentStore } from '../payments/payment-store.js';
import { AppError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { KaspiQrRefundStore } from './kaspi-qr-refund-store.js';
import { returnablePurchase } from './kaspi-qr-return-common.js';
import type { QrReturnRequest } from './kaspi-qr-returns.js';
import type { RefundStore } from './refund-store.js';
import { QR_PAYMENT_ID, readRefundInput } from './refund-input.js';

/**
 * A Kaspi QR return filed in the refunds ledger (kaspi-qr-returns.ts calls these): the request
 * read, the local checks (credited, within what is left, no earlier return unsettled), and the
 * refund row with its kaspi_qr_refunds row and audit entry, in one transaction.
 */

interface FilingDeps {
  payments: PaymentStore;
  refunds: RefundStore;
  qrRefunds: KaspiQrRefundStore;
}

export function validateReturn(input: QrReturnRequest): Required<QrReturnRequest> {
  if (!input.actor?.id) throw new Error('a refund needs its actor for the audit log');
  const { reason, idempotencyKey: key } = readRefundInput(input, QR_PAYMENT_ID);
  return {
    txnId: input.txnId,
    amount: input.amount,
    reason,
    idempotencyKey: key,
    createdBy: input.createdBy,
    actor: input.actor,
    qrReturnId: input.qrReturnId ?? null,
  };
}

/** Credited, within what is left here, and no earlier return of it still unsettled. */
export async function localReturnCheck(
  trx: Knex.Transaction,
  deps: FilingDeps,
  req: Required<QrReturnRequest>,
): Promise<Payment> {
  const p = await returnablePurchase(trx, deps, req.txnId, req.amount);
  const open = (await deps.refunds.listForPayment(p.id, trx)).find(
    (r) => r.status === 'new' || r.status === 'fatal',
  );
  if (open)
    throw new AppError(
      'return_in_progress',
      `return ${open.id} of purchase ${req.txnId} is not settled yet (${open.status}): it must be settled first`,
      { httpStatus: 409, details: { refundId: open.id } },
    );
  return p;
}

export async function fileReturn(
  trx: Knex.Transaction,
  deps: FilingDeps,
  scheme: string,
  lockHoldMs: number,
  req: Required<QrReturnRequest>,
  available: Tiyn,
): Promise<string> {
  const p = await localReturnCheck(trx, deps, req);
  const id = await deps.refunds.insert(trx, {
    source: 'kaspi_qr',
    refundIdentificator: randomUUID(),
    idempotencyKey: req.idempotencyKey,
    paymentId: p.id,
    txnId: req.txnId,
    account: p.account,
    amount: req.amount,
    // payment/return takes tenge written from the tiyn (1500.5): the row keeps the tiyn.
    returnAmount: req.amount,
    amountUnit: 'tiyn',
    reason: req.reason,
    createdBy: req.createdBy,
    // If this process dies mid-call, the poller settles it once our lock has run out.
    nextPollAt: dbTime(new Date(Date.now() + lockHoldMs)),
  });
  await deps.qrRefunds.insert(trx, {
    refundId: id,
    qrPaymentId: req.txnId,
    scheme: scheme === 'r2' ? 'r2' : 'r3',
    qrReturnId: req.qrReturnId,
    availableBefore: available,
  });
  const held = await deps.refunds.heldAmount(trx, p.id);
  await audit.record(trx, {
    actor: req.actor,
    action: 'refund.filed',
    target: { type: 'refund', id },
    details: {
      source: 'kaspi_qr',
      txnId: req.txnId,
      paymentId: String(p.id),
      amount: formatTenge(req.amount),
      reason: req.reason,
      leftBefore: formatTenge(p.amount - held + req.amount),
      kaspiAvailable: formatTenge(available),
      ...(req.qrReturnId ? { qrReturnId: req.qrReturnId } : {}),
    },
  });
  return id;
}

/** The request log (channel kaspi_qr): what was asked of Kaspi for a return and what came back. Never the device token. */
