import type { Command } from 'commander';
import { actors } from '../audit/audit-log.js';
import { AppError } from '../shared/errors.js';
import { createServices } from '../wiring/wiring.js';
import { parseTenge } from '../shared/money.js';
import { REFUND_STATUSES, type RefundStatus } from '../refunds/refund-store.js';
import { refundView } from '../refunds/refund-view.js';
import type { RefundService } from '../refunds/refund-service.js';
import { CliError, openCliContext, print, type CliContext } from './cli-context.js';

export interface CommandDeps {
  /** Where the context comes from; tests hand in their own database. */
  open?: () => Promise<CliContext>;
}

/** Runs a command on a fresh context, closes it, and turns refusals into plain CLI errors. */
export function cliAction<A extends unknown[]>(
  deps: CommandDeps,
  fn: (ctx: CliContext, ...args: A) => Promise<void>,
) {
  return async (...args: A): Promise<void> => {
    const ctx = await (deps.open ?? openCliContext)();
    try {
      await fn(ctx, ...args);
    } catch (e) {
      if (e instanceof AppError && e.operational) throw new CliError(`${e.code}: ${e.message}`);
      throw e;
    } finally {
      await ctx.db.close();
    }
  };
}

export function positiveInt(v: string, what: string): number {
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw new CliError(`${what} must be a whole number from 1`);
  return Number(v);
}

/** `refunds create|show|list|resume`: the same service as the admin API, on the same database. */
export function registerRefundCommands(program: Command, deps: CommandDeps = {}): void {
  const refunds = program.command('refunds').description("refunds filed with Kaspi's Refund API");
  /** The refunds service for one command; a Kaspi QR client it opened is closed after, so the process can exit. */
  const withRefunds = async <T>(ctx: CliContext, fn: (r: RefundService) => Promise<T>): Promise<T> => {
    const s = createServices(ctx.config, ctx.db, ctx.stores);
    try {
      return await fn(s.refunds);
    } finally {
      s.kaspiQr?.service.client.close();
    }
  };

  refunds
    .command('create <txnId> <amount> <reason...>')
    .description('refund (part of) a credited Kaspi payment: amount in tenge, like 100.00')
    .option(
      '--idempotency-key <key>',
      'a repeat with the same key shows the first refund instead of filing another',
    )
    .option(
      '--source <source>',
      'kaspi (the Refund API) or kaspi_qr (a Kaspi QR purchase by its QrPaymentId)',
      'kaspi',
    )
    .action(
      cliAction(
        deps,
        async (
          ctx,
          txnId: string,
          amount: string,
          reason: string[],
          opts: { idempotencyKey?: string; source: string },
        ) => {
          const tiyn = parseTenge(amount);
          if (tiyn === null) throw new CliError(`amount must be tenge like 100.00, got "${amount}"`);
          const source = opts.source;
          if (source !== 'kaspi' && source !== 'kaspi_qr')
            throw new CliError('--source must be kaspi or kaspi_qr');
          const { refund } = await withRefunds(ctx, (r) =>
            r.create({
              source,
              txnId,
              amount: tiyn,
              reason: reason.join(' '),
              idempotencyKey: opts.idempotencyKey ?? null,
              createdBy: 'cli',
              actor: actors.cli(),
            }),
          );
          print(refundView(refund));
        },
      ),
    );

  refunds
    .command('show <id>')
    .description('show a refund')
    .action(
      cliAction(deps, async (ctx, id: string) => {
        print(refundView(await withRefunds(ctx, (r) => r.get(id))));
      }),
    );

  refunds
    .command('list')
    .description('list refunds, newest first')
    .option('--status <status>', `one of ${REFUND_STATUSES.join(', ')}`)
    .option('--txn <txnId>', 'refunds of one payment')
    .option('--flagged', 'only those waiting for a person')
    .option('--limit <n>', 'how many', '100')
    .action(
      cliAction(
        deps,
        async (ctx, opts: { status?: string; txn?: string; flagged?: boolean; limit: string }) => {
          if (opts.status !== undefined && !REFUND_STATUSES.includes(opts.status as RefundStatus)) {
            throw new CliError(`--status must be one of ${REFUND_STATUSES.join(', ')}`);
          }
          const list = await withRefunds(ctx, (r) =>
            r.list({
              status: opts.status as RefundStatus | undefined,
              txnId: opts.txn,
              flagged: opts.flagged,
              limit: positiveInt(opts.limit, '--limit'),
            }),
          );
          print(list.map(refundView));
        },
      ),
    );

  refunds
    .command('resume <id>')
    .description('after a person looked: follow a flagged, stopped or FATAL refund again at the next poll')
    .action(
      cliAction(deps, async (ctx, id: string) => {
        print(refundView(await withRefunds(ctx, (r) => r.resume(id, actors.cli()))));
      }),
    );
}
