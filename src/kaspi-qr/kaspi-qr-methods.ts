import { wireAmount, wireId } from './kaspi-qr-wire.js';

/**
 * Every method of the guide (notes §1.3) in one table: verb, path, the schemes that have it (the
 * capability matrix), where r3's OrganizationBin goes, and how the body is built. A method the
 * configured scheme lacks is refused by the client before any network call. New methods (returns,
 * remote invoices) slot in as rows; their typed wrappers live beside their feature.
 */

export type Scheme = 'r1' | 'r2' | 'r3';

export type Input = Record<string, unknown>;

export interface MethodSpec {
  verb: 'GET' | 'POST';
  schemes: readonly Scheme[];
  /** Path after the base URL, built from the input (ids URL-encoded). */
  path(input: Input, ctx: { scheme: Scheme; bin: string | undefined }): string;
  /** JSON body (POST), before r3's OrganizationBin is added. */
  body?(input: Input): Record<string, unknown>;
  /** r3 sends OrganizationBin in the body of this method. */
  binInBody?: boolean;
  /** What to do instead, for the 409 when the scheme lacks it. */
  instead: string;
  /** Kaspi's test host emulation: only with KASPI_QR_TEST_MODE. */
  testOnly?: boolean;
}

const ALL: readonly Scheme[] = ['r1', 'r2', 'r3'];
const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || v === '') throw new Error(`${name} is required`);
  return v;
};
const id = (v: unknown, name: string) => wireId(str(v, name));
const enc = (v: unknown, name: string) => encodeURIComponent(str(v, name));

/** The purchase body of qr/create and qr/create-link. DeviceToken is a JSON string everywhere (a GUID). */
const purchaseBody = (i: Input) => ({
  DeviceToken: str(i.deviceToken, 'deviceToken'),
  Amount: wireAmount(i.amount as number),
  ...(i.externalId ? { ExternalId: str(i.externalId, 'externalId') } : {}),
});

const testEmulation = (action: string): MethodSpec => ({
  verb: 'POST',
  schemes: ALL,
  path: () => `/test/payment/${action}`,
  // The guide writes these with a lowercase key and the id as a string.
  body: (i) => ({ qrPaymentId: str(i.qrPaymentId, 'qrPaymentId') }),
  instead: 'only on the test host',
  testOnly: true,
});

