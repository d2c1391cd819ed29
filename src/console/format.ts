import type { Tiyn } from '../shared/money.js';

export type Lang = 'ru' | 'en';
export const LANGS: readonly Lang[] = ['ru', 'en'];

/**
 * Amounts from integer tiyn, by digits (BigInt), never through a float:
 * ru `1 500,00 ₸` (no-break spaces), en `1,500.00 KZT`.
 */
export function formatAmount(tiyn: Tiyn | string | bigint, lang: Lang): string {
  const v = BigInt(tiyn);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = (abs / 100n).toString();
  const frac = (abs % 100n).toString().padStart(2, '0');
  const sep = lang === 'ru' ? '\u00a0' : ',';
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  const sign = neg ? '−' : '';
  return lang === 'ru' ? `${sign}${grouped},${frac}\u00a0₸` : `${sign}${grouped}.${frac}\u00a0KZT`;
}

/** "+05:00" → 300 minutes. */
export function offsetMinutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) return 0;
  const mins = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -mins : mins;
}

/**
 * A stored UTC time ("2026-12-01 09:20:00.000") shown in Kazakhstan time (the configured offset):
 * ru `01.12.2026 14:20:00`, en `2026-12-01 14:20:00`.
 */
export function formatTime(utc: string | null | undefined, offset: string, lang: Lang): string {
  if (!utc) return '';
  const d = new Date(utc.includes('T') ? utc : `${utc.replace(' ', 'T')}Z`);
  if (Number.isNaN(d.getTime())) return utc;
  const local = new Date(d.getTime() + offsetMinutes(offset) * 60_000).toISOString();
  const [date, time] = [local.slice(0, 10), local.slice(11, 19)];
  if (lang === 'ru') {
    const [y, mo, da] = date.split('-');
    return `${da}.${mo}.${y} ${time}`;
  }
  return `${date} ${time}`;
}

/** The UTC instant of local midnight `daysAgo` days before today, in the offset's time. */
export function localDayStart(now: Date, offset: string, daysAgo = 0): Date {
  const off = offsetMinutes(offset) * 60_000;
  const local = new Date(now.getTime() + off);
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() - daysAgo);
  return new Date(midnight - off);
}

/** A local date typed in a form ("2026-12-01") → the UTC instant its day starts at, in the offset. */
export function localDateToUtc(date: string, offset: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(t)) return null;
  return new Date(t - offsetMinutes(offset) * 60_000);
}

// Amount in words, for the refund's confirmation step.

const EN_ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const EN_TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const EN_SCALES = ['', 'thousand', 'million', 'billion', 'trillion'];

function enBelow1000(n: number): string {
  const parts: string[] = [];
  if (n >= 100) {
    parts.push(`${EN_ONES[Math.floor(n / 100)]} hundred`);
    n %= 100;
  }
  if (n >= 20) {
    parts.push(n % 10 ? `${EN_TENS[Math.floor(n / 10)]}-${EN_ONES[n % 10]}` : (EN_TENS[n / 10] as string));
  } else if (n > 0) parts.push(EN_ONES[n] as string);
  return parts.join(' ');
}

const RU_ONES_M = ['', 'один', 'два', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять'];
const RU_ONES_F = ['', 'одна', 'две', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять'];
const RU_TEENS = [
  'десять',
  'одиннадцать',
  'двенадцать',
  'тринадцать',
  'четырнадцать',
  'пятнадцать',
  'шестнадцать',
  'семнадцать',
  'восемнадцать',
  'девятнадцать',
];
const RU_TENS = [
  '',
  '',
  'двадцать',
  'тридцать',
  'сорок',
  'пятьдесят',
  'шестьдесят',
  'семьдесят',
  'восемьдесят',
  'девяносто',
];
const RU_HUNDREDS = [
  '',
  'сто',
  'двести',
  'триста',
  'четыреста',
  'пятьсот',
  'шестьсот',
  'семьсот',
  'восемьсот',
  'девятьсот',
];
/** [one, two-four, five+], and whether the scale word is feminine. */
const RU_SCALES: [string[], boolean][] = [
  [['', '', ''], false],
  [['тысяча', 'тысячи', 'тысяч'], true],
  [['миллион', 'миллиона', 'миллионов'], false],
  [['миллиард', 'миллиарда', 'миллиардов'], false],
  [['триллион', 'триллиона', 'триллионов'], false],
];

function ruPlural(n: number): 0 | 1 | 2 {
  const d = n % 10;
  const dd = n % 100;
  if (d === 1 && dd !== 11) return 0;
  if (d >= 2 && d <= 4 && (dd < 12 || dd > 14)) return 1;
  return 2;
}

function ruBelow1000(n: number, feminine: boolean): string {
  const parts: string[] = [];
  if (n >= 100) parts.push(RU_HUNDREDS[Math.floor(n / 100)] as string);
  const r = n % 100;
  if (r >= 10 && r < 20) parts.push(RU_TEENS[r - 10] as string);
  else {
    if (r >= 20) parts.push(RU_TENS[Math.floor(r / 10)] as string);
    if (r % 10) parts.push(((feminine ? RU_ONES_F : RU_ONES_M)[r % 10] as string) ?? '');
  }
  return parts.join(' ');
}

function groupsOf(whole: bigint): number[] {
  const groups: number[] = [];
  let w = whole;
  do {
    groups.push(Number(w % 1000n));
    w /= 1000n;
  } while (w > 0n);
  return groups;
}

/** 150050 → en "one thousand five hundred tenge 50 tiyn", ru "одна тысяча пятьсот тенге 50 тиын". */
export function amountInWords(tiyn: Tiyn | string | bigint, lang: Lang): string {
  const v = BigInt(tiyn);
  const abs = v < 0n ? -v : v;
  const whole = abs / 100n;
  const frac = (abs % 100n).toString().padStart(2, '0');
  const groups = groupsOf(whole);
  const words: string[] = [];
  for (let i = groups.length - 1; i >= 0; i--) {
    const g = groups[i] as number;
    if (g === 0) continue;
    if (lang === 'en') {
      words.push(enBelow1000(g) + (EN_SCALES[i] ? ` ${EN_SCALES[i]}` : ''));
    } else {
      const [forms, fem] = RU_SCALES[i] ?? [['', '', ''], false];
      words.push(ruBelow1000(g, fem) + (i > 0 ? ` ${forms[ruPlural(g)]}` : ''));
    }
  }
  if (words.length === 0) words.push(lang === 'en' ? 'zero' : 'ноль');
  return lang === 'en' ? `${words.join(' ')} tenge ${frac} tiyn` : `${words.join(' ')} тенге ${frac} тиын`;
}
