import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Readable } from 'node:stream';
import { RegistryFileError } from './registry-errors.js';

/**
 * Bytes → a grid of cells (registries-seed-notes §1.8): the type by magic bytes, never by name;
 * xlsx through exceljs after a zip size check with yauzl (a zip bomb never reaches exceljs);
 * CSV through iconv-lite + csv-parse. No profile knowledge here: ./registry-profile.ts maps the grid.
 */

/** One cell as the file holds it. A date cell is the wall clock written in the sheet, no zone applied. */
export type Cell =
  | { t: 'empty' }
  | { t: 'text'; v: string }
  | { t: 'number'; v: number }
  | { t: 'date'; v: string } // YYYYMMDDhhmmss
  | { t: 'bad'; v: string }; // an error cell (#N/A) or a formula with no cached value

/** One object for every empty cell: a 200 000-row sheet would otherwise hold a million of them. */
export const EMPTY_CELL: Cell = Object.freeze({ t: 'empty' }) as Cell;

export interface Sheet {
  name: string;
  rows: Cell[][];
}

export type RegistryFormat = 'xlsx' | 'csv';
export type EncodingChoice = 'auto' | 'utf8' | 'cp1251' | 'utf16le';
export type DelimiterChoice = 'auto' | ';' | ',' | 'tab';

export interface ReadOptions {
  maxBytes: number;
  maxRows: number;
  maxUnzippedBytes: number;
  encoding?: EncodingChoice;
  delimiter?: DelimiterChoice;
}

export interface Grid {
  format: RegistryFormat;
  /** CSV only: the encoding used (stored on the file row). */
  encoding: string | null;
  delimiter: string | null;
  sheets: Sheet[];
}

export const DEFAULT_LIMITS = {
  maxBytes: 10 * 1024 * 1024,
  maxRows: 200_000,
  maxUnzippedBytes: 200 * 1024 * 1024,
  maxZipEntries: 1000,
};

const XLS_MESSAGE = 'legacy .xls: open it and save as .xlsx or .csv';

export function detectFormat(bytes: Buffer): RegistryFormat {
  if (bytes.length >= 4 && bytes[0] === 0xd0 && bytes[1] === 0xcf && bytes[2] === 0x11 && bytes[3] === 0xe0)
    throw new RegistryFileError('registry_xls', XLS_MESSAGE, 415);
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return 'xlsx';
  return 'csv';
}

export async function readRegistry(bytes: Buffer, opts: ReadOptions): Promise<Grid> {
  if (bytes.length > opts.maxBytes)
    throw new RegistryFileError(
      'registry_too_large',
      `the file is ${bytes.length} bytes; the limit is ${opts.maxBytes}`,
      413,
      { bytes: bytes.length, limit: opts.maxBytes },
    );
  if (bytes.length === 0) throw new RegistryFileError('registry_empty', 'the file is empty', 422);
  const format = detectFormat(bytes);
  const grid = format === 'xlsx' ? await readXlsx(bytes, opts) : readCsv(bytes, opts);
  for (const s of grid.sheets) {
    const dataRows = s.rows.filter((r) => r.some((c) => c.t !== 'empty')).length;
    if (dataRows > opts.maxRows + 1)
      throw new RegistryFileError(
        'registry_too_many_rows',
        `sheet "${s.name}" has ${dataRows} rows; the limit is ${opts.maxRows}`,
        422,
        { rows: dataRows, limit: opts.maxRows },
      );
  }
  return grid;
}

// ---------------------------------------------------------------- xlsx

/**
 * The zip as yauzl sees it: at most 1 000 entries, the declared sizes within the limit, then every
 * entry inflated and counted (a header may lie), stopping as soon as the real total passes the
 * limit. Only then does exceljs get the bytes.
 */
