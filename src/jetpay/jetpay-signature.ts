import { createHmac, timingSafeEqual } from 'node:crypto';
import { isJsonObject, isLosslessNumber, type JsonObject, type JsonValue } from './jetpay-json.js';

/**
 * The ECommPay Gate signature that JetPay uses (docs/decisions/004-jetpay.md):
 * every leaf as `path:value`, paths sorted, joined by `;`, HMAC-SHA512 with the project secret,
 * base64. Pure functions over a parsed body: numbers must arrive as LosslessNumbers (see
 * jetpay-json.ts) so their text is the one JetPay signed.
 */

const IGNORED_KEY = 'frame_mode';
const SIGNATURE_KEY = 'signature';
/** Deeper than any Gate message; stops a hostile body from exhausting the stack. */
const MAX_DEPTH = 32;
/** Array indexes sort numerically (2 before 10, as the PHP SDK's natural sort does): padded to this width. */
const INDEX_WIDTH = 10;

/** Plain JS values are accepted too (fixtures), but a body from the wire is always lossless. */
type Signable = JsonValue | number | bigint | Signable[] | { [key: string]: Signable };

export class SignatureInputError extends Error {}

interface Leaf {
  item: string;
  sortKey: Buffer;
}

function valueText(v: Signable): string {
  if (v === null) return '';
  if (v === true) return '1';
  if (v === false) return '0';
  if (isLosslessNumber(v)) return v.value;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SignatureInputError('not a JSON number');
    return String(v);
  }
  return String(v);
}

function collect(value: Signable, path: string, sortKey: string, depth: number, out: Leaf[]): void {
  if (depth > MAX_DEPTH) throw new SignatureInputError('nesting too deep');
  const join = (prefix: string, part: string) => (prefix === '' ? part : `${prefix}:${part}`);
  if (Array.isArray(value)) {
    value.forEach((v, i) =>
      collect(v, join(path, String(i)), join(sortKey, String(i).padStart(INDEX_WIDTH, '0')), depth + 1, out),
    );
    return;
  }
  if (typeof value === 'object' && value !== null && !isLosslessNumber(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === IGNORED_KEY || key === SIGNATURE_KEY) continue;
      const part = key.replaceAll(':', '::');
      collect(v, join(path, part), join(sortKey, part), depth + 1, out);
    }
    return;
  }
  out.push({ item: `${path}:${valueText(value)}`, sortKey: Buffer.from(sortKey, 'utf8') });
}

/** The text that is signed: `signature` keys (at any depth) and `frame_mode` keys left out. */
export function stringToSign(params: Signable): string {
  const leaves: Leaf[] = [];
  collect(params, '', '', 0, leaves);
  leaves.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  return leaves.map((l) => l.item).join(';');
}

export function sign(params: Signable, secret: string): string {
  return createHmac('sha512', secret).update(stringToSign(params), 'utf8').digest('base64');
}

/** The signature a message carries: top-level `signature`, else `general.signature` (Gate's other callback format). */
export function receivedSignature(doc: JsonObject): string | null {
  if (typeof doc.signature === 'string') return doc.signature;
  const general = doc.general;
  if (isJsonObject(general) && typeof general.signature === 'string') return general.signature;
  return null;
}

/** Constant-time comparison; a length mismatch answers at once (it reveals nothing about the secret). */
export function signatureMatches(params: Signable, secret: string, received: string): boolean {
  const expected = Buffer.from(sign(params, secret), 'utf8');
  const given = Buffer.from(received, 'utf8');
  if (expected.length !== given.length) return false;
  return timingSafeEqual(expected, given);
}
