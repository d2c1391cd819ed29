import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { actors } from '../audit/audit-log.js';
import { QR_STATES, type QrState } from '../kaspi-qr/kaspi-qr-store.js';
import { purchaseView } from '../kaspi-qr/kaspi-qr-view.js';
import { returnSessionView } from '../refunds/kaspi-qr-return-routes.js';
import { parseTenge, type Tiyn } from '../shared/money.js';
import { CliError, print } from './cli-context.js';
import { withQr } from './qr-cli.js';
import { positiveInt, type CommandDeps } from './refund-commands.js';

const digits = (id: string, what = 'id'): string => {
  if (!/^\d{1,20}$/.test(id)) throw new CliError(`${what} must be digits`);
  return id;
};

const tenge = (amount: string): Tiyn => {
  const tiyn = parseTenge(amount);
  if (tiyn === null) throw new CliError(`amount must be tenge like 1500.00, got "${amount}"`);
  return tiyn;
};

const newKey = () => `cli:${randomBytes(12).toString('hex')}`;

/**
 * `qr payments create|show|list|refresh|cancel` and `qr client-info`: QR, link and remote purchases
 * (shared/spec/kaspi-qr.md "Command line"), through the same services as the admin API.
 */
export function registerQrPaymentCommands(qr: Command, deps: CommandDeps): void {
  const payments = qr.command('payments').description('Kaspi QR purchases');
  payments
    .command('create <account> <amount>')
    .description(
      'a QR purchase (or --link, or --remote --phone) for an account, amount in tenge like 1500.00',
    )
    .option('--link', 'a payment link (for a phone) instead of a QR code')
    .option('--remote', "r3: an invoice pushed to the payer's Kaspi app (needs --phone)")
    .option('--phone <phone>', "the payer's phone for --remote: +7…, 7…, 8… or 10 digits")
    .option('--comment <text>', 'kept beside the purchase (sent to Kaspi with --remote)')
    .option('--idempotency-key <key>', 'a repeat with the same key shows the first purchase')
    .action(
      withQr(
        deps,
        async (
          { service, remote },
          account: string,
          amount: string,
          opts: {
            link?: boolean;
            remote?: boolean;
            phone?: string;
            comment?: string;
            idempotencyKey?: string;
          },
        ) => {
          if (opts.remote && opts.link) throw new CliError('--link and --remote: one or the other');
          if (opts.phone !== undefined && !opts.remote) throw new CliError('--phone goes with --remote');
          if (opts.remote && opts.phone === undefined) throw new CliError('--remote needs --phone <phone>');
          const base = {
            account,
            amount: tenge(amount),
            comment: opts.comment,
            idempotencyKey: opts.idempotencyKey ?? newKey(),
            actor: actors.cli(),
          };
          const { purchase } = opts.remote
            ? await remote.create({ ...base, phone: opts.phone })
            : await service.create({ ...base, kind: opts.link ? 'link' : 'qr' });
          print(await purchaseView(purchase, service.payUrl(purchase)));
        },
      ),
    );
  payments
    .command('show <id>')
    .description('a purchase by our id, with its credit (never asks Kaspi: see refresh)')
    .action(
      withQr(deps, async ({ service }, id: string) => {
        const p = await service.get(digits(id));
        print(await purchaseView(p, service.payUrl(p)));
      }),
    );
  payments
    .command('refresh <id>')
    .description(
      'a remote invoice: ask Kaspi for its status now (at most once per 30 s per invoice; within that, the stored state)',
    )
    .action(
      withQr(deps, async ({ service, remote }, id: string) => {
        const p = await remote.refresh(digits(id));
        print(await purchaseView(p, service.payUrl(p)));
      }),
    );
  payments
    .command('cancel <id>')
    .description('a remote invoice: remote/cancel, then a last status read (a payment racing it wins)')
    .action(
      withQr(deps, async ({ service, remote }, id: string) => {
        const p = await remote.cancel(digits(id), actors.cli());
        print(await purchaseView(p, service.payUrl(p)));
      }),
    );
  payments
    .command('list')
    .description('purchases, newest first')
    .option('--state <state>', QR_STATES.join(', '))
    .option('--account <account>', 'of one account')
    .option('--limit <n>', 'how many', '100')
    .action(
      withQr(deps, async ({ service }, opts: { state?: string; account?: string; limit: string }) => {
        if (opts.state && !QR_STATES.includes(opts.state as QrState))
          throw new CliError(`--state must be one of ${QR_STATES.join(', ')}`);
        const list = await service.list({
          state: opts.state as QrState | undefined,
          account: opts.account,
          limit: positiveInt(opts.limit, '--limit'),
        });
        print(await Promise.all(list.map((p) => purchaseView(p, service.payUrl(p)))));
      }),
    );

  qr.command('client-info <phone>')
    .description(
      "r3: the payer's name for a phone, before a remote invoice (personal data: printed, never logged)",
    )
    .action(
      withQr(deps, async ({ remote }, phone: string) => {
        print(await remote.clientInfo(phone));
      }),
    );
}

/**
 * `qr returns create|show`: r2 return sessions, the payer present (a return without the payer, r3,
 * is `refunds create <QrPaymentId> <amount> <reason> --source kaspi_qr`).
 */
export function registerQrReturnCommands(qr: Command, deps: CommandDeps): void {
  const returns = qr.command('returns').description('r2: returns with the payer present (a return QR)');
  returns
    .command('create <txnId> <amount> <reason...>')
    .description(
      'a return session for a credited purchase (its QrPaymentId), amount in tenge: prints the returnUrl whose QR the payer scans',
    )
    .option('--idempotency-key <key>', 'a repeat with the same key shows the first session')
    .action(
      withQr(
        deps,
        async (
          { returns: r },
          txnId: string,
          amount: string,
          reason: string[],
          opts: { idempotencyKey?: string },
        ) => {
          const { session } = await r.sessions.start({
            txnId: digits(txnId, 'txnId (the QrPaymentId)'),
            amount: tenge(amount),
            reason: reason.join(' '),
            idempotencyKey: opts.idempotencyKey ?? null,
            createdBy: 'cli',
            actor: actors.cli(),
          });
          print(returnSessionView(session, r.sessions.returnUrl(session)));
        },
      ),
    );
  returns
    .command('show <id>')
    .description('a return session: its state, and its refund once the payer scanned (see `refunds show`)')
    .action(
      withQr(deps, async ({ returns: r }, id: string) => {
        const s = await r.sessions.get(digits(id));
        print(returnSessionView(s, r.sessions.returnUrl(s)));
      }),
    );
}
