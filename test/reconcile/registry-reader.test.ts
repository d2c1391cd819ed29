import path from 'node:path';
import { RegistryFileError } from '../../src/reconcile/registry-errors.js';
import {
  findHeader,
  loadProfiles,
  toCanonicalRows,
  type Profile,
  type RegistryRow,
} from '../../src/reconcile/registry-profile.js';
import { DEFAULT_LIMITS, readRegistry, type ReadOptions } from '../../src/reconcile/registry-reader.js';
import { csvOf, RU_HEADER, xlsxOf, zipOf, type Encoding } from '../support/registry-files.js';

const PROFILES = loadProfiles(path.resolve('config/registry-profiles'));
const PROFILE = PROFILES.get('kaspi-default') as Profile;
const LIMITS: ReadOptions = { ...DEFAULT_LIMITS };

async function rowsOf(
  bytes: Buffer,
  opts: Partial<ReadOptions> & { sheet?: string } = {},
): Promise<RegistryRow[]> {
  const grid = await readRegistry(bytes, { ...LIMITS, ...opts });
  return toCanonicalRows(findHeader(grid, PROFILE, opts.sheet), PROFILE, '+05:00');
}

async function refusal(p: Promise<unknown>): Promise<RegistryFileError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RegistryFileError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const pick = (r: RegistryRow) => ({
  rowNo: r.rowNo,
  kind: r.kind,
  txnId: r.txnId,
  amount: r.amount,
  dateRaw: r.dateRaw,
  account: r.account,
  precision: r.txnIdPrecision,
  problem: r.problem,
});

