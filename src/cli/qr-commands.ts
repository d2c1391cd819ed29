import type { Command } from 'commander';
import type { TestAction } from '../kaspi-qr/kaspi-qr-calls.js';
import { CliError, print } from './cli-context.js';
import { withQr } from './qr-cli.js';
import { registerQrPaymentCommands, registerQrReturnCommands } from './qr-payment-commands.js';
import type { CommandDeps } from './refund-commands.js';

const TEST_ACTIONS: readonly TestAction[] = ['scan', 'confirm', 'scanerror', 'confirmerror'];

/**
 * `qr tradepoints | device register|delete | ping | test <action>`, and (qr-payment-commands.ts)
 * `qr payments create|show|list|refresh|cancel | client-info | returns create|show`:
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

  registerQrPaymentCommands(qr, deps);
  registerQrReturnCommands(qr, deps);

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
