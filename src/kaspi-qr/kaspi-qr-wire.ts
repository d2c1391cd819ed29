import { randomBytes } from 'node:crypto';
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';
import type { Tiyn } from '../shared/money.js';

/**
 * What crosses the wire to Kaspi QR, and back, without loss: Int64 ids as decimal strings (never a
 * JS number: 2^53 is below Int64), amounts as tenge written from integer tiyn and read back
 * exactly, dates in every form the guide prints.
 */

export class WireError extends Error {}

/** Kaspi's JSON with every number kept as its text (LosslessNumber). */
export function parseWire(text: string): unknown {
  return parse(text);
}

/** JSON with LosslessNumber values written as bare numbers. */
export function stringifyWire(value: unknown): string {
  return stringify(value) as string;
}

/** An id to send as a bare JSON integer. */
export function wireId(id: string): LosslessNumber {
  if (!/^\d{1,19}$/.test(id)) throw new WireError(`not an Int64 id: ${id}`);
  return new LosslessNumber(id);
}

/** An Int64 id read back as its decimal string (a number or a string of digits on the wire). */
export function readId(v: unknown, field: string): string {
  const text = isLosslessNumber(v) ? v.value : typeof v === 'string' ? v : undefined;
  if (text === undefined || !/^-?\d{1,19}$/.test(text)) throw new WireError(`${field}: not an Int64 id`);
  return text;
}

/** A small integer (seconds, a StatusCode); null when absent or not an integer. */
export function readInt(v: unknown): number | null {
  const text = isLosslessNumber(v) ? v.value : typeof v === 'number' ? String(v) : undefined;
  if (text === undefined || !/^-?\d{1,12}$/.test(text)) return null;
  return Number(text);
}

/** 150050 tiyn → 1500.5 as a bare JSON number, written from the integer (no float in between). */
export function wireAmount(tiyn: Tiyn): LosslessNumber {
  if (!Number.isSafeInteger(tiyn) || tiyn <= 0) throw new WireError(`not a positive amount of tiyn: ${tiyn}`);
  const whole = Math.floor(tiyn / 100);
  const frac = tiyn % 100;
  const text = frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(2, '0').replace(/0$/, '')}`;
  return new LosslessNumber(text);
}

/**
 * A Double from Kaspi as tiyn, exactly: "1500.5", "200.00", "1.5E3" are fine; a value that is not a
 * whole number of tiyn (1.005) is an error, never rounded.
 */
export function readAmount(v: unknown, field: string): Tiyn {
  const text = isLosslessNumber(v) ? v.value : typeof v === 'string' ? v : undefined;
  const m = text === undefined ? null : /^(\d{1,15})(?:\.(\d+))?(?:[eE]([+-]?\d{1,2}))?$/.exec(text);
  if (!m) throw new WireError(`${field}: not an amount`);
  const digits = `${m[1]}${m[2] ?? ''}`;
  // value = digits × 10^(exp − fractionLength); tiyn = value × 100
  const shift = Number(m[3] ?? 0) - (m[2] ?? '').length + 2;
  let tiyn: bigint;
  if (shift >= 0) tiyn = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const cut = digits.length + shift;
    const kept = cut <= 0 ? '0' : digits.slice(0, cut);
    const dropped = cut <= 0 ? digits : digits.slice(cut);
    if (/[^0]/.test(dropped)) throw new WireError(`${field}: ${text} is not a whole number of tiyn`);
    tiyn = BigInt(kept);
  }
  if (tiyn > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError(`${field}: amount too large`);
  return Number(tiyn);
}

export interface KaspiDate {
  raw: string;
  /** The instant, when the text is a date at all. */
  at: Date | null;
  /** No offset in the text: read as Kazakhstan time (Asia/Almaty). */
  offsetAssumed: boolean;
}

const DATE =
  /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Offset of Asia/Almaty at an instant, in minutes (+300 since 2024-03-01, +360 before). */
function almatyOffsetMinutes(at: Date): number {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Almaty', timeZoneName: 'longOffset' })
      .formatToParts(at)
      .find((p) => p.type === 'timeZoneName')?.value;
    const m = name ? /GMT([+-])(\d{2}):?(\d{2})?/.exec(name) : null;
    if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
  } catch {
    // no tz data: the current Kazakhstan offset
  }
  return 300;
}

/**
 * Tolerant: `2020-08-09T18:31:42+06`, `2021-11-3T11:55:14.166+06:00`, `2021-12-08T11:35:48.1566667`
 * (no offset: Kazakhstan time). Anything else gives `at: null`, never a throw: a date is for display
 * and reconciliation, never for deadlines.
 */
export function parseKaspiDate(v: unknown): KaspiDate | null {
  if (typeof v !== 'string' || v.trim() === '') return null;
  const raw = v.trim().slice(0, 64);
  const m = DATE.exec(raw);
  if (!m) return { raw, at: null, offsetAssumed: false };
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as number[];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const wall = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, ms);
  const check = new Date(wall);
  if (check.getUTCMonth() !== (mo as number) - 1 || check.getUTCDate() !== d || (h as number) > 23)
    return { raw, at: null, offsetAssumed: false };
  const off = m[8];
  if (off === undefined) {
    const guess = almatyOffsetMinutes(new Date(wall - 300 * 60_000));
    return { raw, at: new Date(wall - guess * 60_000), offsetAssumed: true };
  }
  if (off === 'Z') return { raw, at: new Date(wall), offsetAssumed: false };
  const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(off) as RegExpExecArray;
  const minutes = (om[1] === '-' ? -1 : 1) * (Number(om[2]) * 60 + Number(om[3] ?? 0));
  return { raw, at: new Date(wall - minutes * 60_000), offsetAssumed: false };
}

/** A fresh X-Request-ID: 32 lowercase hex, as the guide's example. */
export function newRequestId(): string {
  return randomBytes(16).toString('hex');
}
