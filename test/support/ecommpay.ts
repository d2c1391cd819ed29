import { createRequire } from 'node:module';
import { jsonText, type Plain, type Value } from './jetpay.js';

/**
 * The official ECommPay SDK for Node (`ecommpay` on npm, ITECOMMPAY/paymentpage-sdk-js), as a real
 * client of ours: the platform's own signer, not our reading of the algorithm. It is CommonJS
 * without types; what we use of it (node_modules/ecommpay/src):
 * - `signer(obj, salt)`: base64 HMAC-SHA512 of `converter(obj, ['frame_mode'])`; it signs every key
 *   it is given (a `signature` key too: leave it out);
 * - `converter(obj, ignored)`: the string to sign: keys sorted per level (`Object.keys().sort()`,
 *   copied into a fresh object, so integer-like keys come first in numeric order), `path:value`
 *   joined by `;`, `null` → empty, booleans → 1/0, numbers as JS prints them;
 * - `Callback(secret, body)`: JSON.parse, drop `signature` keys at every depth, compare with `===`.
 */
const require = createRequire(import.meta.url);

const sdk = require('ecommpay') as {
  signer: (obj: Plain, salt: string) => string;
  Callback: new (
    secret: string,
    data: string | Plain,
  ) => { isPaymentSuccess(): boolean; getPaymentId(): string };
};
const converter = require('ecommpay/src/converter') as (obj: Plain, ignored: string[]) => string;

export const SdkCallback = sdk.Callback;

/** The body as a JS client holds it: what JSON.parse gives of our text (big numbers rounded). */
export function asJs(v: Value): Plain {
  return JSON.parse(jsonText(v)) as Plain;
}

export function sdkSignature(fields: Value, secret: string): string {
  return sdk.signer(asJs(fields), secret);
}

export function sdkStringToSign(fields: Value): string {
  return converter(asJs(fields), ['frame_mode']);
}

/** A request as a Node client using the SDK sends it: signed by the SDK, written by JSON.stringify. */
export function sdkSignedText(fields: Record<string, Value>, secret: string): string {
  const js = asJs(fields) as Record<string, Plain>;
  return JSON.stringify({ ...js, signature: sdk.signer(js, secret) });
}
