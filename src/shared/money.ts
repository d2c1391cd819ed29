/**
 * Money is an integer count of tiyn (1/100 tenge) from the moment it is parsed.
 * Parsing goes through BigInt on the digits, never through a float.
 */
export type Tiyn = number;

const TENGE = /^(\d{1,14})(?:\.(\d{1,2}))?$/;

/** "200", "200.5", "200.00" -> 20000. No sign, exponent, comma or spaces. Null when malformed. */
export function parseTenge(text: string): Tiyn | null {
  const m = TENGE.exec(text);
  if (!m) return null;
  const whole = BigInt(m[1] as string);
  const frac = BigInt((m[2] ?? '').padEnd(2, '0'));
  const tiyn = whole * 100n + frac;
  if (tiyn > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(tiyn);
}

/** 20000 -> "200.00" */
export function formatTenge(tiyn: Tiyn | string | bigint): string {
  const v = BigInt(tiyn);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = abs / 100n;
  const frac = (abs % 100n).toString().padStart(2, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

/** A value read from the database (mysql2 gives BIGINT as a string) as tiyn; throws on anything not integral. */
export function toTiyn(v: unknown): Tiyn {
  const n =
    typeof v === 'string'
      ? /^-?\d{1,16}$/.test(v)
        ? Number(v)
        : NaN
      : typeof v === 'bigint'
        ? Number(v)
        : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new Error(`not an integer amount of tiyn: ${String(v)}`);
  return n;
}
