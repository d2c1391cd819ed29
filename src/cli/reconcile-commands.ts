import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { actors, type Actor } from '../audit/audit-log.js';
import { AppError } from '../shared/errors.js';
import { createServices } from '../wiring/wiring.js';
import { monthCsv, monthJson, monthText } from '../reconcile/reconcile-month.js';
import { exitCodeOf, itemsCsv, reportJson, summaryText } from '../reconcile/reconcile-report.js';
import { RESOLVE_ACTIONS, type ReconcileService } from '../reconcile/reconcile-service.js';
import { RegistryFileError } from '../reconcile/registry-errors.js';
import type { DelimiterChoice, EncodingChoice } from '../reconcile/registry-reader.js';
import { CliError, openCliContext, print, type CliContext } from './cli-context.js';
import type { CommandDeps } from './refund-commands.js';

/**
 * `reconcile import|list|show|items|todo|resolve|rerun|export|month|profiles` (shared/spec/reconciliation.md
 * "Interfaces"). Exit codes: 0 nothing needs a person, 3 action items are open, 1 the file could not
 * be read, 2 a usage error (CliError, from src/cli/index.ts).
 */

function say(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function actorOf(operator?: string): Actor {
  const a = actors.cli();
  return operator ? { ...a, id: `${a.id}:${operator}` } : a;
}

function reconcileAction<A extends unknown[]>(
  deps: CommandDeps,
  fn: (svc: ReconcileService, ctx: CliContext, ...args: A) => Promise<void>,
) {
  return async (...args: A): Promise<void> => {
    const ctx = await (deps.open ?? openCliContext)();
    try {
      await fn(createServices(ctx.config, ctx.db, ctx.stores).reconcile, ctx, ...args);
    } catch (e) {
      if (e instanceof RegistryFileError) {
        // The file could not be read: exit 1, with what a person needs to fix it.
        const { reason: _r, ...details } = e.details ?? {};
        process.stderr.write(`error: ${e.message}\n`);
        if (Object.keys(details).length) process.stderr.write(`${JSON.stringify(details)}\n`);
        process.exitCode = 1;
        return;
      }
      if (e instanceof AppError && e.operational) throw new CliError(`${e.code}: ${e.message}`);
      throw e;
    } finally {
      await ctx.db.close();
    }
  };
}

const day = (v: string | undefined, what: string) => {
  if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new CliError(`${what} must be YYYY-MM-DD`);
  return v;
};

async function writeOutputs(svc: ReconcileService, runId: string, dir: string): Promise<string[]> {
  const ctx = await svc.context(runId);
  fs.mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['report.json', `${JSON.stringify(reportJson(ctx), null, 2)}\n`],
    ['items.csv', itemsCsv(ctx)],
    ['summary.txt', summaryText(ctx)],
  ];
  for (const [name, text] of files) fs.writeFileSync(path.join(dir, name), text);
  return files.map(([n]) => path.join(dir, n));
}

