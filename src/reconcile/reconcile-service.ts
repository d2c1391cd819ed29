import { createHash } from 'node:crypto';
import { audit, type Actor } from '../audit/audit-log.js';
import { dbNow } from '../db/db-clock.js';
import { isUniqueViolation, type Db } from '../db/db.js';
import { requestLogEvidence, type EvidenceEntry } from '../http/request-log-evidence.js';
import { getLogger } from '../log/logger.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { PaymentSource, PaymentStore } from '../payments/payment-store.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { formatTenge } from '../shared/money.js';
import { readTxnDate } from '../shared/txn-date.js';
import { periodRange, wallAt } from './reconcile-calendar.js';
export { kaspiIso } from './reconcile-calendar.js';
import {
  match,
  NOWHERE,
  sortItems,
  type OurPayment,
  type Item,
  type ItemClass,
  type MatchInput,
  type MatchResult,
} from './reconcile-matcher.js';
import { itemView, runView, type ReportContext } from './reconcile-report.js';
import { HeldRecords } from './reconcile-held.js';
import { ReconcileStore, type RegistryFile, type Run, type StoredItem } from './reconcile-store.js';
import { RegistryFileError } from './registry-errors.js';
import { findHeader, toCanonicalRows, type Profile, type RegistryRow } from './registry-profile.js';
import { readRegistry, type DelimiterChoice, type EncodingChoice } from './registry-reader.js';

const log = getLogger('reconcile');

export interface ReconcileSettings {
  defaultProfile: string;
  sources: readonly PaymentSource[];
  cutoff: string;
  graceBusinessDays: number;
  holidays: ReadonlySet<string>;
  maxBytes: number;
  maxRows: number;
  maxUnzippedBytes: number;
  /** KASPI_TXN_DATE_OFFSET: Kaspi's wall time, of every day and deadline. */
  offset: string;
  requestLogRetentionDays: number;
}

export interface ImportOptions {
  fileName?: string | null;
  kind?: 'daily' | 'monthly';
  from?: string | null; // YYYY-MM-DD
  to?: string | null;
  profile?: string | null;
  sheet?: string | null;
  encoding?: EncodingChoice;
  delimiter?: DelimiterChoice;
  receivedAt?: Date | null;
  replaces?: string | null;
  rerun?: boolean;
  dryRun?: boolean;
  origin: 'cli' | 'api' | 'console';
  actor: Actor;
  operator?: string | null;
}

export interface ImportResult {
  run: Run | null;
  duplicate: boolean;
  /** A dry run: the match as it would be stored. */
  preview?: { items: Item[]; totals: unknown; period: unknown };
}

export type ResolveAction = 'credit' | 'refund' | 'record-refund' | 'link' | 'accept' | 'ignore';
export const RESOLVE_ACTIONS: readonly ResolveAction[] = [
  'credit',
  'refund',
  'record-refund',
  'link',
  'accept',
  'ignore',
];

/** The actions each class takes (accept and ignore: every class, with a note). */
const CLASS_ACTIONS: Partial<Record<ItemClass, ResolveAction[]>> = {
  MISSING_OURS: ['credit'],
  REFUSED_OURS: ['credit'],
  TXN_ID_PRECISION: ['link'],
};

/** What an item of this class may be resolved with (the console's form offers these). */
export function allowedActions(cls: ItemClass): ResolveAction[] {
  return [...(CLASS_ACTIONS[cls] ?? []), 'accept', 'ignore'];
}

export interface ResolveInput {
  action: string;
  note?: string | null;
  account?: string | null;
  payment?: string | null;
  actor: Actor;
}

