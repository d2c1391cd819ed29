import type { Command } from 'commander';
import { dbTime } from '../db/db.js';
import { amountFields } from '../http/json-amount.js';
import type { PaymentState } from '../payments/payment-store.js';
import { paymentView } from '../payments/payment-view.js';
import { refundView } from '../refunds/refund-view.js';
import { refundable } from '../refunds/refundable.js';
import { CliError, print } from './cli-context.js';
import { cliAction, positiveInt, type CommandDeps } from './refund-commands.js';

function when(v: string | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(d.getTime())) throw new CliError(`${what} must be a date like 2026-11-23 or an ISO time`);
  return dbTime(d);
}

/** `payments show|list`: what Kaspi and JetPay paid, with refunds. */
export function registerPaymentCommands(program: Command, deps: CommandDeps = {}): void {
  const payments = program.command('payments').description('payments received');

  payments
    .command('show <txnId>')
    .description("show a payment by Kaspi's txn_id, with its refunds and what is left to refund")
    .action(
      cliAction(deps, async ({ stores }, txnId: string) => {
        const found = await stores.payments.findByTxnAnySource(txnId);
        if (found.length === 0) throw new CliError(`no payment with txn_id ${txnId}`);
        const out = [];
        for (const p of found) {
          const refunds = await stores.refunds.listForPayment(p.id);
          out.push({
            ...paymentView(p),
            ...amountFields('refundable', refundable(p, refunds)),
            refunds: refunds.map(refundView),
          });
        }
        print(out.length === 1 ? out[0] : out);
      }),
    );

  payments
    .command('list')
    .description('list payments, newest first')
    .option('--from <date>', 'received at or after (UTC date or ISO time)')
    .option('--to <date>', 'received before')
    .option('--account <account>', 'of one account')
    .option('--status <state>', 'credited, failed, pending, ...')
    .option('--limit <n>', 'how many', '100')
    .action(
      cliAction(
        deps,
        async (
          { stores },
          opts: { from?: string; to?: string; account?: string; status?: string; limit: string },
        ) => {
          const list = await stores.payments.list({
            from: when(opts.from, '--from'),
            to: when(opts.to, '--to'),
            account: opts.account,
            state: opts.status as PaymentState | undefined,
            limit: positiveInt(opts.limit, '--limit'),
          });
          print(list.map(paymentView));
        },
      ),
    );
}
