/**
 * Kaspi QR's StatusCode values (guide Appendix 3 and the method tables; notes §2.12). Every digit
 * variant the guide prints for one code maps to the same meaning: `-99000002`/`-990000002`,
 * `990000018`/`9900000018`, ... Matching is exact on the integer; any other non-zero code is a
 * plain `kaspi_error` that carries Kaspi's code and message.
 */

export type KaspiErrorKind =
  | 'kaspi_unavailable'
  | 'auth_config'
  | 'device_config'
  | 'device_conflict'
  | 'not_found'
  | 'merchant_config'
  | 'refund_exceeds_available'
  | 'refund_retryable'
  | 'invalid_amount'
  | 'device_mismatch'
  | 'refund_not_allowed_state'
  | 'partial_refund_not_allowed'
  | 'kaspi_error';

export interface CodeMeaning {
  kind: KaspiErrorKind;
  meaning: string;
  /** Worth another attempt (GETs retry it; the engine backs off). */
  retryable: boolean;
}

const row = (kind: KaspiErrorKind, meaning: string, retryable = false): CodeMeaning => ({
  kind,
  meaning,
  retryable,
});

const TABLE: [number[], CodeMeaning][] = [
  [[-999], row('kaspi_unavailable', 'service temporarily unavailable', true)],
  [[-10000], row('auth_config', 'client certificate missing or not accepted (authentication failed)')],
  [[-1501], row('device_config', 'device with this id not found')],
  [[-1502], row('device_config', 'device inactive (disabled or deleted)')],
  [[-1503], row('device_conflict', 'device already added to another trade point')],
  [[-1601], row('not_found', 'purchase not found')],
  [[-14000002], row('merchant_config', 'no trade points: create one in the Kaspi Pay app')],
  [[-99000002, -990000002], row('merchant_config', 'trade point not found')],
  [[-99000005, -990000005], row('refund_exceeds_available', 'refund amount exceeds the purchase amount')],
  [
    [-99000006, -990000006],
    row('refund_retryable', 'refund error: try again, contact the bank if it repeats'),
  ],
  [[990000018, 9900000018], row('merchant_config', 'trade point disabled')],
  [[990000026, 9900000026], row('merchant_config', 'trade point does not accept QR payments')],
  [[990000028, 9900000028], row('invalid_amount', 'wrong operation amount')],
  [[990000033, 9900000033, 99000033], row('merchant_config', 'no payment methods available')],
  [[-990000001, -99000001], row('not_found', 'purchase with this id not found')],
  [[-990000003], row('device_mismatch', "the purchase's trade point does not match this device")],
  [[-990000011], row('refund_not_allowed_state', 'purchase cannot be refunded in its status')],
  [[-990000020], row('partial_refund_not_allowed', 'partial refund impossible')],
];

const BY_CODE = new Map<number, CodeMeaning>(TABLE.flatMap(([codes, m]) => codes.map((c) => [c, m])));

export function meaningOf(code: number): CodeMeaning {
  return BY_CODE.get(code) ?? row('kaspi_error', 'Kaspi error');
}

/** Every code we know, for tests and docs. */
export function knownCodes(): number[] {
  return [...BY_CODE.keys()];
}

/** Purchase statuses (Appendix 4) and what they are to us. */
export type KaspiStatus = 'QrTokenCreated' | 'Wait' | 'Processed' | 'Error' | 'RemotePaymentCanceled';
export const KNOWN_STATUSES: readonly string[] = [
  'QrTokenCreated',
  'Wait',
  'Processed',
  'Error',
  'RemotePaymentCanceled',
];
