import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { actors } from '../audit/audit-log.js';
import type { TestAction } from '../kaspi-qr/kaspi-qr-calls.js';
import { QR_STATES, type QrState } from '../kaspi-qr/kaspi-qr-store.js';
import { purchaseView } from '../kaspi-qr/kaspi-qr-view.js';
import { parseTenge } from '../shared/money.js';
import { createServices, type KaspiQrParts } from '../wiring/wiring.js';
import { CliError, print, type CliContext } from './cli-context.js';
import { cliAction, positiveInt, type CommandDeps } from './refund-commands.js';

function kaspiQr(ctx: CliContext): KaspiQrParts {
  const qr = createServices(ctx.config, ctx.db, ctx.stores).kaspiQr;
  if (!qr) throw new CliError('Kaspi QR is off: set KASPI_QR_SCHEME (and the rest of KASPI_QR_*)');
  return qr;
}

/** Runs with Kaspi QR's service and closes its keep-alive agent afterwards. */
function withQr<A extends unknown[]>(deps: CommandDeps, fn: (qr: KaspiQrParts, ...args: A) => Promise<void>) {
  return cliAction(deps, async (ctx, ...args: A) => {
    const qr = kaspiQr(ctx);
    try {
      await fn(qr, ...args);
    } finally {
      qr.service.client.close();
    }
  });
}

const TEST_ACTIONS: readonly TestAction[] = ['scan', 'confirm', 'scanerror', 'confirmerror'];

/**
 * `qr tradepoints | device register|delete | ping | payments create|show|list | test <action>`:
 * the same service as the admin API and the engine, on the same database (shared/spec/kaspi-qr.md
 * "Command line").
 */
export function registerQrCommands(program: Command, deps: CommandDeps = {}): void {
  const qr = program.command('qr').description('Kaspi QR: trade points, the device, purchases');

  qr.command('tradepoints')
    .description("the organisation's trade points at Kaspi (to register a device on one)")
    .action(
      withQr(deps, async ({ service }) => {
        print(await service.tradePoints());
      }),
    );

  const device = qr.command('device').description('the device (cash desk) Kaspi QR purchases are made on');
  device
    .command('register')
    .description('register the device on a trade point (idempotent) and store its token')
    .requiredOption('--trade-point <id>', 'TradePointId from `qr tradepoints`')
    .requiredOption('--device-id <id>', 'our id of the device: Latin letters, digits, dash, underscore')
    .action(
      withQr(deps, async ({ service }, opts: { tradePoint: string; deviceId: string }) => {
        const token = await service.registerDevice(opts.tradePoint, opts.deviceId);
        // The token authorises purchases: its last 4 characters at most.
        print({
          registered: true,
          deviceId: opts.deviceId,
          tradePointId: opts.tradePoint,
          deviceToken: `…${token.slice(-4)}`,
        });
      }),
    );
  device
    .command('delete')
    .description('delete (disable) the device at Kaspi and forget its token')
    .action(
      withQr(deps, async ({ service }) => {
        await service.deleteDevice();
        print({ deleted: true });
      }),
    );

  qr.command('ping')
    .description('health/ping: is Kaspi QR reachable with our credentials')
    .action(
      withQr(deps, async ({ service }) => {
        await service.ping();
        const c = service.client.certificate;
        print({
          kaspiQr: 'ok',
          scheme: service.client.scheme,
          ...(c
            ? { certificate: { subject: c.subject, issuer: c.issuer, validTo: c.validTo.toISOString() } }
            : {}),
        });
      }),
    );

  const payments = qr.command('payments').description('Kaspi QR purchases');
  payments
    .command('create <account> <amount>')
    .description('a QR purchase (or --link) for an account, amount in tenge like 1500.00')
    .option('--link', 'a payment link (for a phone) instead of a QR code')
    .option('--comment <text>', 'kept beside the purchase')
    .option('--idempotency-key <key>', 'a repeat with the same key shows the first purchase')
    .action(
      withQr(
        deps,
        async (
          { service },
          account: string,
          amount: string,
          opts: { link?: boolean; comment?: string; idempotencyKey?: string },
        ) => {
          const tiyn = parseTenge(amount);
          if (tiyn === null) throw new CliError(`amount must be tenge like 1500.00, got "${amount}"`);
          const { purchase } = await service.create({
            kind: opts.link ? 'link' : 'qr',
            account,
            amount: tiyn,
            comment: opts.comment,
            idempotencyKey: opts.idempotencyKey ?? `cli:${randomBytes(12).toString('hex')}`,
            actor: actors.cli(),
          });
          print(await purchaseView(purchase, service.payUrl(purchase)));
        },
      ),
    );
  payments
    .command('show <id>')
    .description('a purchase by our id, with its credit')
    .action(
      withQr(deps, async ({ service }, id: string) => {
        if (!/^\d{1,20}$/.test(id)) throw new CliError('id must be digits');
        const p = await service.get(id);
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

  qr.command('test <action> <qrPaymentId>')
    .description(`Kaspi's test host only (KASPI_QR_TEST_MODE=true): ${TEST_ACTIONS.join('|')}`)
    .action(
      withQr(deps, async ({ service }, action: string, qrPaymentId: string) => {
        if (!TEST_ACTIONS.includes(action as TestAction))
          throw new CliError(`action must be one of ${TEST_ACTIONS.join(', ')}`);
        print({ action, qrPaymentId, message: await service.testEmulate(action as TestAction, qrPaymentId) });
      }),
    );
}
