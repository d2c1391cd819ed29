import type { Actor } from '../audit/audit-log.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { HeldRecords } from './reconcile-held.js';
import { RegistryImporter } from './reconcile-import.js';
import { sortItems } from './reconcile-matcher.js';
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
export class ReconcileService {
  readonly store: ReconcileStore;
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
  import(bytes: Buffer, o: ImportOptions): Promise<ImportResult> {
    return this.importer.import(bytes, o, this.profile(o.profile));
  }

  /** Re-match a run's stored rows against what we hold now, in a new run. */
  async rerun(runId: string, actor: Actor, origin: 'cli' | 'api' | 'console'): Promise<Run> {
    const old = await this.store.getRun(runId);
    if (!old) throw new NotFoundError('run');
    return this.importer.rerun(runId, actor, origin, this.profile(old.profile));
  }

  resolve(itemId: string, input: ResolveInput): Promise<StoredItem> {
    return this.resolutions.resolve(itemId, input);
  }

  watch(now = new Date()): Promise<WatchResult> {
    return this.watcher.watch(now);
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
