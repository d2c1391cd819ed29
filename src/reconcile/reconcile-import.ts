import { createHash } from 'node:crypto';
import { audit, type Actor } from '../audit/audit-log.js';
import { dbNow } from '../db/db-clock.js';
import { isUniqueViolation } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { withEvidence } from './reconcile-evidence.js';
import { gatherAndMatch } from './reconcile-gather.js';
import type { HeldRecords } from './reconcile-held.js';
import type { NewRun, Run, StoredItem } from './reconcile-store.js';
import type { ImportOptions, ImportResult, ReconcileDeps } from './reconcile-types.js';
import { RegistryFileError } from './registry-errors.js';
import { findHeader, toCanonicalRows, type Profile, type RegistryRow } from './registry-profile.js';
import { readRegistry } from './registry-reader.js';

const log = getLogger('reconcile');

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const toDay = (d: string | null | undefined, what: string): string | null => {
  if (!d) return null;
  const m = DAY.exec(d);
  if (!m) throw new ValidationError(`${what}: a date YYYY-MM-DD`);
  return `${m[1]}${m[2]}${m[3]}`;
};

/** Once stored, a row keeps for the matcher only what it reads: `raw` only where an item shows it. */
const NO_RAW: Record<string, string> = Object.freeze({}) as Record<string, string>;
function compact(rows: RegistryRow[]): void {
  for (const r of rows) if (r.kind !== 'invalid' && !r.txnIdPrecision) r.raw = NO_RAW;
}

type Period = { from: string; to: string } | null;

/**
 * Import → match → items (registries-seed-notes §1.9 "Import, step by step"). The unique keys decide
 * between two imports of one file: `registry_files.sha256` (one file row) and
 * `reconciliation_runs.active_file_id` (one running run per file); the loser waits for the winner's
 * run and answers it as a duplicate. An import only kicks the credit retry and the refund poll.
 */
export class RegistryImporter {
  constructor(
    private readonly deps: ReconcileDeps,
    private readonly held: HeldRecords,
  ) {}

  async import(bytes: Buffer, o: ImportOptions, profile: Profile): Promise<ImportResult> {
    const s = this.deps.settings;
    const store = this.deps.store;
    const from = toDay(o.from, 'from');
    const to = toDay(o.to, 'to');
    if ((from === null) !== (to === null)) throw new ValidationError('from and to: give both or neither');
    if (from && to && from > to) throw new ValidationError('from must not be after to');
    if (o.replaces && !(await store.getRun(o.replaces)))
      throw new NotFoundError('run', `no run ${o.replaces} to replace`);
    if (bytes.length > s.maxBytes)
      throw new RegistryFileError(
        'registry_too_large',
        `the file is ${bytes.length} bytes; the limit is ${s.maxBytes}`,
        413,
      );
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (!o.dryRun && !o.rerun) {
      const known = await store.findFileBySha(sha256);
      const last = known && (await store.lastRunOfFile(known.id));
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
      const result = await gatherAndMatch(this.held, s, rows, null, period, profile, receivedAt);
      if (!result.ok) throw new RegistryFileError('registry_units', result.error, 422);
      return {
        run: null,
        duplicate: false,
        preview: { items: result.items, totals: result.totals, period: result.period },
      };
    }

    // The file, once: the unique sha256 decides between two imports of it at the same moment.
    let fileId: string;
    const existing = await store.findFileBySha(sha256);
    if (existing) fileId = existing.id;
    else {
      try {
        fileId = await store.insertFile({
          sha256,
          fileName: o.fileName ?? null,
          content: bytes,
          format: grid.format,
          encoding: grid.encoding,
          sheet,
        });
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        fileId = ((await store.findFileBySha(sha256)) as { id: string }).id;
      }
    }
    const started = await this.startRun(
      {
        fileId,
        kind: o.kind ?? 'daily',
        profile: profile.name,
        cutoff: s.cutoff,
        receivedAt,
        origin: o.origin,
        operator: o.operator ?? null,
        replaces: o.replaces ?? null,
      },
      o.rerun === true,
    );
    if ('duplicate' in started) return { run: started.duplicate, duplicate: true };
    const runId = started.runId;
    if (mapError) {
      await store.failRun(runId, { code: mapError.code, message: mapError.message, ...mapError.details });
      log.error('registry import failed: the file cannot be mapped', {
        runId,
        code: mapError.code,
        ...mapError.details,
      });
      throw mapError;
    }
    await this.matchOrFail(runId, fileId, rows, period, profile, receivedAt, o, 'the import failed');
    return { run: (await store.getRun(runId)) as Run, duplicate: false };
  }

