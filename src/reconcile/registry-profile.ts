import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RegistryFileError } from './registry-errors.js';
import {
  dateCellValue,
  parseAmountNumber,
  parseAmountText,
  parseDateSerial,
  parseDateText,
  parseTxnIdNumber,
  parseTxnIdText,
  type Parsed,
} from './registry-parse.js';
import type { Cell, Grid, Sheet } from './registry-reader.js';

/**
 * A profile maps a file's columns to the canonical row (registries-seed-notes §1.5): a JSON file of
 * header aliases in config/registry-profiles/, edited without code. Here: load and validate it, find
 * the header row, and turn each data row into a canonical row.
 */

export const FIELDS = [
  'txn_id',
  'amount',
  'date',
  'type',
  'refund_ref',
  'account',
  'prv_txn',
  'commission',
  'returned_commission',
  'status',
  'channel',
] as const;
export type Field = (typeof FIELDS)[number];
export const REQUIRED_FIELDS: readonly Field[] = ['txn_id', 'amount', 'date'];

const aliases = z.array(z.string().min(1)).default([]);

export const ProfileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
    note: z.string().optional(),
    headerSearchRows: z.number().int().min(1).max(1000).default(30),
    columns: z
      .object({
        txn_id: z.array(z.string().min(1)).min(1),
        amount: z.array(z.string().min(1)).min(1),
        date: z.array(z.string().min(1)).min(1),
        type: aliases,
        refund_ref: aliases,
        account: aliases,
        prv_txn: aliases,
        commission: aliases,
        returned_commission: aliases,
        status: aliases,
        channel: aliases,
      })
      .strict(),
    typeValues: z
      .object({ payment: z.array(z.string()).default([]), refund: z.array(z.string()).default([]) })
      .strict()
      .default({ payment: [], refund: [] }),
    successValues: z.array(z.string()).default([]),
    totalsMarkers: z.array(z.string()).default([]),
    excludeRows: z.array(z.object({ field: z.enum(FIELDS), equals: z.string() }).strict()).default([]),
    accountCompare: z.enum(['exact', 'digits', 'last10']).default('exact'),
  })
  .strict();
export type Profile = z.infer<typeof ProfileSchema>;

export function loadProfiles(dir: string): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const f of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (e) {
      throw new Error(`registry profile ${f}: not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const r = ProfileSchema.safeParse(json);
    if (!r.success)
      throw new Error(
        `registry profile ${f}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    if (`${r.data.name}.json` !== f) throw new Error(`registry profile ${f}: its name is "${r.data.name}"`);
    out.set(r.data.name, r.data);
  }
  return out;
}