export interface ReconcileDeps {
  db: Db;
  store: ReconcileStore;
  payments: PaymentService;
  paymentStore: PaymentStore;
  profiles: ReadonlyMap<string, Profile>;
  settings: ReconcileSettings;
  /** Told after the commit: kick the refund poll for REFUND_PENDING_OURS (null when refunds are off). */
  pollRefundNow?: ((refundId: string) => Promise<void>) | null;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const toDay = (d: string | null | undefined, what: string): string | null => {
  if (!d) return null;
  const m = DAY.exec(d);
  if (!m) throw new ValidationError(`${what}: a date YYYY-MM-DD`);
  return `${m[1]}${m[2]}${m[3]}`;
};

/** What the request log says about a txn_id, for a person. */
export function summarizeEvidence(entries: EvidenceEntry[], purged: boolean): string {
  const kaspi = entries.filter((e) => e.channel === 'kaspi');
  if (kaspi.length === 0) return purged ? 'request log purged past its retention' : 'no request at all';
  const pays = kaspi.filter((e) => e.command === 'pay');
  if (pays.length === 0) return 'only a check';
  const last = pays[pays.length - 1] as EvidenceEntry;
  if (last.result !== '0' && last.result !== '4')
    return `a pay refused (result ${last.result ?? '?'}: ${last.comment ?? ''})`;
  return `pay received ${pays.length} time(s), last answered result ${last.result ?? '?'}`;
}

/**
 * Import → match → items → report, and the resolutions (registries-seed-notes §1.9 "Import, step by
 * step"). The gateway never moves money because of a registry on its own: an import only kicks the
 * credit retry and the refund poll; money moves when a person resolves an item, through the same
 * exactly-once pay path as Kaspi's pay.
 */
export class ReconcileService {
  readonly store: ReconcileStore;
  private readonly held: HeldRecords;
  constructor(private readonly deps: ReconcileDeps) {
    this.store = deps.store;
    this.held = new HeldRecords(deps.db);
  }

  profile(name?: string | null): Profile {
    const p = this.deps.profiles.get(name ?? this.deps.settings.defaultProfile);
    if (!p)
      throw new ValidationError(`no registry profile "${name}"`, {
        profiles: [...this.deps.profiles.keys()],
      });
    return p;
  }

  profiles(): Profile[] {
    return [...this.deps.profiles.values()];
  }

