import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';

/**
 * Registry files made in the test (never committed binaries): xlsx written with exceljs, CSV in each
 * encoding and delimiter Kaspi's or Excel's export may use, and hand-built zips for the bomb checks.
 */

export type CellValue = string | number | Date | null | ExcelJS.CellValue;

export interface SheetSpec {
  name?: string;
  rows: CellValue[][];
  /** Column number formats by 1-based column, e.g. { 3: 'dd.mm.yyyy hh:mm:ss' }. */
  numFmt?: Record<number, string>;
}

export async function xlsxOf(sheets: SheetSpec[], opts: { date1904?: boolean } = {}): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  if (opts.date1904) wb.properties.date1904 = true;
  sheets.forEach((s, i) => {
    const ws = wb.addWorksheet(s.name ?? `Sheet${i + 1}`);
    for (const r of s.rows) ws.addRow(r);
    for (const [col, fmt] of Object.entries(s.numFmt ?? {})) ws.getColumn(Number(col)).numFmt = fmt;
  });
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export type Encoding = 'utf8' | 'utf8-bom' | 'cp1251' | 'utf16le-bom';

export function csvOf(rows: string[][], delimiter = ';', encoding: Encoding = 'utf8', eol = '\r\n'): Buffer {
  const quote = (v: string) =>
    v.includes(delimiter) || v.includes('"') || v.includes('\n') ? `"${v.replace(/"/g, '""')}"` : v;
  const text = rows.map((r) => r.map(quote).join(delimiter)).join(eol) + eol;
  switch (encoding) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'utf8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'cp1251':
      return iconv.encode(text, 'win1251');
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf16le')]);
  }
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

export interface ZipEntrySpec {
  name: string;
  data: Buffer;
  /** Write this as the declared uncompressed size instead of the real one (a lying header). */
  declaredSize?: number;
}

/** A plain zip (deflate), enough to hand-make a bomb or a zip that is not a workbook. */
export function zipOf(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const comp = zlib.deflateRawSync(e.data, { level: 9 });
    const crc = crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, comp);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(comp.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** The header the kaspi-default profile reads, in Russian. */
export const RU_HEADER = ['№ платежа', 'Сумма, тг', 'Дата и время', 'Лицевой счёт', 'Тип операции'];
