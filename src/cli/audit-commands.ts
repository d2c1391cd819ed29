import type { Command } from 'commander';
import { timeParam } from '../admin/admin-api-routes.js';
import { auditView, type AuditFilter } from '../audit/audit-log.js';
import { AppError } from '../shared/errors.js';
import { cliAction, positiveInt, type CommandDeps } from './refund-commands.js';
import { CliError, print } from './cli-context.js';

/** `audit list`: the audit log, newest first, with the same filters as GET /api/audit. */
export function registerAuditCommands(program: Command, deps: CommandDeps = {}): void {
  const auditCmd = program.command('audit').description('the audit log: who did what, from every interface');
  auditCmd
    .command('list')
    .description('entries, newest first')
    .option('--from <time>', 'from (2026-12-01 or 2026-12-01T10:00:00+05:00)')
    .option('--to <time>', 'before')
    .option('--actor <actor>', 'console:<login>, api, cli:<user>')
    .option('--action <action>', 'refund.filed, signin.failed, ...')
    .option('--target-type <type>', 'payment, refund, account, order, user, ...')
    .option('--target-id <id>', 'the id of the target')
    .option('--before <id>', 'older than this entry (the next page)')
    .option('--limit <n>', 'how many', '100')
    .action(
      cliAction(
        deps,
        async (
          ctx,
          // The filter's own fields, but times, the page and the limit as typed on the command line.
          opts: Omit<AuditFilter, 'beforeId' | 'limit'> & { before?: string; limit: string },
        ) => {
          let from: string | undefined;
          let to: string | undefined;
          try {
            from = timeParam('--from', opts.from);
            to = timeParam('--to', opts.to);
          } catch (e) {
            if (e instanceof AppError) throw new CliError(e.message);
            throw e;
          }
          if (opts.before !== undefined && !/^\d{1,20}$/.test(opts.before))
            throw new CliError('--before must be an entry id');
          const entries = await ctx.stores.audit.list({
            from,
            to,
            actor: opts.actor,
            action: opts.action,
            targetType: opts.targetType,
            targetId: opts.targetId,
            beforeId: opts.before,
            limit: Math.min(positiveInt(opts.limit, '--limit'), 1000),
          });
          print(entries.map(auditView));
        },
      ),
    );
}
