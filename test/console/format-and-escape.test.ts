import {
  amountInWords,
  formatAmount,
  formatTime,
  localDateToUtc,
  localDayStart,
} from '../../src/console/format.js';
import { escapeHtml, html } from '../../src/console/html.js';

describe('console formatting and escaping', () => {
  it('when an amount of tiyn is shown, then it is grouped by digits per language, never through a float', () => {
    expect(formatAmount(150000, 'ru')).toBe('1\u00a0500,00\u00a0₸');
    expect(formatAmount(150000, 'en')).toBe('1,500.00\u00a0KZT');
    expect(formatAmount(5, 'en')).toBe('0.05\u00a0KZT');
    // Past 2^53 tiyn the digits stay exact (a float would round the last ones).
    expect(formatAmount('900719925474099301', 'en')).toBe('9,007,199,254,740,993.01\u00a0KZT');
    expect(formatAmount(-2050, 'ru')).toBe('−20,50\u00a0₸');
  });

  it('when an amount is written in words, then Russian agrees in gender and number', () => {
    expect(amountInWords(150050, 'en')).toBe('one thousand five hundred tenge 50 tiyn');
    expect(amountInWords(150050, 'ru')).toBe('одна тысяча пятьсот тенге 50 тиын');
    expect(amountInWords(200000, 'ru')).toBe('две тысячи тенге 00 тиын');
    expect(amountInWords(1100000, 'ru')).toBe('одиннадцать тысяч тенге 00 тиын');
    expect(amountInWords(2100000000, 'ru')).toBe('двадцать один миллион тенге 00 тиын');
    expect(amountInWords(4212300, 'en')).toBe('forty-two thousand one hundred twenty-three tenge 00 tiyn');
    expect(amountInWords(7, 'ru')).toBe('ноль тенге 07 тиын');
  });

  it('when a stored UTC time is shown, then it is Kazakhstan time (UTC+5), and local days start at local midnight', () => {
    expect(formatTime('2026-12-01 20:30:00.000', '+05:00', 'en')).toBe('2026-12-02 01:30:00');
    expect(formatTime('2026-12-01 20:30:00.000', '+05:00', 'ru')).toBe('02.12.2026 01:30:00');
    expect(localDayStart(new Date('2026-12-01T20:30:00Z'), '+05:00').toISOString()).toBe(
      '2026-12-01T19:00:00.000Z',
    );
    expect(localDayStart(new Date('2026-12-01T18:30:00Z'), '+05:00', 1).toISOString()).toBe(
      '2026-11-29T19:00:00.000Z',
    );
    expect(localDateToUtc('2026-12-01', '+05:00')?.toISOString()).toBe('2026-11-30T19:00:00.000Z');
    expect(localDateToUtc('2026-13-01x', '+05:00')).toBeNull();
  });

  it('when payer text goes into a template, then it comes out escaped, and only html`` output goes in as markup', () => {
    const payer = `<img src=x onerror="alert('1')">&\``;
    expect(html`<td>${payer}</td>`.text).toBe(
      '<td>&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;</td>',
    );
    expect(html`<p>${html`<b>${payer}</b>`}</p>`.text).toBe(`<p><b>${escapeHtml(payer)}</b></p>`);
    // prettier-ignore
    expect(html`<ul>${['<a>', html`<li>x</li>`]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>x</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.text).toBe('0');
  });
});
