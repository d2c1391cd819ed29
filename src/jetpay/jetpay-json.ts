import { isLosslessNumber, LosslessNumber, parse } from 'lossless-json';
import { ValidationError } from '../shared/errors.js';

/**
 * A JSON value as JetPay sent it. Numbers stay `LosslessNumber`s holding their text as written:
 * an 18-digit id or amount never passes through a float, and the signature is computed over the
 * digits JetPay signed.
 */
export type JsonValue = string | boolean | null | LosslessNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Body bytes to a JSON value; anything unreadable (bad UTF-8, bad JSON, duplicate keys) is a 400. */
export function parseJetpayBody(body: Buffer): JsonValue {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new ValidationError('Malformed JSON: body is not UTF-8');
  }
  try {
    // Every number becomes a LosslessNumber (the library's default); a duplicate key with another
    // value throws, so no two readers of one body can disagree on what it said.
    return parse(text) as JsonValue;
  } catch {
    throw new ValidationError('Malformed JSON');
  }
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isLosslessNumber(v);
}

export { isLosslessNumber, LosslessNumber };