export function registerReconcileCommands(program: Command, deps: CommandDeps = {}): void {
  const rc = program.command('reconcile').description("Kaspi's registries matched against what we credited");

  rc.command('import <file>')
    .description(
      'import a registry (xlsx or csv) and match it; prints the summary; exit 0 clean, 3 action items open, 1 unreadable',
    )
    .option('--kind <kind>', 'daily | monthly', 'daily')
    .option('--from <date>', 'first day of the period, YYYY-MM-DD (else inferred from the rows)')
    .option('--to <date>', 'last day of the period, YYYY-MM-DD')
    .option(
      '--received-at <iso>',
      'when the registry arrived (the same-day deadline counts from it); default now',
    )
    .option('--profile <name>', 'registry profile (config/registry-profiles)')
    .option('--sheet <sheet>', 'xlsx sheet by name or 1-based index')
    .option('--encoding <enc>', 'auto | utf8 | cp1251 | utf16le', 'auto')
    .option('--delimiter <d>', 'auto | ; | , | tab', 'auto')
    .option('--replaces <run>', 'this file is a corrected re-issue of that run')
    .option('--rerun', 'a new run even when the same file was imported before')
    .option('--operator <name>', 'who imports it (the audit log)')
    .option('--out <dir>', 'write report.json, items.csv and summary.txt there')
    .option('--json', 'print report.json instead of the summary')
    .option('--dry-run', 'parse and match, print, store nothing and kick nothing')
    .action(
      reconcileAction(
        deps,
        async (
          svc,
          _ctx,
          file: string,
          o: {
            kind: string;
            from?: string;
            to?: string;
            receivedAt?: string;
            profile?: string;
            sheet?: string;
            encoding: string;
            delimiter: string;
            replaces?: string;
            rerun?: boolean;
            operator?: string;
            out?: string;
            json?: boolean;
            dryRun?: boolean;
          },
        ) => {
          if (o.kind !== 'daily' && o.kind !== 'monthly')
            throw new CliError('--kind must be daily or monthly');
          if (!['auto', 'utf8', 'cp1251', 'utf16le'].includes(o.encoding))
            throw new CliError('--encoding: auto, utf8, cp1251 or utf16le');
          if (!['auto', ';', ',', 'tab'].includes(o.delimiter))
            throw new CliError('--delimiter: auto, ;, , or tab');
          const received = o.receivedAt ? new Date(o.receivedAt) : null;
          if (received && Number.isNaN(received.getTime()))
            throw new CliError('--received-at must be an ISO time');
          let bytes: Buffer;
          try {
            bytes = fs.readFileSync(file);
          } catch {
            throw new CliError(`cannot read ${file}`);
          }
          const r = await svc.import(bytes, {
            fileName: path.basename(file),
            kind: o.kind,
            from: day(o.from, '--from'),
            to: day(o.to, '--to'),
            profile: o.profile,
            sheet: o.sheet,
            encoding: o.encoding as EncodingChoice,
            delimiter: o.delimiter as DelimiterChoice,
            receivedAt: received,
            replaces: o.replaces ?? null,
            rerun: o.rerun,
            dryRun: o.dryRun,
            origin: 'cli',
            actor: actorOf(o.operator),
            operator: o.operator ?? null,
          });
          if (!r.run) {
            const p = r.preview as { items: Array<{ severity: string }> };
            print({ dryRun: true, ...r.preview });
            process.exitCode = p.items.some((i) => i.severity === 'action') ? 3 : 0;
            return;
          }
          const ctx = await svc.context(r.run.id);
          if (r.duplicate) process.stderr.write(`already imported as run ${r.run.id}\n`);
          if (o.out) await writeOutputs(svc, r.run.id, o.out);
          if (o.json) print({ ...reportJson(ctx), duplicate: r.duplicate });
          else say(summaryText(ctx));
          process.exitCode = exitCodeOf(ctx.items, ctx.run);
        },
      ),
    );

  rc.command('list')
    .description('registry runs, newest first')
    .option('--from <date>')
    .option('--to <date>')
    .option('--status <s>', 'running | clean | discrepancies | resolved | failed')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      reconcileAction(
        deps,
        async (svc, _ctx, o: { from?: string; to?: string; status?: string; limit: string }) => {
          if (!/^\d{1,3}$/.test(o.limit)) throw new CliError('--limit must be 1..500');
          const runs = await svc.store.listRuns({
            from: day(o.from, '--from')?.replace(/-/g, ''),
            to: day(o.to, '--to')?.replace(/-/g, ''),
            status: o.status,
            limit: Number(o.limit),
          });
          print({ runs: await Promise.all(runs.map((r) => svc.runSummary(r))) });
        },
      ),
    );

  rc.command('show <run>')
    .description('the summary of a run (or report.json with --json)')
    .option('--json')
    .action(
      reconcileAction(deps, async (svc, _ctx, run: string, o: { json?: boolean }) => {
        const ctx = await svc.context(run);
        if (o.json) print(reportJson(ctx));
        else say(summaryText(ctx));
        process.exitCode = exitCodeOf(ctx.items, ctx.run);
      }),
    );

  rc.command('items [run]')
    .description('items of a run, or open ones in every run')
    .option('--open', 'open items only')
    .option('--severity <s>', 'action | watch | info')
    .option('--class <c>', 'one class, like MISSING_OURS')
    .option('--csv', 'items.csv instead of JSON')
    .action(
      reconcileAction(
        deps,
        async (
          svc,
          _ctx,
          run: string | undefined,
          o: { open?: boolean; severity?: string; class?: string; csv?: boolean },
        ) => {
          if (run) {
            const ctx = await svc.context(run);
            const keep = ctx.items.filter(
              (i) =>
                (!o.open || i.state === 'open') &&
                (!o.severity || i.severity === o.severity) &&
                (!o.class || i.class === o.class),
            );
            if (o.csv) say(itemsCsv({ ...ctx, items: keep }));
            else print({ items: reportJson({ ...ctx, items: keep }).items });
            return;
          }
          print({ items: await svc.todo({ state: 'open', severity: o.severity, class: o.class }) });
        },
      ),
    );

  rc.command('todo')
    .description('every open action item in every run, earliest due first, overdue marked')
    .action(
      reconcileAction(deps, async (svc) => {
        const items = await svc.todo({ state: 'open', severity: 'action' });
        print({ items });
        process.exitCode = items.length > 0 ? 3 : 0;
      }),
    );

  rc.command('resolve <item>')
    .description(`resolve an item: --action ${RESOLVE_ACTIONS.join('|')} (accept and ignore need --note)`)
    .requiredOption('--action <a>', RESOLVE_ACTIONS.join(' | '))
    .option('--note <text>', 'why (required for accept and ignore)')
    .option('--account <account>', 'credit: the payer account when the row has none')
    .option('--payment <txnId>', 'link: our payment this TXN_ID_PRECISION row is')
    .option('--operator <name>', 'who resolves it (the audit log)')
    .action(
      reconcileAction(
        deps,
        async (
          svc,
          _ctx,
          item: string,
          o: { action: string; note?: string; account?: string; payment?: string; operator?: string },
        ) => {
          const done = await svc.resolve(item, {
            action: o.action,
            note: o.note ?? null,
            account: o.account ?? null,
            payment: o.payment ?? null,
            actor: actorOf(o.operator),
          });
          print(await svc.viewOf(done));
        },
      ),
    );

  rc.command('rerun <run>')
    .description('re-match a run against the current payments and refunds, in a new run')
    .action(
      reconcileAction(deps, async (svc, _ctx, run: string) => {
        const next = await svc.rerun(run, actors.cli(), 'cli');
        const ctx = await svc.context(next.id);
        say(summaryText(ctx));
        process.exitCode = exitCodeOf(ctx.items, ctx.run);
      }),
    );

  rc.command('export <run>')
    .description('write report.json, items.csv and summary.txt of a run')
    .requiredOption('--out <dir>')
    .action(
      reconcileAction(deps, async (svc, _ctx, run: string, o: { out: string }) => {
        print({ written: await writeOutputs(svc, run, o.out) });
      }),
    );

  rc.command('month <yyyy-mm>')
    .description(
      'the monthly statement: per day Kaspi and ours, days without a registry, open items (exit 3: action items open)',
    )
    .option('--json', 'print statement.json instead of the text')
    .option('--out <dir>', 'write statement.json, statement.csv and statement.txt')
    .action(
      reconcileAction(deps, async (svc, _ctx, month: string, o: { json?: boolean; out?: string }) => {
        if (!/^\d{4}-\d{2}$/.test(month)) throw new CliError('month must be YYYY-MM');
        const m = await svc.month(month);
        if (o.out) {
          fs.mkdirSync(o.out, { recursive: true });
          for (const [name, text] of [
            ['statement.json', `${JSON.stringify(monthJson(m), null, 2)}\n`],
            ['statement.csv', monthCsv(m)],
            ['statement.txt', monthText(m)],
          ] as const)
            fs.writeFileSync(path.join(o.out, name), text);
        }
        if (o.json) print(monthJson(m));
        else say(monthText(m));
        process.exitCode = m.openItems.some((i) => i.severity === 'action') ? 3 : 0;
      }),
    );

  rc.command('profiles [name]')
    .description('registry profiles, or one with its header aliases')
    .action(
      reconcileAction(deps, async (svc, _ctx, name: string | undefined) => {
        if (name) print(svc.profile(name));
        else print({ profiles: svc.profiles().map((p) => ({ name: p.name, note: p.note ?? null })) });
      }),
    );
}
