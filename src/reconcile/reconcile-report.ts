import { formatTenge } from '../shared/money.js';
import { isoDay, kaspiIso } from './reconcile-calendar.js';
import { sortItems, type CountAmount, type Totals } from './reconcile-matcher.js';
import type { RegistryFile, Run, StoredItem } from './reconcile-store.js';
import type { RegistryRow } from './registry-profile.js';

/**
 * The three outputs (registries-seed-notes §1.9 "Outputs"), from the CLI and the API alike:
 * report.json, items.csv (formula injection escaped) and summary.txt for a person (no accounts).
 */

export interface OurSide {
  prvTxn: string;
  state: string;
  result: number | null;
  amount: number;
  txnDate: string | null;
  account: string;
}

export interface ReportContext {
  run: Run;
  file: RegistryFile | null;
  items: StoredItem[];
  rows: ReadonlyMap<string, RegistryRow>;
  payments: ReadonlyMap<string, OurSide>;
  refunds: ReadonlyMap<string, { status: string }>;
  offset: string;
}

const money = (v: number | null) => (v === null ? null : formatTenge(v));
const ca = (c: CountAmount | undefined) => ({
  count: c?.count ?? 0,
  amount: formatTenge(c?.amount ?? 0),
  amountMinor: c?.amount ?? 0,
});

export function itemView(
  i: StoredItem,
  ctx: Pick<ReportContext, 'rows' | 'payments' | 'refunds' | 'offset'>,
) {
  const row = i.rowId ? ctx.rows.get(i.rowId) : undefined;
  const ours = i.paymentId ? ctx.payments.get(i.paymentId) : undefined;
  const { suggestedAction, evidence, candidates, ...detail } = i.detail as Record<string, unknown>;
  return {
    id: i.id,
    runId: i.runId,
    class: i.class,
    severity: i.severity,
    state: i.state,
    dueAt: kaspiIso(i.dueAt, ctx.offset),
    escalateAt: kaspiIso(i.escalateAt, ctx.offset),
    rowNo: i.rowNo,
    txnId: i.txnId,
    refundRef: i.refundRef,
    registry: row
      ? {
          type: row.kind,
          amount: money(row.amount),
          amountMinor: row.amount,
          date: row.dateRaw,
          account: row.account,
          commission: money(row.commission),
          raw: row.raw,
        }
      : null,
    ours: ours
      ? {
          prvTxn: ours.prvTxn,
          state: ours.state,
          result: ours.result,
          amount: money(ours.amount),
          amountMinor: ours.amount,
          txnDate: ours.txnDate,
          account: ours.account,
          refundId: i.refundId,
          refundStatus: i.refundId ? (ctx.refunds.get(i.refundId)?.status ?? null) : null,
        }
      : i.refundId
        ? {
            refundId: i.refundId,
            refundStatus: ctx.refunds.get(i.refundId)?.status ?? null,
            amount: money(i.ourAmount),
          }
        : null,
    evidence: evidence ?? null,
    candidates: candidates ?? null,
    detail,
    suggestedAction: suggestedAction ?? null,
    resolution:
      i.state === 'open' || i.state === 'superseded'
        ? null
        : { action: i.action, note: i.note, by: i.resolvedBy, at: kaspiIso(i.resolvedAt, ctx.offset) },
  };
}

export function runView(run: Run, file: RegistryFile | null, offset: string) {
  const t = (run.totals ?? {}) as Partial<Totals> & { warnings?: string[] };
  const byClass: Record<string, ReturnType<typeof ca>> = {};
  for (const [k, v] of Object.entries(t.byClass ?? {})) byClass[k] = ca(v);
  return {
    id: run.id,
    kind: run.kind,
    status: run.status,
    file: file
      ? {
          name: file.fileName,
          sha256: file.sha256,
          bytes: file.bytes,
          format: file.format,
          encoding: file.encoding,
          sheet: file.sheet,
        }
      : null,
    profile: run.profile,
    period: {
      from: run.periodFrom ? isoDay(run.periodFrom) : null,
      to: run.periodTo ? isoDay(run.periodTo) : null,
      inferred: run.periodInferred,
      cutoff: run.cutoff,
    },
    receivedAt: kaspiIso(run.receivedAt, offset),
    importedAt: kaspiIso(run.startedAt, offset),
    origin: run.origin,
    operator: run.operator,
    replaces: run.replaces,
    rerunOf: run.rerunOf,
    totals: t.registry
      ? {
          registry: {
            payments: ca(t.registry.payments),
            refunds: ca(t.registry.refunds),
            commission: formatTenge(t.registry.commission),
            returnedCommission: formatTenge(t.registry.returnedCommission),
            net: formatTenge(t.registry.net),
            rows: t.registry.rows,
          },
          ours: {
            credited: ca(t.ours?.credited),
            pending: ca(t.ours?.pending),
            failed: ca(t.ours?.failed),
            refundsSuccess: ca(t.ours?.refundsSuccess),
          },
          matched: { payments: ca(t.matched?.payments), refunds: ca(t.matched?.refunds) },
          byClass,
        }
      : null,
    warnings: t.warnings ?? [],
    error: run.error,
  };
}

export function reportJson(ctx: ReportContext) {
  const items = sortItems(ctx.items.map((i) => ({ ...i }))).map((i) => itemView(i, ctx));
  return { schemaVersion: 1, run: runView(ctx.run, ctx.file, ctx.offset), items };
}