  async import(bytes: Buffer, o: ImportOptions): Promise<ImportResult> {
    const s = this.deps.settings;
    const from = toDay(o.from, 'from');
    const to = toDay(o.to, 'to');
    if ((from === null) !== (to === null)) throw new ValidationError('from and to: give both or neither');
    if (from && to && from > to) throw new ValidationError('from must not be after to');
    const profile = this.profile(o.profile);
    if (o.replaces && !(await this.store.getRun(o.replaces)))
      throw new NotFoundError('run', `no run ${o.replaces} to replace`);
    if (bytes.length > s.maxBytes)
      throw new RegistryFileError(
        'registry_too_large',
        `the file is ${bytes.length} bytes; the limit is ${s.maxBytes}`,
        413,
      );
    const sha256 = createHash('sha256').update(bytes).digest('hex');

    if (!o.dryRun && !o.rerun) {
      const known = await this.store.findFileBySha(sha256);
      const last = known && (await this.store.lastRunOfFile(known.id));
      if (last && last.status !== 'running' && last.status !== 'failed')
        return { run: last, duplicate: true };
    }

    // Read and map before anything is stored: limits, .xls, a zip bomb store nothing.
    const grid = await readRegistry(bytes, {
      maxBytes: s.maxBytes,
      maxRows: s.maxRows,
      maxUnzippedBytes: s.maxUnzippedBytes,
      encoding: o.encoding,
      delimiter: o.delimiter,
    });
    let rows: RegistryRow[];
    let sheet: string | null = null;
    let mapError: RegistryFileError | null = null;
    try {
      const header = findHeader(grid, profile, o.sheet ?? undefined);
      sheet = grid.format === 'xlsx' ? header.sheet.name : null;
      rows = toCanonicalRows(header, profile, s.offset, { release: true });
      if (rows.length > s.maxRows)
        throw new RegistryFileError(
          'registry_too_many_rows',
          `${rows.length} rows; the limit is ${s.maxRows}`,
          422,
        );
    } catch (e) {
      if (!(e instanceof RegistryFileError) || e.code === 'registry_too_many_rows') throw e;
      mapError = e;
      rows = [];
    }
    const receivedAt = o.receivedAt ?? new Date();
    const period = from && to ? { from, to } : null;

    if (o.dryRun) {
      if (mapError) throw mapError;
      const result = await this.matchRows(rows, null, period, profile, receivedAt);
      if (!result.ok) throw new RegistryFileError('registry_units', result.error, 422);
      return {
        run: null,
        duplicate: false,
        preview: { items: result.items, totals: result.totals, period: result.period },
      };
    }

    // The file, once: the unique sha256 decides between two imports of it at the same moment.
    let fileId: string;
    const existing = await this.store.findFileBySha(sha256);
    if (existing) fileId = existing.id;
    else {
      try {
        fileId = await this.store.insertFile({
          sha256,
          fileName: o.fileName ?? null,
          content: bytes,
          format: grid.format,
          encoding: grid.encoding,
          sheet,
        });
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const winner = (await this.store.findFileBySha(sha256)) as { id: string };
        const run = await this.waitForRun(winner.id);
        if (run && !o.rerun) return { run, duplicate: true };
        fileId = winner.id;
      }
    }
    const runId = await this.store.insertRun({
      fileId,
      kind: o.kind ?? 'daily',
      profile: profile.name,
      cutoff: s.cutoff,
      receivedAt,
      origin: o.origin,
      operator: o.operator ?? null,
      replaces: o.replaces ?? null,
    });
    if (mapError) {
      await this.store.failRun(runId, {
        code: mapError.code,
        message: mapError.message,
        ...mapError.details,
      });
      log.error('registry import failed: the file cannot be mapped', {
        runId,
        code: mapError.code,
        ...mapError.details,
      });
      throw mapError;
    }
    try {
      await this.matchAndStore(
        runId,
        fileId,
        rows,
        period,
        profile,
        receivedAt,
        o,
        await this.store.hasRows(fileId),
      );
    } catch (e) {
      await this.store.failRun(runId, {
        code: e instanceof AppError ? e.code : 'internal',
        message: e instanceof AppError ? e.message : 'the import failed',
      });
      if (e instanceof AppError) throw e;
      log.error('registry import failed', { err: e, runId });
      throw e;
    }
    return { run: (await this.store.getRun(runId)) as Run, duplicate: false };
  }

  /** Another import of the same file is running: wait for it (bounded), then take its run. */
  private async waitForRun(fileId: string): Promise<Run | null> {
    for (let i = 0; i < 600; i++) {
      const r = await this.store.lastRunOfFile(fileId);
      if (r && r.status !== 'running') return r.status === 'failed' ? null : r;
      await new Promise((res) => setTimeout(res, 100));
    }
    return null;
  }

