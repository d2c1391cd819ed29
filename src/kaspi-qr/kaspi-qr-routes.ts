import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { readAmount } from '../http/json-amount.js';
import { ValidationError } from '../shared/errors.js';
import { KaspiQrApiError } from './kaspi-qr-errors.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import type { RemoteInvoices } from './remote-invoice.js';
import { actors } from '../audit/audit-log.js';
import { QR_STATES, type QrState } from './kaspi-qr-store.js';
import { purchaseView } from './kaspi-qr-view.js';

function when(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ValidationError(`${what} must be a date`);
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(d.getTime()))
    throw new ValidationError(`${what} must be a date like 2026-12-01 or an ISO time`);
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Kaspi QR on the admin listener (behind adminAuth):
 * - POST /api/qr/payments `{"account","amount":"1500.00","kind":"qr"|"link"|"remote","phone"?,"comment"?}` +
 *   Idempotency-Key → 201 (the same key and body again: 200 with the same purchase)
 * - GET /api/qr/payments?state=&account=&from=&to=&limit=
 * - GET /api/qr/payments/:id (`?refresh=true`: a remote invoice's status asked of Kaspi, at most once per 30 s)
 * Kaspi refusing answers 502 with Kaspi's code and message (kaspiCode, kaspiMessage).
 */
export function kaspiQrRoutes(deps: { service: KaspiQrService; remote?: RemoteInvoices | null }): Router {
  const { service } = deps;
  const router = Router();
  const json = express.json({
    limit: '16kb',
    strict: true,
    type: ['application/json', 'application/*+json'],
  });

  router.post('/api/qr/payments', json, async (req: Request, res: Response) => {
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError('body must be a JSON object');
    const b = body as Record<string, unknown>;
    const key = req.get('idempotency-key');
    if (!key) throw new ValidationError('Idempotency-Key header is required');
    const kind = b.kind ?? 'qr';
    if (kind !== 'qr' && kind !== 'link' && kind !== 'remote')
      throw new ValidationError('kind must be "qr", "link" or "remote"');
    if (typeof b.account !== 'string' || b.account === '') throw new ValidationError('account is required');
    if (b.comment !== undefined && (typeof b.comment !== 'string' || b.comment.length > 255))
      throw new ValidationError('comment must be a string of at most 255 characters');
    const amount = readAmount(b, 'amount');
    if (kind === 'remote') {
      // An invoice pushed to the payer's Kaspi app by phone (r3): remote-invoice.ts.
      if (!deps.remote) service.client.assertSupported('remoteCreate');
      const { purchase, created } = await (deps.remote as RemoteInvoices).create({
        account: b.account,
        amount,
        phone: b.phone,
        comment: b.comment as string | undefined,
        idempotencyKey: key,
        actor: actors.api(req.ip),
      });
      res.status(created ? 201 : 200).json(await purchaseView(purchase, service.payUrl(purchase)));
      return;
    }
    const { purchase, created } = await service.create({
      kind,
      account: b.account,
      amount,
      comment: b.comment as string | undefined,
      idempotencyKey: key,
      actor: actors.api(req.ip),
    });
    res
      .status(created ? 201 : 200)
      .json(await purchaseView(purchase, service.payUrl(purchase), { svg: true }));
  });

  router.get('/api/qr/payments', async (req: Request, res: Response) => {
    const { state, account, from, to, limit } = req.query;
    if (state !== undefined && !QR_STATES.includes(state as QrState))
      throw new ValidationError(`state must be one of ${QR_STATES.join(', ')}`);
    if (account !== undefined && typeof account !== 'string')
      throw new ValidationError('account must be text');
    if (limit !== undefined && (typeof limit !== 'string' || !/^\d{1,4}$/.test(limit) || Number(limit) < 1))
      throw new ValidationError('limit must be 1..1000');
    const list = await service.list({
      state: state as QrState | undefined,
      account: account as string | undefined,
      from: when(from, 'from'),
      to: when(to, 'to'),
      limit: limit === undefined ? undefined : Math.min(1000, Number(limit)),
    });
    res.json(await Promise.all(list.map((p) => purchaseView(p, service.payUrl(p)))));
  });

  router.get('/api/qr/payments/:id', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!/^\d{1,20}$/.test(id)) throw new ValidationError('id must be digits');
    // ?refresh=true asks Kaspi about a remote invoice (at most once per 30 s); a QR or link never.
    const p =
      req.query.refresh === 'true' && deps.remote ? await deps.remote.refresh(id) : await service.get(id);
    res.json(await purchaseView(p, service.payUrl(p), { svg: true }));
  });

  // Kaspi's own code and message beside ours; everything else goes on to the one JSON mapper.
  router.use('/api/qr', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof KaspiQrApiError)
      res.status(err.httpStatus).json({
        error: err.code,
        message: err.message,
        kaspiCode: err.kaspiCode,
        kaspiMessage: err.kaspiMessage,
      });
    else next(err);
  });
  return router;
}
