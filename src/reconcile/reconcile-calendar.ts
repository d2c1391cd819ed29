/**
 * Days and deadlines in Kaspi's wall time (KASPI_TXN_DATE_OFFSET, +05:00): the registry's days, the
 * cut-off windows and every `dueAt` (registries-seed-notes §1.6, §1.7). Pure; a day is `YYYYMMDD`,
 * a wall time `YYYYMMDDhhmmss`; no zone arithmetic except to and from a real instant.
 */
import { offsetMinutes } from './registry-parse.js';

export function addDays(day: string, n: number): string {
  const t = new Date(Date.UTC(+day.slice(0, 4), +day.slice(4, 6) - 1, +day.slice(6, 8)) + n * 86_400_000);
  return `${t.getUTCFullYear()}${String(t.getUTCMonth() + 1).padStart(2, '0')}${String(t.getUTCDate()).padStart(2, '0')}`;
}

export function isBusinessDay(day: string, holidays: ReadonlySet<string>): boolean {
  const wd = new Date(Date.UTC(+day.slice(0, 4), +day.slice(4, 6) - 1, +day.slice(6, 8))).getUTCDay();
  return wd !== 0 && wd !== 6 && !holidays.has(day);
}

/** The n-th business day after `day` (n ≥ 1). */
export function addBusinessDays(day: string, n: number, holidays: ReadonlySet<string>): string {
  let d = day;
  let left = n;
  while (left > 0) {
    d = addDays(d, 1);
    if (isBusinessDay(d, holidays)) left--;
  }
  return d;
}

/** `cutoff` "HH:MM" as hhmmss. */
const cut = (cutoff: string) => `${cutoff.replace(':', '')}00`;

/**
 * The txn_date wall-time range [start, end) of the days from..to with the cut-off: `18:00` makes
 * D's window [D−1 18:00, D 18:00). Strings compare exactly (fixed width).
 */
export function periodRange(from: string, to: string, cutoff: string): { start: string; end: string } {
  if (cutoff === '00:00') return { start: `${from}000000`, end: `${addDays(to, 1)}000000` };
  return { start: `${addDays(from, -1)}${cut(cutoff)}`, end: `${to}${cut(cutoff)}` };
}

/** The registry day a wall time belongs to under the cut-off. */
export function registryDay(wall: string, cutoff: string): string {
  const day = wall.slice(0, 8);
  if (cutoff === '00:00' || wall.length < 14) return day;
  return wall.slice(8) >= cut(cutoff) ? addDays(day, 1) : day;
}

/** The end of a day in Kaspi wall time, as an ISO instant with the offset: "2026-11-24T23:59:59+05:00". */
export function endOfDay(day: string, offset: string): string {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T23:59:59${offset}`;
}

/** The 7th of the month after `day`'s month (the monthly reconciliation, C §4.5). */
export function seventhAfter(day: string): string {
  const y = +day.slice(0, 4);
  const m = +day.slice(4, 6);
  const ny = m === 12 ? y + 1 : y;
  const nm = m === 12 ? 1 : m + 1;
  return `${ny}${String(nm).padStart(2, '0')}07`;
}

/** A real instant → the wall time at `offset` (YYYYMMDDhhmmss). */
export function wallAt(instant: Date, offset: string): string {
  const t = new Date(instant.getTime() + offsetMinutes(offset) * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    p(t.getUTCFullYear(), 4) +
    p(t.getUTCMonth() + 1) +
    p(t.getUTCDate()) +
    p(t.getUTCHours()) +
    p(t.getUTCMinutes()) +
    p(t.getUTCSeconds())
  );
}

/** "YYYYMMDD" → "YYYY-MM-DD". */
export function isoDay(day: string): string {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
}

/** A stored UTC instant as Kaspi wall time with the offset: "2026-11-24T23:59:59+05:00". */
export function kaspiIso(instant: string | null, offset: string): string | null {
  if (!instant) return null;
  const w = wallAt(new Date(instant), offset);
  return `${w.slice(0, 4)}-${w.slice(4, 6)}-${w.slice(6, 8)}T${w.slice(8, 10)}:${w.slice(10, 12)}:${w.slice(12, 14)}${offset}`;
}
