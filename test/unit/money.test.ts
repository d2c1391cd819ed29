import { formatTenge, parseTenge, toTiyn } from '../../src/shared/money.js';
import { parseQuery } from '../../src/kaspi/kaspi-request.js';
import { readTxnDate } from '../../src/shared/txn-date.js';
import { escapeXml } from '../../src/kaspi/kaspi-xml.js';

describe('money is integer tiyn', () => {
  it.each([
    ['0', 0],
    ['0.01', 1],
    ['200', 20000],
    ['200.5', 20050],
    ['200.50', 20050],
    ['0.10', 10],
    ['90071992547409.91', 9007199254740991],
  ])('when %p is parsed, then %i tiyn', (text, tiyn) => {
    expect(parseTenge(text)).toBe(tiyn);
  });

  it.each([
    ['-1'],
    ['1e2'],
    ['1,5'],
    ['1.234'],
    [''],
    ['.5'],
    ['5.'],
    ['Infinity'],
    ['NaN'],
    ['90071992547409.92'],
    ['１２'],
  ])('when %p is parsed, then it is refused', (text) => {
    expect(parseTenge(text)).toBeNull();
  });

  it('when tiyn are formatted, then two decimals and no float error', () => {
    expect(formatTenge(1)).toBe('0.01');
    expect(formatTenge(20050)).toBe('200.50');
    expect(formatTenge('9007199254740991')).toBe('90071992547409.91');
    expect(formatTenge(-150)).toBe('-1.50');
  });

  it('when the database hands back a BIGINT string, then it becomes a safe integer or an error', () => {
    expect(toTiyn('12345')).toBe(12345);
    expect(toTiyn(12345)).toBe(12345);
    expect(() => toTiyn('12.5')).toThrow();
    expect(() => toTiyn('')).toThrow();
    expect(() => toTiyn('99999999999999999')).toThrow();
    expect(() => toTiyn(1.5)).toThrow();
  });
});

describe('Kaspi query and date reading', () => {
  it('when keys repeat or carry brackets, then the query is malformed', () => {
    expect(parseQuery('a=1&a=2')).toBeNull();
    expect(parseQuery('a[x]=1')).toBeNull();
    expect(parseQuery('a%5Bx%5D=1')).toBeNull();
    expect(parseQuery('a=1&b=2')?.get('b')).toBe('2');
  });

  it('when txn_date is Kazakhstan time, then the instant is 5 hours earlier in UTC', () => {
    expect(readTxnDate('20261123141500', '+05:00')).toEqual({
      utc: '2026-11-23 09:15:00.000',
      iso: '2026-11-23T14:15:00+05:00',
    });
    expect(readTxnDate('20260101030000', '+05:00')?.utc).toBe('2025-12-31 22:00:00.000');
    expect(readTxnDate('20260101030000', '-03:30')?.utc).toBe('2026-01-01 06:30:00.000');
    expect(readTxnDate('20250229000000', '+05:00')).toBeNull();
  });

  it('when text has XML specials or control characters, then it is escaped or dropped', () => {
    expect(escapeXml(`<a&b>"'`)).toBe('&lt;a&amp;b&gt;&quot;&apos;');
    expect(escapeXml('a\u0000b\u0007c\td')).toBe('abc\td');
  });
});