  private async matchRows(
    rows: readonly RegistryRow[],
    fileId: string | null,
    period: { from: string; to: string } | null,
    profile: Profile,
    receivedAt: Date,
  ): Promise<MatchResult> {
    const s = this.deps.settings;
    const held = this.held;
    const data = rows.filter((r) => (r.kind === 'payment' || r.kind === 'refund') && r.txnId);
    const exact = data.filter((r) => !r.txnIdPrecision).map((r) => r.txnId as string);
    const refundsByTxn = await held.refundsByTxn(
      data.filter((r) => r.kind === 'refund' && !r.txnIdPrecision).map((r) => r.txnId as string),
      s.offset,
    );
    const precision = data.filter((r) => r.txnIdPrecision).map((r) => (r.txnId as string).slice(0, 15));
    const precisionCandidates = precision.length ? await held.precisionCandidates(s.sources, precision) : [];
    // The period: given, or the days the rows span (the matcher infers it the same way).
    let p = period;
    if (!p) {
      const probe = match({
        rows: rows.filter((r) => r.kind === 'payment' || r.kind === 'refund'),
        paymentsByTxn: new Map(),
        refundsByTxn: new Map(),
        periodPayments: [],
        periodRefunds: [],
        precisionCandidates: [],
        elsewhere: NOWHERE,
        period: null,
        settings: this.matchSettings(profile, receivedAt),
      });
      p = probe.ok && probe.period ? { from: probe.period.from, to: probe.period.to } : null;
    }
    // One object per payment of ours: the period's payments, by txn_id, are also the lookup of the
    // rows' txn_ids; only the rows' txn_ids outside the period are read on top.
    const ours = new Map<string, OurPayment>();
    const periodPayments: OurPayment[] = [];
    let periodRefunds: MatchInput['periodRefunds'] = [];
    if (p) {
      const range = periodRange(p.from, p.to, s.cutoff);
      for await (const page of held.paymentsInRange(s.sources, range.start, range.end))
        for (const x of page) {
          ours.set(x.txnId, x);
          periodPayments.push(x);
        }
      const utc = (w: string) => new Date(readTxnDate(w, s.offset)?.utc.replace(' ', 'T') + 'Z');
      periodRefunds = await held.successRefundsFinished(utc(range.start), utc(range.end), s.offset);
    }
    await held.paymentsByTxn(
      s.sources,
      exact.filter((t) => !ours.has(t)),
      ours,
    );
    const listed = new Set(exact);
    for (const x of periodPayments) listed.add(x.txnId);
    for (const x of periodRefunds) listed.add(x.txnId);
    const elsewhere = await held.elsewhere(fileId, listed);
    return match({
      rows,
      paymentsByTxn: ours,
      refundsByTxn,
      periodPayments,
      periodRefunds,
      precisionCandidates,
      elsewhere,
      period,
      settings: this.matchSettings(profile, receivedAt),
    });
  }

  private matchSettings(profile: Profile, receivedAt: Date): MatchInput['settings'] {
    const s = this.deps.settings;
    return {
      cutoff: s.cutoff,
      accountCompare: profile.accountCompare,
      offset: s.offset,
      receivedWall: wallAt(receivedAt, s.offset),
      graceBusinessDays: s.graceBusinessDays,
      holidays: s.holidays,
    };
  }

  private async matchAndStore(
    runId: string,
    fileId: string,
    rows: RegistryRow[],
    period: { from: string; to: string } | null,
    profile: Profile,
    receivedAt: Date,
    o: Pick<ImportOptions, 'actor' | 'replaces' | 'fileName'> & { rerunOf?: string | null },
    rowsStored: boolean,
  ): Promise<void> {
    const store = this.store;
    const replaced = o.replaces ? await store.getRun(o.replaces) : null;
    if (replaced) {
      // The old file stops counting for "listed somewhere" before this one is matched.
      await this.deps.db.knex.transaction(async (trx) => {
        await store.supersedeFile(trx, replaced.fileId, fileId);
        await store.supersedeRun(trx, replaced.id);
      });
    }
    const result = await this.matchRows(rows, fileId, period, profile, receivedAt);
    if (!result.ok) throw new RegistryFileError('registry_units', result.error, 422);
    const items = await this.withEvidence(result.items);
    const previous = o.rerunOf ? await store.items({ runId: o.rerunOf }) : [];
    const carried = new Map(
      previous
        .filter((i) => i.state === 'resolved' || i.state === 'ignored')
        .map((i) => [`${i.txnId}|${i.class}`, i]),
    );
    const open = items.filter((i) => i.severity !== 'info').length;
    await this.deps.db.knex.transaction(async (trx) => {
      const rowIds = rowsStored ? await store.rowIds(fileId, trx) : await store.insertRows(trx, fileId, rows);
      if (o.rerunOf) await store.supersedeRun(trx, o.rerunOf);
      await store.insertMatches(trx, runId, result.matches, rowIds);
      await store.insertItems(
        trx,
        runId,
        items.map((i) => {
          const c = carried.get(`${i.txnId}|${i.class}`);
          return c
            ? {
                ...i,
                state: c.state,
                carried: { ...c, note: `${c.note ?? ''} (resolved in run ${c.runId})`.trim() },
              }
            : i;
        }),
        rowIds,
      );
      await store.finishRun(trx, runId, {
        status: open > 0 ? 'discrepancies' : 'clean',
        totals: { ...result.totals, warnings: result.warnings },
        period: result.period,
      });
      await audit.record(trx, {
        actor: o.actor,
        action: 'registry.uploaded',
        target: { type: 'registry', id: runId },
        details: {
          fileId,
          fileName: o.fileName ?? null,
          rows: rows.length,
          items: items.length,
          replaces: o.replaces ?? null,
          rerunOf: o.rerunOf ?? null,
        },
      });
    });
    const fresh = await store.items({ runId });
    const stillOpen = fresh.filter((i) => i.state === 'open' && i.severity !== 'info');
    if (stillOpen.length === 0 && open > 0) await store.setRunStatus(runId, 'resolved');
    await this.kick(fresh);
    const actions = stillOpen.filter((i) => i.severity === 'action');
    const byClass: Record<string, number> = {};
    for (const i of stillOpen) byClass[i.class] = (byClass[i.class] ?? 0) + 1;
    if (actions.length > 0)
      log.error('registry reconciled: items need a person', {
        runId,
        byClass,
        earliestDueAt:
          actions
            .map((i) => i.dueAt)
            .filter(Boolean)
            .sort()[0] ?? null,
      });
    else if (stillOpen.length > 0) log.warn('registry reconciled: items watched', { runId, byClass });
    else log.info('registry reconciled: clean', { runId });
  }