describe('registry files: xlsx', () => {
  it('when the header sits under a title block on row 6, then it is found and the title ignored', async () => {
    const bytes = await xlsxOf([
      {
        name: 'Реестр',
        rows: [
          ['ТОО «Партнёр»'],
          ['Реестр платежей за 23.11.2026'],
          [],
          ['Период: 23.11.2026 — 23.11.2026'],
          [],
          RU_HEADER,
          ['301123456789012345', '2 000,00', '23.11.2026 14:15:00', '7011234567', 'Платёж'],
          [301123456789, 1234.56, new Date(Date.UTC(2026, 10, 23, 9, 5, 7)), '7011234568', 'платеж'],
          ['301123456789', '-100,00', '23.11.2026', '7011234567', ''],
        ],
      },
    ]);
    const rows = await rowsOf(bytes);
    expect(rows.map(pick)).toEqual([
      {
        rowNo: 7,
        kind: 'payment',
        txnId: '301123456789012345',
        amount: 200000,
        dateRaw: '20261123141500',
        account: '7011234567',
        precision: false,
        problem: null,
      },
      {
        rowNo: 8,
        kind: 'payment',
        txnId: '301123456789',
        amount: 123456,
        dateRaw: '20261123090507',
        account: '7011234568',
        precision: false,
        problem: null,
      },
      {
        rowNo: 9,
        kind: 'refund',
        txnId: '301123456789',
        amount: 10000,
        dateRaw: '20261123',
        account: '7011234567',
        precision: false,
        problem: null,
      },
    ]);
  });

  it('when an 18-digit txn_id was stored as a number, then it is TXN_ID_PRECISION, never a clean id', async () => {
    const bytes = await xlsxOf([
      { rows: [RU_HEADER, [Number('301123456789012345'), 2000, '23.11.2026', 'a', '']] },
    ]);
    const [row] = await rowsOf(bytes);
    expect(row?.txnIdPrecision).toBe(true);
    expect(row?.kind).toBe('payment');
  });

  it('when the registry is on the second sheet, then it is found, by default and by --sheet name or index', async () => {
    const bytes = await xlsxOf([
      { name: 'Сводка', rows: [['Всего за день', 5]] },
      { name: 'Реестр', rows: [RU_HEADER, ['12345', '10', '23.11.2026', 'a', '']] },
    ]);
    for (const sheet of [undefined, 'Реестр', '2'])
      expect((await rowsOf(bytes, { sheet }))[0]?.txnId).toBe('12345');
    const e = await refusal(rowsOf(bytes, { sheet: '1' }));
    expect(e.httpStatus).toBe(422);
    expect(e.details).toMatchObject({
      headersSeen: ['Всего за день', '5'],
      fieldsMissing: ['txn_id', 'amount', 'date'],
    });
  });

  it('when cells are formulas, rich text, hyperlinks or errors, then cached values and text are used and errors are ROW_INVALID', async () => {
    const bytes = await xlsxOf([
      {
        rows: [
          RU_HEADER,
          [
            '111',
            { formula: 'B3*2', result: 300 },
            '23.11.2026',
            { richText: [{ text: '70' }, { text: '1' }] },
            '',
          ],
          ['112', { formula: 'B4*2' } as unknown as number, '23.11.2026', 'x', ''],
          [
            '113',
            { error: '#N/A' } as unknown as number,
            '23.11.2026',
            { text: 'acc', hyperlink: 'http://x' },
            '',
          ],
        ],
      },
    ]);
    const rows = await rowsOf(bytes);
    expect(rows.map((r) => [r.txnId, r.kind, r.amount, r.account])).toEqual([
      ['111', 'payment', 30000, '701'],
      ['112', 'invalid', null, 'x'],
      ['113', 'invalid', null, 'acc'],
    ]);
  });

  it('when the totals row says Итого, then it is a totals row with its amount', async () => {
    const bytes = await xlsxOf([{ rows: [RU_HEADER, ['111', 100, '23.11.2026', 'a', ''], ['Итого', 100]] }]);
    expect((await rowsOf(bytes)).map((r) => [r.kind, r.amount])).toEqual([
      ['payment', 10000],
      ['totals', 10000],
    ]);
  });

  it('when an amount has no txn_id and no totals marker, then it is ROW_INVALID, not dropped', async () => {
    const bytes = await xlsxOf([
      { rows: [RU_HEADER, ['', 100, '23.11.2026', 'a', ''], ['Подпись', '', '', '', '']] },
    ]);
    expect((await rowsOf(bytes)).map((r) => [r.kind, r.problem])).toEqual([
      ['invalid', 'an amount with no txn_id'],
    ]);
  });

  it('when a zip unzips past the limit, then it is refused before exceljs reads it (real and lying sizes)', async () => {
    const bomb = zipOf([
      { name: 'xl/workbook.xml', data: Buffer.from('<workbook/>') },
      { name: 'xl/worksheets/sheet1.xml', data: Buffer.alloc(3 * 1024 * 1024) },
    ]);
    expect(bomb.length).toBeLessThan(20_000);
    const e = await refusal(readRegistry(bomb, { ...LIMITS, maxUnzippedBytes: 1024 * 1024 }));
    expect([e.code, e.httpStatus]).toEqual(['registry_zip_bomb', 422]);
    const liar = zipOf([
      { name: 'xl/workbook.xml', data: Buffer.from('<workbook/>') },
      { name: 'xl/worksheets/sheet1.xml', data: Buffer.alloc(3 * 1024 * 1024), declaredSize: 10 },
    ]);
    const l = await refusal(readRegistry(liar, { ...LIMITS, maxUnzippedBytes: 1024 * 1024 }));
    expect(l.httpStatus).toBe(422);
  });

  it('when a zip is not a workbook, then 422 "not an xlsx"', async () => {
    const e = await refusal(readRegistry(zipOf([{ name: 'a.txt', data: Buffer.from('hi') }]), LIMITS));
    expect([e.code, e.httpStatus]).toEqual(['registry_not_xlsx', 422]);
  });

  it('when the file is a legacy .xls, then 415 with "save as .xlsx or .csv"', async () => {
    const xls = Buffer.concat([
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
      Buffer.alloc(500),
    ]);
    const e = await refusal(readRegistry(xls, LIMITS));
    expect(e.httpStatus).toBe(415);
    expect(e.message).toMatch(/save as \.xlsx or \.csv/);
  });

  it('when the file is over 10 MiB or over the row limit or empty, then it is refused', async () => {
    expect((await refusal(readRegistry(Buffer.alloc(LIMITS.maxBytes + 1, 0x20), LIMITS))).httpStatus).toBe(
      413,
    );
    expect((await refusal(readRegistry(Buffer.alloc(0), LIMITS))).httpStatus).toBe(422);
    const rows = [
      RU_HEADER,
      ...Array.from({ length: 11 }, (_, i) => [String(1000 + i), '1', '23.11.2026', 'a', '']),
    ];
    const e = await refusal(readRegistry(csvOf(rows), { ...LIMITS, maxRows: 10 }));
    expect([e.code, e.httpStatus]).toEqual(['registry_too_many_rows', 422]);
    await expect(readRegistry(csvOf(rows.slice(0, 11)), { ...LIMITS, maxRows: 10 })).resolves.toBeTruthy();
  });
});