/** Lower case, ё→е, whitespace collapsed, №, #, :, * and a trailing (тг), (kzt), ", тг", ₸ removed. */
export function normalizeHeader(s: string): string {
  return s
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/[№#:*₸]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\s*(\((тг|kzt|тенге)\)|,\s*(тг|kzt))$/u, '')
    .trim();
}

const normValue = (s: string) => s.toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ').trim();

/** Text as a person sees it in the cell. */
export function cellText(c: Cell | undefined): string {
  if (!c || c.t === 'empty') return '';
  if (c.t === 'number') return String(c.v);
  return c.v;
}

export interface HeaderMatch {
  sheet: Sheet;
  sheetIndex: number;
  headerRowIndex: number; // 0-based
  columns: Partial<Record<Field, number>>;
  headers: string[];
}

function mapHeader(
  row: Cell[],
  profile: Profile,
): { columns: Partial<Record<Field, number>>; dup: string[] | null } {
  const table = new Map<string, Field>();
  for (const f of FIELDS) for (const a of profile.columns[f]) table.set(normalizeHeader(a), f);
  const columns: Partial<Record<Field, number>> = {};
  let dup: string[] | null = null;
  for (let i = 0; i < row.length; i++) {
    const h = normalizeHeader(cellText(row[i]));
    const f = h ? table.get(h) : undefined;
    if (!f) continue;
    if (columns[f] !== undefined) dup ??= [f, cellText(row[columns[f] as number]), cellText(row[i])];
    else columns[f] = i;
  }
  return { columns, dup };
}

/**
 * The first row within `headerSearchRows` that names every required field, on the chosen sheet
 * (name or 1-based index) or the first sheet that has one. Otherwise a 422 naming the headers seen
 * (the row that named the most fields) and the fields missing.
 */
export function findHeader(grid: Grid, profile: Profile, sheetChoice?: string): HeaderMatch {
  let sheets = grid.sheets.map((sheet, i) => ({ sheet, i }));
  if (sheetChoice) {
    const byIndex = /^\d+$/.test(sheetChoice) ? sheets[Number(sheetChoice) - 1] : undefined;
    const chosen = byIndex ?? sheets.find((s) => s.sheet.name === sheetChoice);
    if (!chosen)
      throw new RegistryFileError('registry_no_sheet', `no sheet "${sheetChoice}"`, 422, {
        sheets: grid.sheets.map((s) => s.name),
      });
    sheets = [chosen];
  }
  let best: { headers: string[]; found: Field[]; sheet: string } | null = null;
  for (const { sheet, i } of sheets) {
    const limit = Math.min(sheet.rows.length, profile.headerSearchRows);
    for (let r = 0; r < limit; r++) {
      const row = sheet.rows[r] ?? [];
      const { columns, dup } = mapHeader(row, profile);
      const found = FIELDS.filter((f) => columns[f] !== undefined);
      if (dup && REQUIRED_FIELDS.every((f) => columns[f] !== undefined))
        throw new RegistryFileError(
          'registry_header_ambiguous',
          `two columns map to ${dup[0]}: "${dup[1]}" and "${dup[2]}"`,
          422,
          { field: dup[0], columns: [dup[1], dup[2]], sheet: sheet.name, row: r + 1 },
        );
      if (REQUIRED_FIELDS.every((f) => columns[f] !== undefined)) {
        return {
          sheet,
          sheetIndex: i,
          headerRowIndex: r,
          columns,
          headers: row.map((c) => cellText(c)),
        };
      }
      const headers = row.map((c) => cellText(c)).filter((t) => t !== '');
      if (headers.length && (!best || found.length > best.found.length))
        best = { headers, found, sheet: sheet.name };
    }
  }
  const missing = REQUIRED_FIELDS.filter((f) => !best?.found.includes(f));
  throw new RegistryFileError(
    'registry_no_header',
    `no header row naming ${REQUIRED_FIELDS.join(', ')} in the first ${profile.headerSearchRows} rows` +
      ` (profile ${profile.name}); missing: ${missing.join(', ')}`,
    422,
    {
      profile: profile.name,
      headersSeen: best?.headers ?? [],
      sheet: best?.sheet ?? null,
      fieldsMissing: missing,
      sheets: grid.sheets.map((s) => s.name),
    },
  );
}

export type RowKind = 'payment' | 'refund' | 'totals' | 'invalid' | 'excluded';

/** The canonical registry row (§1.5). Amounts are tiyn, ≥ 0; the sign is in `kind`. */
export interface RegistryRow {
  rowNo: number; // 1-based, as in the sheet
  kind: RowKind;
  txnId: string | null;
  /** The txn_id came from a numeric cell that lost digits (TXN_ID_PRECISION): never auto-matched. */
  txnIdPrecision: boolean;
  refundRef: string | null;
  amount: number | null;
  commission: number | null;
  returnedCommission: number | null;
  dateRaw: string | null; // YYYYMMDD or YYYYMMDDhhmmss
  account: string | null;
  prvTxn: string | null;
  status: string | null;
  /** null when the file has no status column. */
  statusSuccess: boolean | null;
  channel: string | null;
  raw: Record<string, string>;
  problem: string | null;
}

function amountOf(c: Cell | undefined): Parsed<number> | null {
  if (!c || c.t === 'empty') return null;
  if (c.t === 'number') return parseAmountNumber(c.v);
  if (c.t === 'text') return parseAmountText(c.v);
  if (c.t === 'bad') return { ok: false, problem: `bad cell: ${c.v}` };
  return { ok: false, problem: 'a date where an amount should be' };
}

function dateOf(c: Cell | undefined, offset: string): Parsed<string> {
  if (!c || c.t === 'empty') return { ok: false, problem: 'no date' };
  if (c.t === 'date') return { ok: true, value: dateCellValue(c.v) };
  if (c.t === 'number') return parseDateSerial(c.v);
  if (c.t === 'text') return parseDateText(c.v, offset);
  return { ok: false, problem: `bad cell: ${c.v}` };
}

function txnIdOf(c: Cell | undefined) {
  if (!c || c.t === 'empty') return null;
  if (c.t === 'number') return parseTxnIdNumber(c.v);
  if (c.t === 'text') return parseTxnIdText(c.v);
  if (c.t === 'bad') return { ok: false as const, problem: `bad cell: ${c.v}` };
  return { ok: false as const, problem: 'a date where a txn_id should be' };
}

const NO_CELLS: Cell[] = [];

const hasDigit = (c: Cell | undefined) =>
  !!c && (c.t === 'number' || c.t === 'bad' || (c.t === 'text' && /\d/.test(c.v)));

const str = (c: Cell | undefined, max: number) => {
  const t = cellText(c).trim();
  return t === '' ? null : t.slice(0, max);
};

/**
 * Every data row under the header as a canonical row. Empty rows and rows with no txn_id-like value
 * are skipped, unless they hold a totals marker (a totals row) or an amount (ROW_INVALID: no money
 * row is lost silently). With `release` the sheet's rows are emptied as they are read (the grid
 * cannot be read twice then).
 */
export function toCanonicalRows(
  match: HeaderMatch,
  profile: Profile,
  offset: string,
  opts: { release?: boolean } = {},
): RegistryRow[] {
  const col = match.columns;
  const at = (row: Cell[], f: Field) => (col[f] === undefined ? undefined : row[col[f] as number]);
  const refundWords = profile.typeValues.refund.map(normValue);
  const paymentWords = profile.typeValues.payment.map(normValue);
  const success = profile.successValues.map(normValue);
  const totals = profile.totalsMarkers.map(normValue);
  const out: RegistryRow[] = [];
  const rows = match.sheet.rows;
  for (let r = match.headerRowIndex + 1; r < rows.length; r++) {
    const row = rows[r] ?? [];
    // release: the grid row is let go once read, so the cells and the rows are never both whole.
    if (opts.release) rows[r] = NO_CELLS;
    if (row.every((c) => c.t === 'empty')) continue;
    const raw: Record<string, string> = {};
    row.forEach((c, i) => {
      const h = match.headers[i] || `column ${i + 1}`;
      const t = cellText(c);
      if (t !== '') raw[h] = t;
    });
    const base: RegistryRow = {
      rowNo: r + 1,
      kind: 'invalid',
      txnId: null,
      txnIdPrecision: false,
      refundRef: str(at(row, 'refund_ref'), 100),
      amount: null,
      commission: null,
      returnedCommission: null,
      dateRaw: null,
      account: str(at(row, 'account'), 200),
      prvTxn: null,
      status: str(at(row, 'status'), 100),
      statusSuccess: null,
      channel: str(at(row, 'channel'), 200),
      raw,
      problem: null,
    };
    const txnCell = at(row, 'txn_id');
    const amount = amountOf(at(row, 'amount'));
    if (!hasDigit(txnCell)) {
      const text = row.map((c) => normValue(cellText(c))).join(' ');
      if (totals.some((w) => w && text.includes(w))) {
        out.push({ ...base, kind: 'totals', amount: amount?.ok ? Math.abs(amount.value) : null });
      } else if (amount?.ok) {
        out.push({ ...base, problem: 'an amount with no txn_id' });
      }
      continue;
    }
    const txn = txnIdOf(txnCell);
    if (!txn || !txn.ok) {
      out.push({ ...base, problem: txn ? txn.problem : 'no txn_id' });
      continue;
    }
    base.txnId = txn.value.txnId;
    base.txnIdPrecision = txn.value.precision;
    if (!amount || !amount.ok) {
      out.push({ ...base, problem: amount ? amount.problem : 'no amount' });
      continue;
    }
    const date = dateOf(at(row, 'date'), offset);
    if (!date.ok) {
      out.push({ ...base, problem: date.problem });
      continue;
    }
    const money: Array<['commission' | 'returnedCommission', Field]> = [
      ['commission', 'commission'],
      ['returnedCommission', 'returned_commission'],
    ];
    let problem: string | null = null;
    for (const [key, f] of money) {
      const a = amountOf(at(row, f));
      if (a && !a.ok) problem = `${f}: ${a.problem}`;
      else if (a?.ok) base[key] = Math.abs(a.value);
    }
    const prv = str(at(row, 'prv_txn'), 40);
    if (prv && !/^\d{1,20}$/.test(prv)) problem = `prv_txn: not digits: ${prv}`;
    if (problem) {
      out.push({ ...base, problem });
      continue;
    }
    base.prvTxn = prv;
    base.amount = Math.abs(amount.value);
    base.dateRaw = date.value;
    const typeText = normValue(cellText(at(row, 'type')));
    const kind: RowKind =
      typeText && refundWords.includes(typeText)
        ? 'refund'
        : typeText && paymentWords.includes(typeText)
          ? 'payment'
          : amount.value < 0
            ? 'refund'
            : 'payment';
    if (col.status !== undefined) base.statusSuccess = success.includes(normValue(base.status ?? ''));
    const excluded = profile.excludeRows.some(
      (rule) => normValue(cellText(at(row, rule.field))) === normValue(rule.equals),
    );
    // The row itself, not a copy: an object spread per row was a measurable part of the import.
    base.kind = excluded ? 'excluded' : kind;
    out.push(base);
  }
  return out;
}

/** The account as `accountCompare` sees it. */
export function compareAccount(a: string, mode: Profile['accountCompare']): string {
  const t = a.trim();
  if (mode === 'exact') return t;
  const digits = t.replace(/\D/g, '');
  return mode === 'digits' ? digits : digits.slice(-10);
}