/** OWASP CSV injection: a text cell starting with = + - @ tab or CR gets a leading '. */
export function csvCell(v: unknown, isAmount = false): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (!isAmount && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CSV_HEADER = [
  'run_id',
  'item_id',
  'class',
  'severity',
  'state',
  'due_at',
  'row_no',
  'txn_id',
  'refund_ref',
  'registry_type',
  'registry_amount',
  'registry_date',
  'registry_account',
  'our_prv_txn',
  'our_state',
  'our_result',
  'our_amount',
  'our_txn_date',
  'our_account',
  'suggested_action',
  'note',
];

export function itemsCsv(ctx: ReportContext): string {
  const lines = [CSV_HEADER.join(',')];
  for (const v of reportJson(ctx).items) {
    const ours = v.ours as Partial<OurSide & { amount: string | null }> | null;
    const amounts = new Set([10, 16]);
    const cells = [
      ctx.run.id,
      v.id,
      v.class,
      v.severity,
      v.state,
      v.dueAt,
      v.rowNo,
      v.txnId,
      v.refundRef,
      v.registry?.type,
      v.registry?.amount,
      v.registry?.date,
      v.registry?.account,
      ours?.prvTxn,
      ours?.state,
      ours?.result,
      ours?.amount,
      ours?.txnDate,
      ours?.account,
      v.suggestedAction,
      v.resolution?.note,
    ];
    lines.push(cells.map((c, i) => csvCell(c, amounts.has(i))).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
const tenge = (tiyn: number) => {
  const [w, f] = formatTenge(tiyn).split('.') as [string, string];
  return `${w.startsWith('-') ? '-' + grouped(Number(w.slice(1))) : grouped(Number(w))}.${f}`;
};

export function exitCodeOf(items: readonly Pick<StoredItem, 'state' | 'severity'>[], run: Run): 0 | 1 | 3 {
  if (run.status === 'failed') return 1;
  return items.some((i) => i.state === 'open' && i.severity === 'action') ? 3 : 0;
}

/** summary.txt: for a person; txn_ids and amounts only, never an account. */
export function summaryText(ctx: ReportContext): string {
  const r = reportJson(ctx);
  const run = r.run;
  const t = run.totals;
  const out: string[] = [];
  const period = run.period.from
    ? `${run.kind} ${run.period.from === run.period.to ? run.period.from : `${run.period.from} – ${run.period.to}`} (period ${run.period.inferred ? 'inferred from the rows' : 'given'})`
    : `${run.kind} (no period)`;
  out.push(`Kaspi registry reconciliation #${run.id} — ${period}, cut-off ${run.period.cutoff}`);
  if (run.file)
    out.push(
      `File ${run.file.name ?? '(unnamed)'}  ${run.file.format}${run.file.sheet ? `  sheet "${run.file.sheet}"` : ''}${run.file.encoding ? `  ${run.file.encoding}` : ''}  ${grouped(run.file.bytes)} bytes  sha256 ${run.file.sha256.slice(0, 6)}…  profile ${run.profile}`,
    );
  out.push(`Received ${run.receivedAt}, imported ${run.importedAt} by ${run.operator ?? run.origin}`);
  out.push('');
  if (t) {
    const reg = t.registry;
    out.push(
      `Kaspi:    ${grouped(reg.payments.count)} payments ${tenge(reg.payments.amountMinor)} | ${grouped(reg.refunds.count)} refunds ${tenge(reg.refunds.amountMinor)} | commission ${reg.commission} | returned ${reg.returnedCommission} | net ${reg.net}`,
    );
    out.push(
      `Ours:     ${grouped(t.ours.credited.count)} credited ${tenge(t.ours.credited.amountMinor)} | ${grouped(t.ours.pending.count)} pending | ${grouped(t.ours.refundsSuccess.count)} refunds success ${tenge(t.ours.refundsSuccess.amountMinor)}`,
    );
    out.push(
      `Matched:  ${grouped(t.matched.payments.count)} payments ${tenge(t.matched.payments.amountMinor)} | ${grouped(t.matched.refunds.count)} refunds ${tenge(t.matched.refunds.amountMinor)}`,
    );
  }
  for (const w of run.warnings) out.push(`Warning: ${w}`);
  const open = r.items.filter((i) => i.state === 'open');
  const section = (title: string, list: typeof open) => {
    if (!list.length) return;
    out.push('');
    out.push(`${title} (${list.length})`);
    for (const i of list) {
      const amount =
        i.registry?.amountMinor ?? (i.ours as { amountMinor?: number } | null)?.amountMinor ?? null;
      const ev = (i.evidence as { summary?: string } | null)?.summary;
      out.push(
        [
          `  ${i.class.padEnd(22)}`,
          i.txnId ? `txn ${i.txnId}` : '',
          amount !== null ? tenge(amount).padStart(14) : '',
          i.rowNo !== null ? `row ${i.rowNo}` : '',
          i.dueAt ? `due ${i.dueAt.slice(0, 16).replace('T', ' ')} ${i.dueAt.slice(19)}` : '',
          i.escalateAt && i.severity === 'watch'
            ? `re-checked until ${i.escalateAt.slice(0, 10)}, then action`
            : '',
          ev ?? '',
          `→ ${i.suggestedAction ?? ''}`,
          i.class === 'MISSING_OURS' || i.class === 'REFUSED_OURS'
            ? `(reconcile resolve ${i.id} --action credit)`
            : '',
        ]
          .filter(Boolean)
          .join('  '),
      );
    }
  };
  section(
    'NEEDS A PERSON',
    open.filter((i) => i.severity === 'action'),
  );
  section(
    'WATCHING',
    open.filter((i) => i.severity === 'watch'),
  );
  section(
    'FOR INFORMATION',
    open.filter((i) => i.severity === 'info'),
  );
  const code = exitCodeOf(ctx.items, ctx.run);
  out.push('');
  out.push(
    `Result: ${ctx.run.status === 'failed' ? 'FAILED' : code === 3 ? 'DISCREPANCIES' : 'CLEAN'} (exit ${code})`,
  );
  return `${out.join('\n')}\n`;
}
