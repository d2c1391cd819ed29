import { formatTenge, parseTenge, type Tiyn } from '../shared/money.js';
import { ValidationError } from '../shared/errors.js';

/**
 * Amounts in our JSON: a string of tenge ("100.00") or an integer of tiyn (`<name>Minor`), never a
 * JSON number with a fraction: a float has already lost the amount by the time we see it.
 */
export function readAmount(body: Record<string, unknown>, name: string): Tiyn {
  const text = body[name];
  const minor = body[`${name}Minor`];
  if (text !== undefined && minor !== undefined)
    throw new ValidationError(`give ${name} or ${name}Minor, not both`);
  if (typeof text === 'string') {
    const t = parseTenge(text);
    if (t === null) throw new ValidationError(`${name} must be tenge with at most 2 decimals, like "100.00"`);
    return t;
  }
  if (text !== undefined)
    throw new ValidationError(`${name} must be a string like "100.00" (or ${name}Minor: an integer of tiyn)`);
  if (typeof minor === 'number' && Number.isSafeInteger(minor) && minor >= 0) return minor;
  if (typeof minor === 'string' && /^\d{1,15}$/.test(minor)) return Number(minor);
  if (minor !== undefined) throw new ValidationError(`${name}Minor must be a whole number of tiyn`);
  throw new ValidationError(`${name} is required, like "100.00"`);
}

/** The two forms we answer with: "100.00" and 10000. */
export function amountFields(name: string, tiyn: Tiyn): Record<string, string | number> {
  return { [name]: formatTenge(tiyn), [`${name}Minor`]: tiyn };
}

/** A stored UTC time ("2026-11-23 09:15:00.000") as ISO 8601 with Z. */
export function isoTime(v: string | null): string | null {
  if (v === null) return null;
  return `${v.replace(' ', 'T')}${v.endsWith('Z') ? '' : 'Z'}`;
}
