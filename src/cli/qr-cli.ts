import { createServices, type KaspiQrParts, type QrReturnParts } from '../wiring/wiring.js';
import type { RemoteInvoices } from '../kaspi-qr/remote-invoice.js';
import { CliError, type CliContext } from './cli-context.js';
import { cliAction, type CommandDeps } from './refund-commands.js';

/** What a `qr …` command gets: the same Kaspi QR services as the admin API and the engine. */
export interface QrCli extends KaspiQrParts {
  /** Remote invoices (r3; other schemes refuse them). */
  remote: RemoteInvoices;
  /** Returns and r2 return sessions. */
  returns: QrReturnParts;
}

function open(ctx: CliContext): QrCli {
  const s = createServices(ctx.config, ctx.db, ctx.stores);
  if (!s.kaspiQr || !s.qrRemote || !s.qrReturns)
    throw new CliError('Kaspi QR is off: set KASPI_QR_SCHEME (and the rest of KASPI_QR_*)');
  return { ...s.kaspiQr, remote: s.qrRemote, returns: s.qrReturns };
}

/** Runs with Kaspi QR's services and closes its keep-alive agent afterwards, so the process can exit. */
export function withQr<A extends unknown[]>(deps: CommandDeps, fn: (qr: QrCli, ...args: A) => Promise<void>) {
  return cliAction(deps, async (ctx, ...args: A) => {
    const qr = open(ctx);
    try {
      await fn(qr, ...args);
    } finally {
      qr.service.client.close();
    }
  });
}