export async function checkZip(bytes: Buffer, maxUnzippedBytes: number): Promise<void> {
  const yauzl = (await import('yauzl')).default;
  const notZip = (e: unknown) =>
    new RegistryFileError('registry_not_xlsx', 'not an xlsx workbook (the zip cannot be read)', 422, {
      reason: e instanceof Error ? e.message : String(e),
    });
  const zip = await new Promise<import('yauzl').ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true }, (err, z) =>
      err || !z ? reject(notZip(err)) : resolve(z),
    ),
  );
  if (zip.entryCount > DEFAULT_LIMITS.maxZipEntries) {
    zip.close();
    throw new RegistryFileError('registry_zip_bomb', `the workbook has ${zip.entryCount} zip entries`, 422);
  }
  const tooBig = () =>
    new RegistryFileError(
      'registry_zip_bomb',
      `the workbook unzips to more than ${maxUnzippedBytes} bytes: refused`,
      422,
      { limit: maxUnzippedBytes },
    );
  let declared = 0;
  let actual = 0;
  let hasWorkbook = false;
  await new Promise<void>((resolve, reject) => {
    let done = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      zip.close();
      reject(e instanceof RegistryFileError ? e : notZip(e));
    };
    zip.on('error', fail);
    zip.on('end', () => {
      if (done) return;
      done = true;
      resolve();
    });
    zip.on('entry', (entry: import('yauzl').Entry) => {
      if (entry.fileName === 'xl/workbook.xml') hasWorkbook = true;
      declared += entry.uncompressedSize;
      if (declared > maxUnzippedBytes) return fail(tooBig());
      if (entry.fileName.endsWith('/')) return zip.readEntry();
      zip.openReadStream(entry, (err, stream: Readable | undefined) => {
        if (err || !stream) return fail(err);
        stream.on('data', (chunk: Buffer) => {
          actual += chunk.length;
          if (actual > maxUnzippedBytes) {
            stream.destroy();
            fail(tooBig());
          }
        });
        stream.on('error', fail);
        stream.on('end', () => zip.readEntry());
      });
    });
    zip.readEntry();
  });
  if (!hasWorkbook)
    throw new RegistryFileError(
      'registry_not_xlsx',
      'a zip but not an xlsx workbook (no xl/workbook.xml)',
      422,
    );
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** exceljs gives a Date whose UTC fields are the wall clock in the sheet: read them, apply no zone. */
export function wallClockOf(d: Date): string | null {
  if (Number.isNaN(d.getTime())) return null;
  const ms = Math.round(d.getTime() / 1000) * 1000; // times rounded to the second
  const r = new Date(ms);
  return (
    pad(r.getUTCFullYear(), 4) +
    pad(r.getUTCMonth() + 1) +
    pad(r.getUTCDate()) +
    pad(r.getUTCHours()) +
    pad(r.getUTCMinutes()) +
    pad(r.getUTCSeconds())
  );
}

function xlsxCell(value: unknown, date1904: boolean): Cell {
  if (value === null || value === undefined) return EMPTY_CELL;
  if (typeof value === 'number')
    return Number.isFinite(value) ? { t: 'number', v: value } : { t: 'bad', v: '' };
  if (typeof value === 'string') return value.trim() === '' ? EMPTY_CELL : { t: 'text', v: value };
  if (typeof value === 'boolean') return { t: 'text', v: String(value) };
  if (value instanceof Date) {
    // exceljs reads 1904 workbooks as if 1900: the serial is 1 462 days short.
    const d = date1904 ? new Date(value.getTime() + 1462 * 86_400_000) : value;
    const w = wallClockOf(d);
    return w ? { t: 'date', v: w } : { t: 'bad', v: 'invalid date' };
  }
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('error' in o) return { t: 'bad', v: String(o.error) };
    if ('richText' in o && Array.isArray(o.richText))
      return xlsxCell((o.richText as { text?: string }[]).map((p) => p.text ?? '').join(''), date1904);
    if ('formula' in o || 'sharedFormula' in o) {
      if (o.result === undefined || o.result === null) return { t: 'bad', v: 'formula with no cached value' };
      return xlsxCell(o.result, date1904);
    }
    if ('hyperlink' in o || 'text' in o) return xlsxCell(o.text, date1904);
  }
  return { t: 'text', v: String(value) };
}

async function readXlsx(bytes: Buffer, opts: ReadOptions): Promise<Grid> {
  await checkZip(bytes, opts.maxUnzippedBytes);
  const ExcelJS = (await import('exceljs')).default;
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch (e) {
    throw new RegistryFileError('registry_not_xlsx', 'the workbook cannot be read', 422, {
      reason: e instanceof Error ? e.message : String(e),
    });
  }
  const date1904 = Boolean((wb.properties as { date1904?: boolean } | undefined)?.date1904);
  const sheets: Sheet[] = [];
  for (const ws of wb.worksheets) {
    if (ws.rowCount > opts.maxRows + DEFAULT_LIMITS.maxZipEntries)
      throw new RegistryFileError(
        'registry_too_many_rows',
        `sheet "${ws.name}" has ${ws.rowCount} rows; the limit is ${opts.maxRows}`,
        422,
      );
    const rows: Cell[][] = [];
    const width = ws.columnCount;
    ws.eachRow({ includeEmpty: true }, (row, rowNo) => {
      const cells: Cell[] = [];
      for (let c = 1; c <= width; c++) cells.push(xlsxCell(row.getCell(c).value, date1904));
      rows[rowNo - 1] = cells;
    });
    for (let i = 0; i < rows.length; i++) rows[i] ??= [];
    sheets.push({ name: ws.name, rows });
  }
  return { format: 'xlsx', encoding: null, delimiter: null, sheets };
}