  /** Re-matches a run's stored rows against what we hold now, in a new run (§1.9 step 9). */
  async rerun(
    runId: string,
    actor: Actor,
    origin: 'cli' | 'api' | 'console',
    profile: Profile,
  ): Promise<Run> {
    const store = this.deps.store;
    const old = await store.getRun(runId);
    if (!old) throw new NotFoundError('run');
    if (old.status === 'running') throw new ConflictError(`run ${runId} is still running`);
    const file = await store.getFile(old.fileId);
    if (file?.supersededByFileId)
      throw new ConflictError(`run ${runId}'s file was replaced by a corrected registry`);
    let newId: string;
    try {
      newId = await store.insertRun({
        fileId: old.fileId,
        kind: old.kind,
        profile: old.profile,
        cutoff: this.deps.settings.cutoff,
        receivedAt: new Date(old.receivedAt),
        origin,
        operator: null,
        rerunOf: old.id,
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      throw new ConflictError(`another run of run ${runId}'s file is running`);
    }
    const rows = await store.rowsOfFile(old.fileId);
    const period =
      old.periodFrom && old.periodTo && !old.periodInferred
        ? { from: old.periodFrom, to: old.periodTo }
        : null;
    await this.matchOrFail(
      newId,
      old.fileId,
      rows,
      period,
      profile,
      new Date(old.receivedAt),
      { actor, rerunOf: old.id },
      'the rerun failed',
    );
    return (await store.getRun(newId)) as Run;
  }

  /**
   * A run of the file, claimed by the unique active_file_id. Taken already: wait for that run; a
   * finished one is the answer (a duplicate) unless a new run was asked for, then claim again.
   */
  private async startRun(r: NewRun, rerun: boolean): Promise<{ runId: string } | { duplicate: Run }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return { runId: await this.deps.store.insertRun(r) };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const other = await this.waitForRun(r.fileId);
        if (other && !rerun) return { duplicate: other };
      }
    }
    throw new ConflictError('an import of this file is running: try again once it has finished');
  }

  /** Another import of the same file is running: wait for it (bounded), then take its run. */
  private async waitForRun(fileId: string): Promise<Run | null> {
    for (let i = 0; i < 600; i++) {
      const r = await this.deps.store.lastRunOfFile(fileId);
      if (r && r.status !== 'running') return r.status === 'failed' ? null : r;
      await new Promise((res) => setTimeout(res, 100));
    }
    return null;
  }

  private async matchOrFail(
    runId: string,
    fileId: string,
    rows: RegistryRow[],
    period: Period,
    profile: Profile,
    receivedAt: Date,
    o: Pick<ImportOptions, 'actor' | 'replaces' | 'fileName'> & { rerunOf?: string | null },
    failure: string,
  ): Promise<void> {
    try {
      await this.matchAndStore(runId, fileId, rows, period, profile, receivedAt, o);
    } catch (e) {
      await this.deps.store.failRun(runId, {
        code: e instanceof AppError ? e.code : 'internal',
        message: e instanceof AppError ? e.message : failure,
      });
      if (!(e instanceof AppError)) log.error('registry import failed', { err: e, runId });
      throw e;
    }
  }

  private async matchAndStore(
    runId: string,
    fileId: string,
    rows: RegistryRow[],
    period: Period,
    profile: Profile,
    receivedAt: Date,
    o: Pick<ImportOptions, 'actor' | 'replaces' | 'fileName'> & { rerunOf?: string | null },
  ): Promise<void> {
    const store = this.deps.store;
    const knex = this.deps.db.knex;
    const replaced = o.replaces ? await store.getRun(o.replaces) : null;
    if (replaced) {
      // The old file stops counting for "listed somewhere" before this one is matched.
      await knex.transaction(async (trx) => {
        await store.supersedeFile(trx, replaced.fileId, fileId);
        await store.supersedeRun(trx, replaced.id);
      });
    }
    // The rows first, in their own transaction (batches of 500); then each keeps only what the
    // matcher reads. A run that fails later leaves them stored: the file's next run uses them.
    const rowIds = (await store.hasRows(fileId))
      ? await store.rowIds(fileId)
      : await knex.transaction((trx) => store.insertRows(trx, fileId, rows));
    compact(rows);
    const s = this.deps.settings;
    const result = await gatherAndMatch(this.held, s, rows, fileId, period, profile, receivedAt);
    if (!result.ok) throw new RegistryFileError('registry_units', result.error, 422);
    const items = await withEvidence(this.deps.db, result.items, s.requestLogRetentionDays);
    const previous = o.rerunOf ? await store.items({ runId: o.rerunOf }) : [];
    const carried = new Map(
      previous
        .filter((i) => i.state === 'resolved' || i.state === 'ignored')
        .map((i) => [`${i.txnId}|${i.class}`, i]),
    );
    const open = items.filter((i) => i.severity !== 'info').length;
    await knex.transaction(async (trx) => {
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

  /**
   * After the commit, the only things an import sets moving by itself: the credit retry takes a
   * PENDING_OURS payment now, the poller a REFUND_PENDING_OURS refund. No money moves here.
   */
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
}