describe('registry files: CSV', () => {
  const rows = [
    ['Реестр платежей'],
    RU_HEADER,
    ['301123456789012345', '1 234,56', '23.11.2026 14:15:00', 'Ёлкин; офис 1', 'Платёж'],
    ['301123456789012346', '200.00 тг', '2026-11-23T14:15:00+06:00', '7011234567', 'Возврат'],
  ];
  const expected = [
    ['301123456789012345', 123456, '20261123141500', 'Ёлкин; офис 1', 'payment'],
    ['301123456789012346', 20000, '20261123131500', '7011234567', 'refund'],
  ];
  const cases: Array<[Encoding, string]> = [
    ['utf8', ';'],
    ['utf8-bom', ','],
    ['cp1251', ';'],
    ['utf16le-bom', '\t'],
    ['cp1251', '\t'],
    ['utf8', ','],
  ];
  it.each(cases)(
    'when the CSV is %s with %j, then encoding and delimiter are detected',
    async (enc, delim) => {
      const grid = await readRegistry(csvOf(rows, delim, enc), LIMITS);
      expect(grid.delimiter).toBe(delim);
      const got = toCanonicalRows(findHeader(grid, PROFILE), PROFILE, '+05:00');
      expect(got.map((r) => [r.txnId, r.amount, r.dateRaw, r.account, r.kind])).toEqual(expected);
    },
  );

  it('when --encoding and --delimiter are forced, then they are used', async () => {
    const grid = await readRegistry(csvOf(rows, ';', 'cp1251'), {
      ...LIMITS,
      encoding: 'cp1251',
      delimiter: ';',
    });
    expect(grid.encoding).toBe('cp1251');
    expect(toCanonicalRows(findHeader(grid, PROFILE), PROFILE, '+05:00')).toHaveLength(2);
  });

  it('when a field is quoted with a newline inside, rows are ragged and lines end in LF, then it still reads', async () => {
    const text = `${RU_HEADER.join(';')};;\n"111";"10,00";"23.11.2026";"line1\nline2"\n112;5;23.11.2026;a;;;;\n`;
    const got = await rowsOf(Buffer.from(text));
    expect(got.map((r) => [r.txnId, r.amount, r.account])).toEqual([
      ['111', 1000, 'line1\nline2'],
      ['112', 500, 'a'],
    ]);
  });

  it('when an xlsx is named .csv or a CSV .xlsx, then the bytes decide', async () => {
    const x = await xlsxOf([{ rows: [RU_HEADER, ['111', 1, '23.11.2026', 'a', '']] }]);
    expect((await readRegistry(x, LIMITS)).format).toBe('xlsx');
    expect((await readRegistry(csvOf(rows), LIMITS)).format).toBe('csv');
  });

  it('when txn_ids are "1.23457E+17", "\'1234567", "1234567.0" or NBSP-padded, then precision or digits as written', async () => {
    const got = await rowsOf(
      csvOf([
        RU_HEADER,
        ['1.23457E+17', '1', '23.11.2026', 'a', ''],
        ["'1234567", '1', '23.11.2026', 'a', ''],
        ['1234567.0', '1', '23.11.2026', 'a', ''],
        ['\u00a0007\u00a0', '1', '23.11.2026', 'a', ''],
      ]),
    );
    expect(got.map((r) => [r.txnId, r.txnIdPrecision])).toEqual([
      ['123457000000000000', true],
      ['1234567', false],
      ['1234567', false],
      ['007', false],
    ]);
  });

  it('when two columns map to amount, then 422 names both; a required column missing names it', async () => {
    const dup = await refusal(
      rowsOf(
        csvOf([
          ['№ платежа', 'Сумма', 'Amount', 'Дата'],
          ['1', '1', '1', '23.11.2026'],
        ]),
      ),
    );
    expect(dup.details).toMatchObject({ field: 'amount', columns: ['Сумма', 'Amount'] });
    const miss = await refusal(
      rowsOf(
        csvOf([
          ['№ платежа', 'Сумма', 'Клиент'],
          ['1', '1', 'x'],
        ]),
      ),
    );
    expect(miss.httpStatus).toBe(422);
    expect(miss.details).toMatchObject({
      headersSeen: ['№ платежа', 'Сумма', 'Клиент'],
      fieldsMissing: ['date'],
    });
  });

  it('when header spellings differ in case, ё, spaces, № and (тг), then they still map', async () => {
    const got = await rowsOf(
      csvOf([
        ['  №   ПЛАТЕЖА ', 'Сумма (тг)', 'ДАТА ПЛАТЁЖА', 'лицевой   счет'],
        ['5', '1', '23.11.2026', 'x'],
      ]),
    );
    expect(got.map((r) => [r.txnId, r.amount, r.account])).toEqual([['5', 100, 'x']]);
  });
});
