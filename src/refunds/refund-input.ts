import { ValidationError } from '../shared/errors.js';
import type { Tiyn } from '../shared/money.js';

/** What every refund request carries, whichever way it goes to Kaspi (Refund API, QR return, return session). */
export interface RefundInputFields {
  txnId: unknown;
  amount: unknown;
  reason?: unknown;
  idempotencyKey?: string | null;
}

/** How the channel's payment number looks: Kaspi's txn_id is up to 18 digits, a QrPaymentId up to 19. */
export interface TxnIdRule {
  pattern: RegExp;
  message: string;
}

export const KASPI_TXN_ID: TxnIdRule = {
  pattern: /^\d{1,18}$/,
  message: 'txnId must be the Kaspi txn_id: 1 to 18 digits, as a string',
};
export const QR_PAYMENT_ID: TxnIdRule = {
  pattern: /^\d{1,19}$/,
  message: 'txnId must be the QrPaymentId: 1 to 19 digits, as a string',
};

/** The checks every refund request passes before anything is read or stored (one copy, three callers). */
export function readRefundInput(
  input: RefundInputFields,
  txnId: TxnIdRule,
): { txnId: string; amount: Tiyn; reason: string; idempotencyKey: string | null } {
  if (typeof input.txnId !== 'string' || !txnId.pattern.test(input.txnId))
    throw new ValidationError(txnId.message);
  if (!Number.isSafeInteger(input.amount) || (input.amount as number) <= 0)
    throw new ValidationError('amount must be above 0.00');
  const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
  if (reason.length < 1 || reason.length > 500)
    throw new ValidationError('reason must be 1 to 500 characters');
  const key = input.idempotencyKey ?? null;
  if (key !== null && !/^[\x21-\x7e]{1,100}$/.test(key))
    throw new ValidationError('idempotency key must be 1 to 100 printable ASCII characters');
  return { txnId: input.txnId, amount: input.amount as Tiyn, reason, idempotencyKey: key };
}