export const METHODS = {
  tradePoints: {
    verb: 'GET',
    schemes: ALL,
    path: (_i, ctx) =>
      ctx.scheme === 'r3'
        ? `/partner/tradepoints/${enc(ctx.bin, 'organizationBin')}`
        : '/partner/tradepoints',
    instead: '',
  },
  deviceRegister: {
    verb: 'POST',
    schemes: ALL,
    path: () => '/device/register',
    body: (i) => ({
      DeviceId: str(i.deviceId, 'deviceId'),
      TradePointId: id(i.tradePointId, 'tradePointId'),
    }),
    binInBody: true,
    instead: '',
  },
  deviceDelete: {
    verb: 'POST',
    schemes: ALL,
    path: () => '/device/delete',
    body: (i) => ({ DeviceToken: str(i.deviceToken, 'deviceToken') }),
    binInBody: true,
    instead: '',
  },
  qrCreate: {
    verb: 'POST',
    schemes: ALL,
    path: () => '/qr/create',
    body: purchaseBody,
    binInBody: true,
    instead: '',
  },
  linkCreate: {
    verb: 'POST',
    schemes: ALL,
    path: () => '/qr/create-link',
    body: purchaseBody,
    binInBody: true,
    instead: '',
  },
  paymentStatus: {
    verb: 'GET',
    schemes: ALL,
    path: (i) => `/payment/status/${enc(i.qrPaymentId, 'qrPaymentId')}`,
    instead: '',
  },
  returnCreate: {
    verb: 'POST',
    schemes: ['r2'],
    path: () => '/return/create',
    body: (i) => ({
      DeviceToken: str(i.deviceToken, 'deviceToken'),
      ...(i.externalId ? { ExternalId: str(i.externalId, 'externalId') } : {}),
    }),
    instead: 'a return with the payer present (return QR) exists only in scheme r2',
  },
  returnStatus: {
    verb: 'GET',
    schemes: ['r2'],
    path: (i) => `/return/status/${enc(i.qrReturnId, 'qrReturnId')}`,
    instead: 'a return with the payer present (return QR) exists only in scheme r2',
  },
  returnOperations: {
    verb: 'POST',
    schemes: ['r2'],
    path: () => '/return/operations',
    body: (i) => ({
      DeviceToken: str(i.deviceToken, 'deviceToken'),
      QrReturnId: id(i.qrReturnId, 'qrReturnId'),
      MaxResult: Math.min(10, Math.max(1, Number(i.maxResult ?? 10))),
    }),
    instead: 'a return with the payer present (return QR) exists only in scheme r2',
  },
  paymentDetails: {
    verb: 'GET',
    schemes: ['r2', 'r3'],
    // No OrganizationBin here, even in r3 (guide §4.4).
    path: (i) =>
      `/payment/details?QrPaymentId=${enc(i.qrPaymentId, 'qrPaymentId')}&DeviceToken=${enc(i.deviceToken, 'deviceToken')}`,
    instead: 'payment details are not available in scheme r1',
  },
  /** r2: the refund with the payer present, after a return session. */
  paymentReturnWithQr: {
    verb: 'POST',
    schemes: ['r2'],
    path: () => '/payment/return',
    body: (i) => ({
      DeviceToken: str(i.deviceToken, 'deviceToken'),
      QrPaymentId: id(i.qrPaymentId, 'qrPaymentId'),
      QrReturnId: id(i.qrReturnId, 'qrReturnId'),
      Amount: wireAmount(i.amount as number),
    }),
    instead: 'use POST /api/qr/returns (the payer scans a return QR) in scheme r2',
  },
  /** r3: the refund without the payer. */
  paymentReturn: {
    verb: 'POST',
    schemes: ['r3'],
    path: () => '/payment/return',
    body: (i) => ({
      DeviceToken: str(i.deviceToken, 'deviceToken'),
      QrPaymentId: id(i.qrPaymentId, 'qrPaymentId'),
      Amount: wireAmount(i.amount as number),
    }),
    binInBody: true,
    instead:
      'refund it in the Kaspi Pay app, section Возврат (r1), or with a return QR (r2: POST /api/qr/returns)',
  },
  clientInfo: {
    verb: 'GET',
    schemes: ['r3'],
    path: (i) =>
      `/remote/client-info?phoneNumber=${enc(i.phone, 'phone')}&deviceToken=${enc(i.deviceToken, 'deviceToken')}`,
    instead: 'remote invoices by phone exist only in scheme r3',
  },
  remoteCreate: {
    verb: 'POST',
    schemes: ['r3'],
    path: () => '/remote/create',
    body: (i) => ({
      Amount: wireAmount(i.amount as number),
      PhoneNumber: str(i.phone, 'phone'),
      DeviceToken: str(i.deviceToken, 'deviceToken'),
      ...(i.comment ? { Comment: str(i.comment, 'comment') } : {}),
    }),
    binInBody: true,
    instead: 'remote invoices by phone exist only in scheme r3',
  },
  remoteCancel: {
    verb: 'POST',
    schemes: ['r3'],
    path: () => '/remote/cancel',
    body: (i) => ({
      QrPaymentId: id(i.qrPaymentId, 'qrPaymentId'),
      DeviceToken: str(i.deviceToken, 'deviceToken'),
    }),
    binInBody: true,
    instead: 'remote invoices by phone exist only in scheme r3',
  },
  healthPing: { verb: 'GET', schemes: ALL, path: () => '/health/ping', instead: '' },
  testScan: testEmulation('scan'),
  testConfirm: testEmulation('confirm'),
  testScanError: testEmulation('scanerror'),
  testConfirmError: testEmulation('confirmerror'),
} satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;

export function methodSpec(name: MethodName): MethodSpec {
  return METHODS[name] as MethodSpec;
}

export function supports(scheme: Scheme, name: MethodName): boolean {
  return methodSpec(name).schemes.includes(scheme);
}
