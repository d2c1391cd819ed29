import { Router, type Request, type Response } from 'express';
import { actors } from '../audit/audit-log.js';
import { ValidationError } from '../shared/errors.js';
import { formatTenge } from '../shared/money.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import { purchaseView } from './kaspi-qr-view.js';
import type { RemoteInvoices } from './remote-invoice.js';

/**
 * Remote invoices on the admin listener (behind adminAuth); creating one is `POST /api/qr/payments`
 * with `kind: "remote"` (kaspi-qr-routes.ts):
 * - POST /api/qr/payments/:id/cancel: remote/cancel, then a last status read;
 * - GET /api/qr/client-info?phone=: the payer's name (personal data: answered, never logged);
 * - GET /api/qr/remote-invoices/unknown: remote/create calls whose outcome is unknown, for a person.
 */
export function remoteInvoiceRoutes(deps: { service: KaspiQrService; remote: RemoteInvoices }): Router {
  const router = Router();

  router.post('/api/qr/payments/:id/cancel', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!/^\d{1,20}$/.test(id)) throw new ValidationError('id must be digits');
    const p = await deps.remote.cancel(id, actors.api(req.ip));
    res.json(await purchaseView(p, deps.service.payUrl(p)));
  });

  router.get('/api/qr/client-info', async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    res.json(await deps.remote.clientInfo(req.query.phone));
  });

  router.get('/api/qr/remote-invoices/unknown', async (_req: Request, res: Response) => {
    const list = await deps.remote.unknownInvoices();
    res.json(
      list.map((i) => ({
        invoiceId: i.id,
        state: i.state,
        account: i.account,
        amount: formatTenge(i.amount),
        phone: i.phoneMasked,
        createdAt: i.createdAt.toISOString(),
        lastError: i.lastError,
      })),
    );
  });
  return router;
}
