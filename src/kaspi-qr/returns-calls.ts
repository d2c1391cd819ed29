import type { Tiyn } from '../shared/money.js';
import type { KaspiQrClient } from './kaspi-qr-client.js';
import { parseKaspiDate, readAmount, readId, readInt, WireError, type KaspiDate } from './kaspi-qr-wire.js';

/**
 * Typed wrappers of the return methods (notes §2.7, §2.8): payment/details, payment/return (r3
 * without the payer, r2 with the QrReturnId of a return session), return/create, return/status and
 * return/operations. Amounts come back as exact tiyn, ids as decimal strings.
 */

export interface PaymentDetails {
  qrPaymentId: string;
  totalAmount: Tiyn;
  availableReturnAmount: Tiyn;
  transactionDate: KaspiDate | null;
}

export interface ReturnSession {
  qrReturnId: string;
  qrToken: string;
  expireDate: KaspiDate | null;
  pollIntervalS: number | null;
  scanTimeoutS: number | null;
}

export interface CustomerOperation {
  qrPaymentId: string;
  amount: Tiyn;
  transactionDate: KaspiDate | null;
}

const obj = (v: unknown, what: string): Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${what}: Data missing`);
  return v as Record<string, unknown>;
};

/** payment/details (GET, retried): what the purchase was and what is still returnable at Kaspi. */
export async function paymentDetails(
  c: KaspiQrClient,
  p: { qrPaymentId: string; deviceToken: string },
): Promise<PaymentDetails> {
  const env = await c.call('paymentDetails', p);
  const d = obj(env.Data, 'payment/details');
  return {
    qrPaymentId: readId(d.QrPaymentId ?? p.qrPaymentId, 'QrPaymentId'),
    totalAmount: readAmount(d.TotalAmount, 'TotalAmount'),
    availableReturnAmount: readAmount(d.AvailableReturnAmount, 'AvailableReturnAmount'),
    transactionDate: parseKaspiDate(d.TransactionDate),
  };
}

/**
 * payment/return: money back to the payer. A POST that moves money: a lost answer is an unknown
 * outcome (KaspiQrTransportError, sent 'maybe'), never re-sent here; the caller checks first.
 * Returns Kaspi's ReturnOperationId (null when the answer had none).
 */
export async function paymentReturn(
  c: KaspiQrClient,
  p: { qrPaymentId: string; deviceToken: string; amount: Tiyn; qrReturnId?: string | null },
): Promise<string | null> {
  const env = p.qrReturnId
    ? await c.call('paymentReturnWithQr', p)
    : await c.call('paymentReturn', {
        qrPaymentId: p.qrPaymentId,
        deviceToken: p.deviceToken,
        amount: p.amount,
      });
  const d = env.Data;
  if (d === null || typeof d !== 'object' || Array.isArray(d)) return null;
  const id = (d as Record<string, unknown>).ReturnOperationId;
  return id === undefined || id === null ? null : readId(id, 'ReturnOperationId');
}

/** return/create (r2): a return session whose QR the payer scans. */
export async function createReturnSession(
  c: KaspiQrClient,
  p: { deviceToken: string; externalId?: string },
): Promise<ReturnSession> {
  const env = await c.call('returnCreate', p);
  const d = obj(env.Data, 'return/create');
  const opts = (d.QrReturnBehaviorOptions ?? {}) as Record<string, unknown>;
  if (typeof d.QrToken !== 'string' || d.QrToken === '') throw new WireError('return/create: no QrToken');
  return {
    qrReturnId: readId(d.QrReturnId, 'QrReturnId'),
    qrToken: d.QrToken,
    expireDate: parseKaspiDate(d.ExpireDate),
    pollIntervalS: readInt(opts.QrCodeScanEventPollingInterval),
    scanTimeoutS: readInt(opts.QrCodeScanWaitTimeout),
  };
}

/** return/status (GET): the session's status string, as Kaspi wrote it. */
export async function returnStatus(c: KaspiQrClient, qrReturnId: string): Promise<string> {
  const env = await c.call('returnStatus', { qrReturnId });
  const s = obj(env.Data, 'return/status').Status;
  if (typeof s !== 'string' || s === '') throw new WireError('return/status: no Status');
  return s;
}

/** return/operations (r2): the identified payer's last purchases (at most 10). */
export async function customerOperations(
  c: KaspiQrClient,
  p: { deviceToken: string; qrReturnId: string },
): Promise<CustomerOperation[]> {
  const env = await c.call('returnOperations', { ...p, maxResult: 10 });
  const list = Array.isArray(env.Data) ? env.Data : [];
  return list.map((x) => {
    const o = obj(x, 'return/operations');
    return {
      qrPaymentId: readId(o.QrPaymentId, 'QrPaymentId'),
      amount: readAmount(o.Amount, 'Amount'),
      transactionDate: parseKaspiDate(o.TransactionDate),
    };
  });
}