// ---------------------------------------------------------------- csv

export function decodeText(
  bytes: Buffer,
  choice: EncodingChoice = 'auto',
): { text: string; encoding: string } {
  if (choice === 'utf8') return { text: stripBom(bytes.toString('utf8')), encoding: 'utf8' };
  if (choice === 'cp1251') return { text: iconv.decode(bytes, 'win1251'), encoding: 'cp1251' };
  if (choice === 'utf16le') return { text: stripBom(iconv.decode(bytes, 'utf16le')), encoding: 'utf16le' };
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { text: bytes.subarray(3).toString('utf8'), encoding: 'utf8-bom' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { text: iconv.decode(bytes.subarray(2), 'utf16le'), encoding: 'utf16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return { text: iconv.decode(bytes.subarray(2), 'utf16be'), encoding: 'utf16be' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf8' };
  } catch {
    return { text: iconv.decode(bytes, 'win1251'), encoding: 'cp1251' };
  }
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

function parseRecords(input: string | Buffer, delimiter: string, toLine?: number): string[][] {
  return parseCsv(input, {
    delimiter,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    bom: true,
    ...(toLine ? { to_line: toLine } : {}),
  });
}

/**
 * The one of `;`, `,`, tab that splits a line into the most fields with the same count on the
 * next 5 non-empty lines (the header row and the rows under it); ties go in that order.
 */
export function detectDelimiter(text: string): string {
  let best = ';';
  let bestScore = -1;
  for (const d of [';', ',', '\t']) {
    let recs: string[][];
    try {
      recs = parseRecords(text, d, 60);
    } catch {
      continue;
    }
    const counts = recs.map((r) => r.filter((c, i) => c.trim() !== '' || i < r.length - 1).length);
    let score = 0;
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i] as number;
      if (n <= score) continue;
      const next = counts.slice(i + 1, i + 6);
      if (next.length === 0 || next.every((m) => m === n)) score = n;
    }
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best;
}

/** The first lines of a UTF-8 buffer as text (whole lines only): enough to find the delimiter. */
function headText(bytes: Buffer, max = 64 * 1024): string {
  if (bytes.length <= max) return bytes.toString('utf8');
  const cut = bytes.lastIndexOf(0x0a, max);
  return bytes.subarray(0, cut > 0 ? cut : max).toString('utf8');
}

/**
 * What csv-parse reads. UTF-8 (with or without a BOM) goes in as the bytes themselves: csv-parse
 * works on a Buffer anyway, and a 13 MB registry decoded to a JS string first would be a 26 MB
 * copy (two bytes a character once one Cyrillic letter is in it) plus csv-parse's re-encoded one.
 */
function csvInput(
  bytes: Buffer,
  choice: EncodingChoice = 'auto',
): { input: string | Buffer; head: string; encoding: string } {
  const utf8Bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  if (choice === 'utf8' || (choice === 'auto' && (utf8Bom || (!utf16 && isUtf8(bytes)))))
    return {
      input: bytes,
      head: stripBom(headText(bytes)),
      encoding: choice === 'auto' && utf8Bom ? 'utf8-bom' : 'utf8',
    };
  const { text, encoding } = decodeText(bytes, choice);
  return { input: text, head: text.slice(0, 64 * 1024), encoding };
}

const toCells = (r: string[]): Cell[] => r.map((v) => (v.trim() === '' ? EMPTY_CELL : { t: 'text', v }));

function readCsv(bytes: Buffer, opts: ReadOptions): Grid {
  const { input, head, encoding } = csvInput(bytes, opts.encoding);
  const delimiter =
    !opts.delimiter || opts.delimiter === 'auto'
      ? detectDelimiter(head)
      : opts.delimiter === 'tab'
        ? '\t'
        : opts.delimiter;
  let rows: Cell[][];
  try {
    // The records become cells in place once parsed. Not through csv-parse's on_record: that makes
    // an info object per record (2 s of a 200 000-row import); the cells share the parsed strings.
    const records: Array<string[] | Cell[]> = parseRecords(input, delimiter);
    for (let i = 0; i < records.length; i++) records[i] = toCells(records[i] as string[]);
    rows = records as Cell[][];
  } catch (e) {
    throw new RegistryFileError('registry_unreadable', 'the CSV cannot be parsed', 422, {
      reason: e instanceof Error ? e.message : String(e),
    });
  }
  return { format: 'csv', encoding, delimiter, sheets: [{ name: 'csv', rows }] };
}
