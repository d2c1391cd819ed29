import type { Tiyn } from '../shared/money.js';
import type { KaspiQrClient } from './kaspi-qr-client.js';
import { parseKaspiDate, readId, readInt, WireError, type KaspiDate } from './kaspi-qr-wire.js';

/**
 * Typed wrappers of the methods this module uses (trade points, devices, QR and link purchases,
 * status, ping, test emulation), reading `Data` field by field as the guide names them.
 */

export interface TradePoint {
  tradePointId: string;
  name: string;
}

export interface CreatedPurchase {
  kind: 'qr' | 'link';
  qrPaymentId: string;
  qrToken: string | null;
  paymentLink: string | null;
  expireDate: KaspiDate | null;
  paymentMethods: string[];
  pollIntervalS: number | null;
  scanTimeoutS: number | null;
  confirmTimeoutS: number | null;
}

const obj = (v: unknown, what: string): Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${what}: Data missing`);
  return v as Record<string, unknown>;
};

export async function tradePoints(c: KaspiQrClient): Promise<TradePoint[]> {
  const env = await c.call('tradePoints');
  const list = Array.isArray(env.Data) ? env.Data : [];
  return list.map((t) => {
    const o = obj(t, 'tradepoints');
    return { tradePointId: readId(o.TradePointId, 'TradePointId'), name: String(o.TradePointName ?? '') };
  });
}

export async function registerDevice(
  c: KaspiQrClient,
  deviceId: string,
  tradePointId: string,
): Promise<string> {
  const env = await c.call('deviceRegister', { deviceId, tradePointId });
  const token = obj(env.Data, 'device/register').DeviceToken;
  if (typeof token !== 'string' || token === '') throw new WireError('device/register: no DeviceToken');
  return token;
}

export async function deleteDevice(c: KaspiQrClient, deviceToken: string): Promise<void> {
  await c.call('deviceDelete', { deviceToken });
}

export async function ping(c: KaspiQrClient): Promise<void> {
  await c.call('healthPing');
}

/** qr/create or qr/create-link: a purchase at Kaspi, with its behaviour options. */
export async function createPurchase(
  c: KaspiQrClient,
  kind: 'qr' | 'link',
  p: { deviceToken: string; amount: Tiyn; externalId: string },
): Promise<CreatedPurchase> {
  const env = await c.call(kind === 'qr' ? 'qrCreate' : 'linkCreate', p);
  const d = obj(env.Data, kind === 'qr' ? 'qr/create' : 'qr/create-link');
  const opts = (d.QrPaymentBehaviorOptions ?? d.PaymentBehaviorOptions ?? {}) as Record<string, unknown>;
  const methods = Array.isArray(d.PaymentMethods)
    ? d.PaymentMethods.filter((m) => typeof m === 'string')
    : [];
  const qrToken = typeof d.QrToken === 'string' ? d.QrToken : null;
  const link = typeof d.PaymentLink === 'string' ? d.PaymentLink : null;
  if (kind === 'qr' && !qrToken) throw new WireError('qr/create: no QrToken');
  if (kind === 'link' && !link) throw new WireError('qr/create-link: no PaymentLink');
  return {
    kind,
    // A link's id is PaymentId; the same id space as QrPaymentId (notes D-14).
    qrPaymentId: readId(kind === 'qr' ? d.QrPaymentId : (d.PaymentId ?? d.QrPaymentId), 'QrPaymentId'),
    qrToken,
    paymentLink: link,
    expireDate: parseKaspiDate(d.ExpireDate),
    paymentMethods: methods as string[],
    pollIntervalS: readInt(opts.StatusPollingInterval),
    // Links: LinkActivationWaitTimeout; the guide's prose names QrCodeScanWaitTimeout, so it is the fallback.
    scanTimeoutS: readInt(
      kind === 'link'
        ? (opts.LinkActivationWaitTimeout ?? opts.QrCodeScanWaitTimeout)
        : opts.QrCodeScanWaitTimeout,
    ),
    confirmTimeoutS: readInt(opts.PaymentConfirmationTimeout),
  };
}

/** payment/status: Kaspi's status string, as Kaspi wrote it. */
export async function purchaseStatus(c: KaspiQrClient, qrPaymentId: string): Promise<string> {
  const env = await c.call('paymentStatus', { qrPaymentId });
  const s = obj(env.Data, 'payment/status').Status;
  if (typeof s !== 'string' || s === '') throw new WireError('payment/status: no Status');
  return s;
}

export type TestAction = 'scan' | 'confirm' | 'scanerror' | 'confirmerror';

export async function testEmulate(
  c: KaspiQrClient,
  action: TestAction,
  qrPaymentId: string,
): Promise<string> {
  const method = (
    {
      scan: 'testScan',
      confirm: 'testConfirm',
      scanerror: 'testScanError',
      confirmerror: 'testConfirmError',
    } as const
  )[action];
  const env = await c.call(method, { qrPaymentId });
  return env.Message ?? 'OK';
}
