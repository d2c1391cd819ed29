/** A wall-clock time YYYYMMDDhhmmss (Kaspi's txn_date; a registry's date column). */
const TXN_DATE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

/**
 * A wall-clock time at a UTC offset ("+05:00"): the UTC instant as stored (`utc`, "2026-11-23
 * 09:15:00.000") and the same instant with the payer's offset (`iso`, for the billing contract).
 * Null when it is not a real time of this century.
 */
export function readTxnDate(raw: string, offset: string): { utc: string; iso: string } | null {
  const m = TXN_DATE.exec(raw);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const wall = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (
    wall.getUTCFullYear() !== y ||
    wall.getUTCMonth() !== mo - 1 ||
    wall.getUTCDate() !== d ||
    wall.getUTCHours() !== h ||
    wall.getUTCMinutes() !== mi ||
    wall.getUTCSeconds() !== s ||
    y < 2000
  ) {
    return null;
  }
  const sign = offset.startsWith('-') ? -1 : 1;
  const [oh, om] = offset.slice(1).split(':').map(Number) as [number, number];
  const instant = new Date(wall.getTime() - sign * (oh * 60 + om) * 60000);
  const utc = instant.toISOString().replace('T', ' ').replace('Z', '');
  const iso = `${raw.slice(0, 4)}-${raw.slice(4, 6)}-${raw.slice(6, 8)}T${raw.slice(8, 10)}:${raw.slice(10, 12)}:${raw.slice(12, 14)}${offset}`;
  return { utc, iso };
}
