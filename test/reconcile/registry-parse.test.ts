import fc from 'fast-check';
import {
  parseAmountNumber,
  parseAmountText,
  parseDateSerial,
  parseDateText,
  parseTxnIdNumber,
  precisionPrefix,
  parseTxnIdText,
} from '../../src/reconcile/registry-parse.js';
import { formatTenge } from '../../src/shared/money.js';

const value = <T>(p: { ok: true; value: T } | { ok: false; problem: string }) => (p.ok ? p.value : null);

describe('registry amounts', () => {
  it.each([
    ['200', 20000],
    ['200.5', 20050],
    ['1234.56', 123456],
    ['1 234,56', 123456],
    ['1\u00a0234,56', 123456],
    ['1\u2009234,56', 123456],
    ['1\u202f234,56', 123456],
    ['200.00 ₸', 20000],
    ['200,00 тг', 20000],
    ['200 KZT', 20000],
    ['-100,00', -10000],
    ['100,00-', -10000],
    ['(100,00)', -10000],
    ['1,234,567.89', 123456789],
    ['1.234.567,89', 123456789],
    ['0,01', 1],
  ])('when the text is %j, then %d tiyn', (text, tiyn) => {
    expect(value(parseAmountText(text))).toBe(tiyn);
  });

  it.each(['1.2E+3', '1,234', '1.005', '', 'abc', '1.2.3', '12,34,56', '--1', '1e5'])(
    'when the text is %j, then it is refused',
    (text) => {
      expect(parseAmountText(text).ok).toBe(false);
    },
  );

  it('when a number cell holds a float artifact, then it is refused; whole tiyn numbers pass', () => {
    expect(parseAmountNumber(0.1 + 0.2).ok).toBe(false);
    expect(value(parseAmountNumber(200.5))).toBe(20050);
    expect(value(parseAmountNumber(1234.56))).toBe(123456);
    expect(parseAmountNumber(1e21).ok).toBe(false);
  });

  it('when any amount of tiyn is written as tenge text, then it reads back exactly (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.boolean(), (tiyn, comma) => {
        const text = formatTenge(tiyn);
        expect(value(parseAmountText(comma ? text.replace('.', ',') : text))).toBe(Number(tiyn));
      }),
    );
  });
});

describe('registry dates', () => {
  it.each([
    ['23.11.2026 14:15:00', '20261123141500'],
    ['23.11.2026 14:15', '20261123141500'],
    ['23.11.2026', '20261123'],
    ['23/11/2026', '20261123'],
    ['2026-11-23', '20261123'],
    ['2026-11-23 14:15:00', '20261123141500'],
    ['2026-11-23T14:15:00+06:00', '20261123131500'],
    ['2026-11-23T23:30:00Z', '20261124043000'],
    ['20261123141500', '20261123141500'],
    ['20261123', '20261123'],
  ])('when the text is %j, then %s', (text, raw) => {
    expect(value(parseDateText(text, '+05:00'))).toBe(raw);
  });

  it.each(['11/23/2026', '31.02.2026', '23.11.26', '2026-13-01', 'вчера'])(
    'when the text is %j, then refused',
    (t) => {
      expect(parseDateText(t, '+05:00').ok).toBe(false);
    },
  );

  it('when an Excel serial has a time fraction, then the wall clock to the second; 1904 adds 1 462 days', () => {
    expect(value(parseDateSerial(46349.59375))).toBe('20261123141500');
    expect(value(parseDateSerial(46349))).toBe('20261123');
    expect(value(parseDateSerial(46349 - 1462, true))).toBe('20261123');
  });
});

describe('registry txn_ids', () => {
  it('when an 18-digit id is text, then it is kept exactly, never through a number', () => {
    expect(value(parseTxnIdText('301123456789012345'))).toEqual({
      txnId: '301123456789012345',
      precision: false,
    });
    expect(value(parseTxnIdText('000123'))).toEqual({ txnId: '000123', precision: false });
    expect(parseTxnIdText('1234567890123456789').ok).toBe(false);
    expect(parseTxnIdText('12a').ok).toBe(false);
  });

  it('when a numeric cell has more than 15 significant digits, then precision; up to 15, the digits', () => {
    expect(value(parseTxnIdNumber(301123456789))).toEqual({ txnId: '301123456789', precision: false });
    expect(value(parseTxnIdNumber(123456789012345))).toEqual({ txnId: '123456789012345', precision: false });
    expect(value(parseTxnIdNumber(3011234567890123))?.precision).toBe(true);
    expect(value(parseTxnIdNumber(Number('301123456789012345')))?.precision).toBe(true);
    expect(parseTxnIdNumber(12.5).ok).toBe(false);
  });

  it('when a txn_id is text in scientific notation (Excel to CSV), then precision, written out to its length', () => {
    expect(value(parseTxnIdText('1.23457E+17'))).toEqual({ txnId: '123457000000000000', precision: true });
    expect(value(parseTxnIdText('1,23457e+17'))).toEqual({ txnId: '123457000000000000', precision: true });
    expect(value(parseTxnIdText('3E17'))).toEqual({ txnId: '300000000000000000', precision: true });
    expect(value(parseTxnIdText('12.5E+16'))).toEqual({ txnId: '125000000000000000', precision: true });
    // Not an integer, or longer than any txn_id column: not a txn_id at all.
    expect(parseTxnIdText('1.2345E+2').ok).toBe(false);
    expect(parseTxnIdText('1E+99').ok).toBe(false);
    expect(precisionPrefix('123457000000000000')).toBe('123457');
    expect(precisionPrefix(value(parseTxnIdNumber(Number('301123456789012345')))?.txnId ?? '')).toBe(
      '301123456789012',
    );
  });

  it('when any id of 1–18 digits is text, then it reads back as the same string (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,18}$/), (id) => {
        expect(value(parseTxnIdText(` ${id}\u00a0`))?.txnId).toBe(id);
      }),
    );
  });
});
