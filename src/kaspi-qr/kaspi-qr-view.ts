import QRCode from 'qrcode';
import { formatTenge } from '../shared/money.js';
import { currentDeadline } from './kaspi-qr-status.js';
import type { PurchaseWithPayment } from './kaspi-qr-store.js';

/** The credit beside a paid purchase, from its payment row. */
export function creditOf(p: PurchaseWithPayment): 'credited' | 'credit pending' | 'credit refused' | null {
  if (p.paymentState === 'credited') return 'credited';
  if (p.state !== 'paid') return null;
  if (p.paymentState === 'failed' || p.paymentState === 'declined' || p.flag === 'credit_refused')
    return 'credit refused';
  return 'credit pending';
}

/**
 * The deadline the payer sees: while waiting for the scan, the scan deadline (or Kaspi's
 * ExpireDate when that is earlier and later than the creation, i.e. sane); once scanned, the
 * confirm deadline.
 */
export function displayDeadline(p: PurchaseWithPayment): Date {
  const d = currentDeadline(p);
  if (!p.confirmDeadline && p.expireAt && p.expireAt > p.createdAt && p.expireAt < d) return p.expireAt;
  return d;
}

/** The QR as SVG, rendered here from the QrToken (no outside service). */
export async function qrSvg(token: string): Promise<string> {
  return QRCode.toString(token, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/** A purchase as the admin API and the CLI show it. */
export async function purchaseView(
  p: PurchaseWithPayment,
  payUrl: string,
  opts: { svg?: boolean } = {},
): Promise<Record<string, unknown>> {
  return {
    id: p.paymentId,
    state: p.state,
    credit: creditOf(p),
    kind: p.kind,
    account: p.account,
    amount: formatTenge(p.amount),
    amountMinor: p.amount,
    txnId: p.qrPaymentId,
    ...(p.kind === 'qr' ? { qrToken: p.qrToken } : { paymentLink: p.paymentLink }),
    ...(opts.svg && p.kind === 'qr' && p.qrToken ? { qrSvg: await qrSvg(p.qrToken) } : {}),
    payUrl,
    expiresAt: displayDeadline(p).toISOString(),
    paymentMethods: p.paymentMethods,
    kaspiStatus: p.kaspiStatus,
    createdAt: p.createdAt.toISOString(),
    scanDeadline: p.scanDeadline.toISOString(),
    confirmDeadline: p.confirmDeadline?.toISOString() ?? null,
    expiredAt: p.expiredAt?.toISOString() ?? null,
    kaspiExpireDate: p.expireDateRaw,
    pollIntervalSeconds: p.pollIntervalS,
    polls: p.polls,
    nextPollAt: p.nextPollAt?.toISOString() ?? null,
    lastError: p.lastError,
    flag: p.flag,
    comment: p.comment,
  };
}
