import { createHash } from 'node:crypto';
import type { Actor } from '../audit/audit-log.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { HeldRecords } from './reconcile-held.js';
import { RegistryImporter } from './reconcile-import.js';
import { sortItems } from './reconcile-matcher.js';
import type { RunCounts, RunEnd } from './reconcile-metrics.js';
import { itemView, runView, type ReportContext } from './reconcile-report.js';
import { Resolutions } from './reconcile-resolve.js';
import type { ReconcileStore, RegistryFile, Run, StoredItem } from './reconcile-store.js';
import type { ImportOptions, ImportResult, ReconcileDeps, ResolveInput } from './reconcile-types.js';
import { ReconcileWatch, type WatchResult } from './reconcile-watch.js';
import type { Profile, RegistryRow } from './registry-profile.js';

export { kaspiIso } from './reconcile-calendar.js';
export { summarizeEvidence } from './reconcile-evidence.js';
export {
  allowedActions,
  RESOLVE_ACTIONS,
  type ImportOptions,
  type ImportResult,
  type ReconcileDeps,
  type ReconcileSettings,
  type ResolveAction,
  type ResolveInput,
} from './reconcile-types.js';
export type { WatchResult } from './reconcile-watch.js';

/**
 * Kaspi's registries against what we hold (shared/spec/reconciliation.md): what the admin API, the
 * CLI, the console and the watch job call. The work is in its parts: the import (reconcile-import:
 * read → map → store rows → match → items), the resolutions (reconcile-resolve), the watch job
 * (reconcile-watch); this class keeps the public methods and the views. The gateway never moves
 * money because of a registry on its own: an import only kicks the credit retry and the refund
 * poll; money moves when a person resolves an item, through the paths that move it exactly once.
 */
export class ReconcileService implements RunCounts {
  readonly store: ReconcileStore;
  /** Runs ended in this process, by status (gateway_reconcile_runs_total). */
  private readonly ended: Partial<Record<RunEnd, number>> = {};
  private readonly held: HeldRecords;
  private readonly importer: RegistryImporter;
  private readonly resolutions: Resolutions;
  private readonly watcher: ReconcileWatch;

  constructor(private readonly deps: ReconcileDeps) {
    this.store = deps.store;
    this.held = new HeldRecords(deps.db);
    this.importer = new RegistryImporter(deps, this.held);
    this.resolutions = new Resolutions(deps);
    this.watcher = new ReconcileWatch(deps, this.held, this.resolutions);
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

  /** Import and match one registry file (the same file again: its run, `duplicate: true`). */
  async import(bytes: Buffer, o: ImportOptions): Promise<ImportResult> {
    const profile = this.profile(o.profile);
    if (o.dryRun) return this.importer.import(bytes, o, profile);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const before = await this.lastRunOfSha(sha256);
    try {
      const out = await this.importer.import(bytes, o, profile);
      if (out.run && !out.duplicate) this.count(out.run.status);
      return out;
    } catch (e) {
      this.countFailed(await this.lastRunOfSha(sha256).catch(() => null), before);
      throw e;
    }
  }

  /** Re-match a run's stored rows against what we hold now, in a new run. */
  async rerun(runId: string, actor: Actor, origin: 'cli' | 'api' | 'console'): Promise<Run> {
    const old = await this.store.getRun(runId);
    if (!old) throw new NotFoundError('run');
    const before = await this.store.lastRunOfFile(old.fileId);
    try {
      const run = await this.importer.rerun(runId, actor, origin, this.profile(old.profile));
      this.count(run.status);
      return run;
    } catch (e) {
      this.countFailed(await this.store.lastRunOfFile(old.fileId).catch(() => null), before);
      throw e;
    }
  }

  runCounts(): Readonly<Partial<Record<RunEnd, number>>> {
    return { ...this.ended };
  }

  private count(status: string, n = 1): void {
    if (n > 0 && (status === 'clean' || status === 'discrepancies' || status === 'failed'))
      this.ended[status] = (this.ended[status] ?? 0) + n;
  }

  /** An import that threw after its run was stored: that new run is `failed` (a refusal before it is not a run). */
  private countFailed(after: Run | null, before: Run | null): void {
    if (after && after.id !== before?.id && after.status === 'failed') this.count('failed');
  }

  private async lastRunOfSha(sha256: string): Promise<Run | null> {
    const file = await this.store.findFileBySha(sha256);
    return file ? this.store.lastRunOfFile(file.id) : null;
  }

  resolve(itemId: string, input: ResolveInput): Promise<StoredItem> {
    return this.resolutions.resolve(itemId, input);
  }

  async watch(now = new Date()): Promise<WatchResult> {
    const out = await this.watcher.watch(now);
    this.count('failed', out.failedRuns); // stuck in running: ended here, as failed
    return out;
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
      rows: new Map(rows.map((r) => [r.id, r])),
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
}
