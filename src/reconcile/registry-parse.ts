/**
 * Cell text → canonical values (registries-seed-notes §1.8). Pure; no float on the money path: an
 * amount is read from its digits (BigInt), a number cell through its shortest decimal text.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

/** Signed tiyn from "1 234,56", "1234.56", "200.00 ₸", "-100,00", "100,00-", "(100,00)". */
export function parseAmountText(input: string): Parsed<number> {
  let s = input.replace(/[\s\u00a0\u2007\u2009\u202f]/g, '');
  s = s.replace(/₸|kzt|тенге|тг\.?/gi, '');
  if (s === '') return bad('empty amount');
  let negative = false;
  if (/^\(.*\)$/.test(s)) {
    negative = true;
    s = s.slice(1, -1);
  }
  if (s.startsWith('-')) {
    negative = !negative;
    s = s.slice(1);
  } else if (s.endsWith('-')) {
    negative = !negative;
    s = s.slice(0, -1);
  } else if (s.startsWith('+')) s = s.slice(1);
  if (/e/i.test(s)) return bad(`amount in exponent form refused: ${input}`);
  if (!/^[\d.,]+$/.test(s)) return bad(`not an amount: ${input}`);
  const lastDot = s.lastIndexOf('.');
  const lastComma = s.lastIndexOf(',');
  let whole: string;
  let frac = '';
  if (lastDot >= 0 && lastComma >= 0) {
    const mark = lastDot > lastComma ? '.' : ',';
    const other = mark === '.' ? ',' : '.';
    const at = s.lastIndexOf(mark);
    whole = s.slice(0, at);
    frac = s.slice(at + 1);
    if (whole.includes(mark)) return bad(`not an amount: ${input}`);
    const groups = whole.split(other);
    if (groups.some((g, i) => (i === 0 ? !/^\d{1,3}$/.test(g) : !/^\d{3}$/.test(g))))
      return bad(`not an amount: ${input}`);
    whole = groups.join('');
  } else {
    const mark = lastDot >= 0 ? '.' : lastComma >= 0 ? ',' : null;
    if (mark && s.indexOf(mark) !== s.lastIndexOf(mark)) return bad(`not an amount: ${input}`);
    const at = mark ? s.indexOf(mark) : -1;
    whole = at >= 0 ? s.slice(0, at) : s;
    frac = at >= 0 ? s.slice(at + 1) : '';
  }
  if (!/^\d{1,14}$/.test(whole)) return bad(`not an amount: ${input}`);
  if (!/^\d{0,2}$/.test(frac)) return bad(`more than 2 decimals refused: ${input}`);
  const tiyn = BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0'));
  if (tiyn > BigInt(Number.MAX_SAFE_INTEGER)) return bad(`amount too large: ${input}`);
  return ok(Number(negative ? -tiyn : tiyn));
}

/**
 * A number cell: its shortest decimal text (what Excel shows), then the text rules. A float
 * artifact like 0.30000000000000004 has more than 2 decimals and is refused; 1e21 is an exponent.
 */
export function parseAmountNumber(n: number): Parsed<number> {
  if (!Number.isFinite(n)) return bad('not a finite number');
  return parseAmountText(String(n));
}

export interface TxnIdParse {
  /** Digits as written (text), or the damaged digits of a numeric cell. */
  txnId: string;
  /** Excel stored it as a number with more than 15 significant digits: it has lost digits. */
  precision: boolean;
}

const SPACES = /^[\s\u00a0\u2007\u2009\u202f']+|[\s\u00a0\u2007\u2009\u202f]+$/g;

export function parseTxnIdText(input: string): Parsed<TxnIdParse> {
  const s = input.replace(SPACES, '').replace(/\.0+$/, '');
  const sci = /^(\d+)(?:[.,](\d+))?e\+?(\d+)$/i.exec(s);
  if (sci) {
    // "1.23457E+17", as Excel writes a long number to CSV: only the leading digits are left. The
    // txn_id is the number written out (123457000000000000, its length right), never matched as is.
    const [whole, frac = '', exp] = [sci[1] as string, sci[2], Number(sci[3])];
    const digits = (whole + frac).replace(/^0+(?=\d)/, '');
    const length = whole.replace(/^0+/, '').length + exp;
    if (frac.length > exp || length > 32 || length < digits.length) return bad(`not a txn_id: ${input}`);
    return ok({ txnId: digits.padEnd(length, '0'), precision: true });
  }
  if (!/^\d{1,18}$/.test(s)) return bad(`not a txn_id: ${input}`);
  return ok({ txnId: s, precision: false });
}

/**
 * The digits a precision-damaged txn_id still has right: at most the first 15 (what Excel keeps of a
 * number), fewer when the file wrote fewer (the trailing zeros of "1.23457E+17" written out).
 * Candidates are our payments whose txn_id starts with them and has the same length.
 */
export function precisionPrefix(txnId: string): string {
  return txnId.replace(/0+$/, '').slice(0, 15);
}

export function parseTxnIdNumber(n: number): Parsed<TxnIdParse> {
  if (!Number.isFinite(n) || n < 0 || !Number.isInteger(n)) return bad(`not a txn_id: ${String(n)}`);
  const digits = BigInt(n).toString();
  const significant = digits.replace(/0+$/, '').length;
  if (n > Number.MAX_SAFE_INTEGER || significant > 15 || digits.length > 15)
    return ok({ txnId: digits, precision: true });
  return ok({ txnId: digits, precision: false });
}

/** The offset "+05:00" in minutes. */
export function offsetMinutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) throw new Error(`bad offset ${offset}`);
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -v : v;
}