  /** After the commit: the credit retry takes PENDING_OURS now, the poller REFUND_PENDING_OURS. */
  private async kick(items: StoredItem[]): Promise<void> {
    for (const i of items) {
      if (i.state !== 'open') continue;
      try {
        if (i.class === 'PENDING_OURS' && i.paymentId)
          await this.deps.paymentStore.transition(undefined, i.paymentId, ['pending'], {
            state: 'pending',
            nextAttemptAt: dbNow(this.deps.db),
          });
        if (i.class === 'REFUND_PENDING_OURS' && i.refundId && this.deps.pollRefundNow)
          await this.deps.pollRefundNow(i.refundId);
      } catch (e) {
        log.warn('could not kick the retry for a reconciliation item', { err: e, itemId: i.id });
      }
    }
  }

  private async withEvidence(items: Item[]): Promise<Array<Item & { evidence?: unknown }>> {
    const s = this.deps.settings;
    const retentionStart = Date.now() - s.requestLogRetentionDays * 86_400_000;
    const out: Array<Item & { evidence?: unknown }> = [];
    for (const i of items) {
      if (!i.txnId || i.class === 'EXCLUDED' || i.class === 'ROW_INVALID') {
        out.push(i);
        continue;
      }
      const entries = await requestLogEvidence(this.deps.db, i.txnId);
      const day = typeof i.detail.txnDate === 'string' ? i.detail.txnDate : null;
      const purged =
        day !== null &&
        Date.parse(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`) < retentionStart;
      out.push({
        ...i,
        evidence: {
          summary: summarizeEvidence(entries, purged),
          entries: entries.slice(-20).map((e) => ({
            at: e.at,
            channel: e.channel,
            command: e.command,
            clientIp: e.clientIp,
            httpStatus: e.httpStatus,
            result: e.result,
            comment: e.comment,
          })),
        },
      });
    }
    return out;
  }

  async rerun(runId: string, actor: Actor, origin: 'cli' | 'api'): Promise<Run> {
    const old = await this.store.getRun(runId);
    if (!old) throw new NotFoundError('run');
    if (old.status === 'running') throw new ConflictError(`run ${runId} is still running`);
    const file = await this.store.getFile(old.fileId);
    if (file?.supersededByFileId)
      throw new ConflictError(`run ${runId}'s file was replaced by a corrected registry`);
    const rows = await this.store.rowsOfFile(old.fileId);
    const profile = this.profile(old.profile);
    const newId = await this.store.insertRun({
      fileId: old.fileId,
      kind: old.kind,
      profile: old.profile,
      cutoff: this.deps.settings.cutoff,
      receivedAt: new Date(old.receivedAt),
      origin,
      operator: null,
      rerunOf: old.id,
    });
    const period =
      old.periodFrom && old.periodTo && !old.periodInferred
        ? { from: old.periodFrom, to: old.periodTo }
        : null;
    try {
      await this.matchAndStore(
        newId,
        old.fileId,
        rows,
        period,
        profile,
        new Date(old.receivedAt),
        { actor, rerunOf: old.id },
        rows.length > 0 || (await this.store.hasRows(old.fileId)),
      );
    } catch (e) {
      await this.store.failRun(newId, {
        code: e instanceof AppError ? e.code : 'internal',
        message: 'the rerun failed',
      });
      throw e;
    }
    return (await this.store.getRun(newId)) as Run;
  }

  // ---------------------------------------------------------------- resolutions

  async resolve(itemId: string, input: ResolveInput): Promise<StoredItem> {
    const item = await this.store.getItem(itemId);
    if (!item) throw new NotFoundError('item');
    const action = input.action as ResolveAction;
    if (!RESOLVE_ACTIONS.includes(action))
      throw new ValidationError(`action: one of ${RESOLVE_ACTIONS.join(', ')}`);
    const note = input.note?.trim() || null;
    if (item.state !== 'open') {
      // The same resolve twice answers with the first one's outcome.
      if (item.action === action) return item;
      throw new ConflictError(`item ${item.id} is ${item.state}`, { state: item.state });
    }
    const allowed = allowedActions(item.class);
    if (!allowed.includes(action))
      throw new ValidationError(`${item.class} takes ${allowed.join(', ')}, not ${action}`, { allowed });
    if ((action === 'accept' || action === 'ignore') && !note)
      throw new ValidationError(`${action} needs a note`);

    if (action === 'credit') return this.credit(item, input, note);
    if (action === 'link') return this.link(item, input, note);
    return this.close(item, action === 'ignore' ? 'ignored' : 'resolved', action, note, input.actor, {});
  }

  private async close(
    item: StoredItem,
    state: 'resolved' | 'ignored' | 'auto_closed',
    action: string | null,
    note: string | null,
    actor: Actor,
    extra: Record<string, unknown>,
  ): Promise<StoredItem> {
    const detail = { ...item.detail, ...extra };
    const won = await this.deps.db.knex.transaction(async (trx) => {
      const ok = await this.store.closeItem(trx, item.id, { state, action, note, by: actor.id, detail });
      if (!ok) return false;
      await audit.record(trx, {
        actor,
        action: 'item.resolved',
        target: { type: 'item', id: item.id },
        details: {
          runId: item.runId,
          class: item.class,
          txnId: item.txnId,
          action,
          state,
          note,
          registryAmount: item.registryAmount === null ? null : formatTenge(item.registryAmount),
          ...extra,
        },
      });
      if ((await this.store.openCount(item.runId, trx)) === 0) {
        const run = await this.store.getRun(item.runId, trx);
        if (run && run.status === 'discrepancies') await this.store.setRunStatus(item.runId, 'resolved', trx);
      }
      return true;
    });
    const now = (await this.store.getItem(item.id)) as StoredItem;
    if (!won && now.action !== action) throw new ConflictError(`item ${item.id} is ${now.state}`);
    return now;
  }

  /**
   * MISSING_OURS: the row's payment recorded and credited through the pay path every channel uses
   * (unique key (kaspi, txn_id), billing idempotency `kaspi:<txn_id>`): a late Kaspi pay of the same
   * txn_id and this credit, however they interleave, credit once. REFUSED_OURS: the failed payment
   * credited from `failed` by creditStored (docs/decisions: the one path by which a final state moves).
   */
  private async credit(item: StoredItem, input: ResolveInput, note: string | null): Promise<StoredItem> {
    const s = this.deps.settings;
    if (item.class === 'REFUSED_OURS') {
      if (!item.paymentId) throw new ConflictError('the item has no payment');
      const ours = await this.deps.paymentStore.findById(item.paymentId);
      if (input.account && ours && input.account !== ours.account)
        throw new ValidationError(
          'a refused payment is credited to its own account; --account must match it or be left out',
        );
      const out = await this.deps.payments.creditStored(item.paymentId, ['failed']);
      const after = await this.deps.paymentStore.findById(item.paymentId);
      if (after?.state === 'credited')
        return this.close(item, 'resolved', 'credit', note, input.actor, {
          credit: { result: out.result, prvTxn: out.prvTxn },
        });
      return this.pendingCredit(item, input, {
        result: out.result,
        comment: out.comment,
        state: after?.state ?? null,
      });
    }
    const row = item.rowId ? (await this.store.rowsById([item.rowId]))[0] : null;
    if (!row || !row.txnId || row.amount === null || !row.dateRaw)
      throw new ConflictError('the item has no registry row to credit');
    const account = input.account?.trim() || row.account;
    if (!account) throw new ValidationError('the row has no account: --account is required');
    const dateOnly = row.dateRaw.length === 8;
    const txnDateRaw = dateOnly ? `${row.dateRaw}000000` : row.dateRaw;
    const when = readTxnDate(txnDateRaw, s.offset);
    if (!when) throw new ConflictError(`the row's date ${row.dateRaw} is not a time`);
    const out = await this.deps.payments.recordAndCredit({
      source: 'kaspi',
      txnId: row.txnId,
      account,
      amount: row.amount,
      txnDateRaw,
      txnDate: when.utc,
      txnDateIso: when.iso,
      extra: null,
    });
    const credit = {
      result: out.result,
      comment: out.comment,
      prvTxn: out.prvTxn,
      created: out.created,
      dateOnly,
    };
    if (out.result === 0) return this.close(item, 'resolved', 'credit', note, input.actor, { credit });
    if (out.result === 4) return this.pendingCredit(item, input, credit);
    throw new AppError(
      'credit_refused',
      `the billing refused the credit: result ${out.result} (${out.comment})`,
      {
        httpStatus: 409,
        details: credit,
      },
    );
  }

  /** The credit is in doubt at the billing: the item stays open, the watch job closes it once credited. */
  private async pendingCredit(
    item: StoredItem,
    input: ResolveInput,
    credit: Record<string, unknown>,
  ): Promise<StoredItem> {
    await this.store.updateItem(item.id, {
      detail: { ...item.detail, credit: { ...credit, pending: true, by: input.actor.id } },
    });
    return (await this.store.getItem(item.id)) as StoredItem;
  }

  /** TXN_ID_PRECISION: a person confirms which of our payments the damaged id is. */
  private async link(item: StoredItem, input: ResolveInput, note: string | null): Promise<StoredItem> {
    const txn = input.payment?.trim();
    if (!txn) throw new ValidationError('link needs --payment <txn_id>');
    const candidates = (item.detail.candidates ?? []) as Array<{ paymentId: string; txnId: string }>;
    const chosen = candidates.find((c) => c.txnId === txn);
    if (!chosen)
      throw new ValidationError(`${txn} is not one of the candidates`, {
        candidates: candidates.map((c) => c.txnId),
      });
    return this.close(item, 'resolved', 'link', note, input.actor, { linked: chosen });
  }

  // ---------------------------------------------------------------- views

  /** Everything the three outputs need of one run. */
  async context(runId: string): Promise<ReportContext> {
    const run = await this.store.getRun(runId);
    if (!run) throw new NotFoundError('run');
    const [file, items] = await Promise.all([this.store.getFile(run.fileId), this.store.items({ runId })]);
    const rows = await this.store.rowsById(items.map((i) => i.rowId).filter((x): x is string => x !== null));
    return this.contextOf(run, file, items, rows);
  }

  private async contextOf(
    run: Run,
    file: RegistryFile | null,
    items: StoredItem[],
    rows: Array<RegistryRow & { id: string }>,
  ): Promise<ReportContext> {
    const wanted = new Set(items.map((i) => i.rowId).filter((x): x is string => x !== null));
    const payments = await this.held.paymentsById(
      items.map((i) => i.paymentId).filter((x): x is string => !!x),
    );
    const refunds = await this.held.refundStatuses(
      items.map((i) => i.refundId).filter((x): x is string => !!x),
    );
    return {
      run,
      file,
      items,
      rows: new Map(rows.filter((r) => wanted.has(r.id)).map((r) => [r.id, r])),
      payments,
      refunds,
      offset: this.deps.settings.offset,
    };
  }

  async runSummary(run: Run) {
    return runView(run, await this.store.getFile(run.fileId), this.deps.settings.offset);
  }

  /** One item as the API shows it. */
  async viewOf(item: StoredItem) {
    const run = (await this.store.getRun(item.runId)) as Run;
    const rows = item.rowId ? await this.store.rowsById([item.rowId]) : [];
    return itemView(item, await this.contextOf(run, null, [item], rows));
  }

  /** The to-do list across runs: open items, earliest due first. */
  async todo(f: { state?: string; severity?: string; class?: string }) {
    const items = sortItems(await this.store.items({ state: f.state, severity: f.severity, class: f.class }));
    const out = [];
    const now = Date.now();
    for (const i of items)
      out.push({
        ...(await this.viewOf(i)),
        overdue: i.state === 'open' && !!i.dueAt && Date.parse(i.dueAt) < now,
      });
    return out;
  }

  // ---------------------------------------------------------------- the watch job

  /**
   * Closes what healed, escalates watch items past their grace, logs overdue items once, fails runs
   * stuck in `running` (a process killed mid-import). Runs under the scheduler's lease.
   */
  async watch(
    now = new Date(),
  ): Promise<{ closed: number; escalated: number; overdue: number; failedRuns: number }> {
    const store = this.store;
    const system: Actor = { id: 'system', ip: null };
    let closed = 0;
    let escalated = 0;
    let overdue = 0;
    let failedRuns = 0;
    for (const r of await store.stuckRuns(new Date(now.getTime() - 15 * 60_000))) {
      await store.failRun(r.id, { code: 'stuck', message: 'the import did not finish (process stopped?)' });
      log.warn('a registry import stuck in running was set failed', { runId: r.id });
      failedRuns++;
    }
    const open = await store.items({ state: 'open' });
    for (const i of open) {
      const healed = await this.healed(i);
      if (healed) {
        const done = await this.close(i, 'auto_closed', null, healed, system, {}).catch(() => null);
        if (done) closed++;
        continue;
      }
      if (i.severity === 'watch' && i.escalateAt && Date.parse(i.escalateAt) <= now.getTime()) {
        await store.updateItem(i.id, {
          severity: 'action',
          detail: { ...i.detail, escalatedAt: now.toISOString() },
        });
        log.error('a watched reconciliation item needs a person', {
          itemId: i.id,
          class: i.class,
          txnId: i.txnId,
        });
        escalated++;
        continue;
      }
      if (i.severity === 'action' && i.dueAt && Date.parse(i.dueAt) < now.getTime()) {
        overdue++;
        if (!i.overdueLoggedAt) {
          log.error('a reconciliation item is overdue', {
            itemId: i.id,
            class: i.class,
            txnId: i.txnId,
            dueAt: i.dueAt,
          });
          await store.updateItem(i.id, { overdueLoggedAt: now });
        }
      }
    }
    return { closed, escalated, overdue, failedRuns };
  }

  private async healed(i: StoredItem): Promise<string | null> {
    const ps = this.deps.paymentStore;
    if ((i.class === 'PENDING_OURS' || i.class === 'MISSING_OURS' || i.class === 'REFUSED_OURS') && i.txnId) {
      const p = i.paymentId ? await ps.findById(i.paymentId) : await ps.findByTxn('kaspi', i.txnId);
      if (p?.state === 'credited' && (i.class === 'PENDING_OURS' || i.detail.credit)) return 'credited';
    }
    if ((i.class === 'MISSING_KASPI' || i.class === 'PENDING_NOT_LISTED') && i.txnId) {
      const run = await this.store.getRun(i.runId);
      if (run && (await this.held.listedElsewhere(i.txnId, run.fileId))) return 'listed by a later registry';
    }
    return null;
  }
}
