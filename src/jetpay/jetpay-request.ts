import { AppError, ValidationError } from '../shared/errors.js';
import { isJsonObject, isLosslessNumber, type JsonObject, type JsonValue } from './jetpay-json.js';
import { receivedSignature, signatureMatches, SignatureInputError } from './jetpay-signature.js';

/** A well-formed request we refuse or cannot serve: JSON code 500 with the reason. */
export class JetpayRefusal extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('jetpay_refused', message, { httpStatus: 422, details });
  }
}

export type JetpayType = 'verify' | 'check_deposit';
const TYPES: readonly string[] = ['verify', 'check_deposit'];

export interface VerifyRequest {
  type: 'verify';
  customerId: string;
}

export interface CheckDepositRequest {
  type: 'check_deposit';
  customerId: string;
  entityId: string;
  /** Minor units as JetPay wrote them; a BigInt so an absurd value is refused, not rounded. */
  amount: bigint;
  currency: string;
  paymentMethod: string | null;
}

export interface CallbackRequest {
  paymentId: string;
  status: string;
  amount: bigint | null;
  currency: string | null;
  operation: {
    id: string | null;
    type: string | null;
    status: string | null;
    code: string | null;
    message: string | null;
    providerPaymentId: string | null;
  };
}

const INTEGER = /^-?\d{1,30}$/;
export const INVALID_SIGNATURE = 'Invalid signature';

function at(doc: JsonObject, path: string[]): JsonValue | undefined {
  let v: JsonValue | undefined = doc;
  for (const key of path) {
    if (!isJsonObject(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

/** A scalar as text: strings as they are, numbers with every digit as written. */
function scalarText(v: JsonValue | undefined, name: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (isLosslessNumber(v)) return v.value;
  throw new ValidationError(`Invalid field: ${name}`);
}

function requireText(doc: JsonObject, path: string[], maxLength = 200): string {
  const name = path.join('.');
  const text = scalarText(at(doc, path), name);
  if (text === null) throw new ValidationError(`Missing field: ${name}`);
  if (Array.from(text).length > maxLength) throw new ValidationError(`Invalid field: ${name} (too long)`);
  return text;
}

function optionalText(doc: JsonObject, path: string[]): string | null {
  try {
    return scalarText(at(doc, path), path.join('.'))?.slice(0, 255) ?? null;
  } catch {
    return null;
  }
}

function requireInteger(doc: JsonObject, path: string[]): bigint {
  const name = path.join('.');
  const text = requireText(doc, path, 40);
  if (!INTEGER.test(text)) throw new ValidationError(`Invalid field: ${name} (an integer of minor units)`);
  return BigInt(text);
}

export function requireObject(doc: JsonValue): JsonObject {
  if (!isJsonObject(doc)) throw new ValidationError('Malformed JSON: not an object');
  return doc;
}

export function readType(doc: JsonObject): JetpayType {
  const type = requireText(doc, ['type'], 32);
  if (!TYPES.includes(type)) throw new ValidationError(`Unknown type: ${type.slice(0, 32)}`);
  return type as JetpayType;
}

/** Throws a 400 unless the message carries the signature our secret gives. */
export function checkSignature(doc: JsonObject, secret: string): void {
  const received = receivedSignature(doc);
  if (received === null) throw new ValidationError('Missing field: signature');
  let ok: boolean;
  try {
    ok = signatureMatches(doc, secret, received);
  } catch (e) {
    if (e instanceof SignatureInputError) throw new ValidationError(`Malformed JSON: ${e.message}`);
    throw e;
  }
  if (!ok) throw new ValidationError(INVALID_SIGNATURE);
}

/** project_id at the top (requests, callbacks) or in `general` (Gate's other callback format). */
export function checkProject(doc: JsonObject, projectId: string): void {
  const path =
    at(doc, ['project_id']) !== undefined
      ? ['project_id']
      : at(doc, ['general', 'project_id']) !== undefined
        ? ['general', 'project_id']
        : ['project_id'];
  if (requireText(doc, path, 40) !== projectId) throw new ValidationError('Wrong project_id');
}

export function readVerify(doc: JsonObject): VerifyRequest {
  return { type: 'verify', customerId: requireText(doc, ['customer_id']) };
}

export function readCheckDeposit(doc: JsonObject): CheckDepositRequest {
  return {
    type: 'check_deposit',
    customerId: requireText(doc, ['customer_id']),
    entityId: requireText(doc, ['entity_id']),
    amount: requireInteger(doc, ['amount']),
    currency: requireText(doc, ['currency'], 8),
    paymentMethod: optionalText(doc, ['payment_method']),
  };
}

/** The payment id a callback claims, before it is authenticated: for the request log only. */
export function claimedPaymentId(doc: JsonObject): string | null {
  return optionalText(doc, ['payment', 'id'])?.slice(0, 64) ?? null;
}

export function readCallback(doc: JsonObject): CallbackRequest {
  const status = requireText(doc, ['payment', 'status'], 64);
  const paid = status === 'success';
  return {
    paymentId: requireText(doc, ['payment', 'id'], 64),
    status,
    // What was paid matters only for a success; a decline is applied whatever its sum says.
    amount: paid ? requireInteger(doc, ['payment', 'sum', 'amount']) : null,
    currency: paid
      ? requireText(doc, ['payment', 'sum', 'currency'], 8)
      : optionalText(doc, ['payment', 'sum', 'currency']),
    operation: {
      id: optionalText(doc, ['operation', 'id']),
      type: optionalText(doc, ['operation', 'type']),
      status: optionalText(doc, ['operation', 'status']),
      code: optionalText(doc, ['operation', 'code']),
      message: optionalText(doc, ['operation', 'message']),
      providerPaymentId: optionalText(doc, ['operation', 'provider', 'payment_id']),
    },
  };
}