function validWall(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (y < 2000 || y > 2099) return false;
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    t.getUTCFullYear() === y &&
    t.getUTCMonth() === mo - 1 &&
    t.getUTCDate() === d &&
    t.getUTCHours() === h &&
    t.getUTCMinutes() === mi &&
    t.getUTCSeconds() === s
  );
}

const p2 = (n: number) => String(n).padStart(2, '0');

function wall(y: number, mo: number, d: number, time: [number, number, number] | null): Parsed<string> {
  const [h, mi, s] = time ?? [0, 0, 0];
  if (!validWall(y, mo, d, h, mi, s)) return bad('impossible date');
  const day = `${y}${p2(mo)}${p2(d)}`;
  return ok(time ? `${day}${p2(h)}${p2(mi)}${p2(s)}` : day);
}

/**
 * Date text → YYYYMMDD or YYYYMMDDhhmmss, Kaspi wall time. `DD.MM.YYYY[ HH:MM[:SS]]`,
 * `YYYY-MM-DD[ T]HH:MM[:SS][±HH[:MM]|Z]` (an offset converted to `offset`, the only zone
 * arithmetic), `YYYYMMDD[HHMMSS]`, `DD/MM/YYYY`. MM/DD is never guessed; a two-digit year is refused.
 */
export function parseDateText(input: string, offset: string): Parsed<string> {
  const s = input.trim().replace(/\u00a0/g, ' ');
  let m = /^(\d{2})[./](\d{2})[./](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  if (m) {
    const time = m[4] ? ([Number(m[4]), Number(m[5]), Number(m[6] ?? 0)] as [number, number, number]) : null;
    return wall(Number(m[3]), Number(m[2]), Number(m[1]), time);
  }
  m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/.exec(
      s,
    );
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!m[4]) return wall(y, mo, d, null);
    const time: [number, number, number] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
    const local = wall(y, mo, d, time);
    if (!local.ok || !m[7]) return local;
    const zone = m[7] === 'Z' ? 0 : zoneMinutes(m[7]);
    const utcMs = Date.UTC(y, mo - 1, d, ...time) - zone * 60_000;
    const t = new Date(utcMs + offsetMinutes(offset) * 60_000);
    return wall(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), [
      t.getUTCHours(),
      t.getUTCMinutes(),
      t.getUTCSeconds(),
    ]);
  }
  m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2}))?$/.exec(s);
  if (m) {
    const time = m[4] ? ([Number(m[4]), Number(m[5]), Number(m[6])] as [number, number, number]) : null;
    return wall(Number(m[1]), Number(m[2]), Number(m[3]), time);
  }
  return bad(`not a date: ${input}`);
}

function zoneMinutes(z: string): number {
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(z) as RegExpExecArray;
  const v = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -v : v;
}

/** An Excel serial (1900 system; 1904 adds 1 462 days) → wall time, rounded to the second. */
export function parseDateSerial(serial: number, date1904 = false): Parsed<string> {
  if (!Number.isFinite(serial) || serial <= 0) return bad(`not a date serial: ${serial}`);
  const days = Math.floor(serial) + (date1904 ? 1462 : 0);
  const secs = Math.round((serial - Math.floor(serial)) * 86_400);
  const t = new Date(Date.UTC(1899, 11, 30) + days * 86_400_000 + secs * 1000);
  const hasTime = secs !== 0;
  return wall(
    t.getUTCFullYear(),
    t.getUTCMonth() + 1,
    t.getUTCDate(),
    hasTime ? [t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()] : null,
  );
}

/** A date cell's wall clock (YYYYMMDDhhmmss): midnight is written as the day alone. */
export function dateCellValue(w: string): string {
  return w.endsWith('000000') ? w.slice(0, 8) : w;
}
