import express, { Router, type Request, type Response } from 'express';
import { actors } from '../audit/audit-log.js';
import { ValidationError } from '../shared/errors.js';
import { readAmount } from '../http/json-amount.js';
import type { RefundService } from './refund-service.js';
import { REFUND_STATUSES, type RefundStatus } from './refund-store.js';
import { refundView } from './refund-view.js';

export interface RefundRoutesDeps {
  refunds: RefundService;
}

export function listLimit(v: unknown, max = 1000): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > max) {
    throw new ValidationError(`limit must be 1..${max}`);
  }
  return Number(v);
}

export function listOffset(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,9}$/.test(v))
    throw new ValidationError('offset must be a whole number');
  return Number(v);
}

/** A keyset cursor: the id of the last row of the previous page (kept a string: ids may pass 2^53). */
export function listBefore(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[1-9]\d{0,19}$/.test(v)) throw new ValidationError('before must be an id');
  return v;
}

/** The next page's `before`: the last id of a full page, null when this page was the last. */
export function nextBefore(rows: { id: string }[], limit: number | undefined): string | null {
  return rows.length > 0 && rows.length === Math.min(limit ?? 100, 1000)
    ? (rows.at(-1) as { id: string }).id
    : null;
}

/**
 * The refunds part of the admin API (behind adminAuth):
 * - POST /api/refunds `{"txnId","amount":"100.00","reason","source"?}` (+ optional `Idempotency-Key`) → 202
 *   (`source: "kaspi_qr"`: a Kaspi QR purchase by its QrPaymentId, returned by payment/return)
 *   with the refund as it stands after Kaspi's first answer (200 for a repeat of the same key);
 * - GET /api/refunds?status=&txnId=&flagged=true&limit=&before= (keyset: `nextBefore` of the last page)
 * - GET /api/refunds/:id
 */
export function refundRoutes(deps: RefundRoutesDeps): Router {
  const router = Router();
  const json = express.json({
    limit: '16kb',
    strict: true,
    type: ['application/json', 'application/*+json'],
  });

  router.post('/api/refunds', json, async (req: Request, res: Response) => {
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError('body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (typeof b.txnId !== 'string')
      throw new ValidationError(
        'txnId must be a JSON string of digits: an 18-digit number would lose digits',
      );
    if (typeof b.reason !== 'string') throw new ValidationError('reason is required (1 to 500 characters)');
    const amount = readAmount(b, 'amount');
    if (b.source !== undefined && b.source !== 'kaspi' && b.source !== 'kaspi_qr')
      throw new ValidationError(
        'source must be "kaspi" (the default) or "kaspi_qr" (txnId = the QrPaymentId)',
      );
    const { refund, created } = await deps.refunds.create({
      source: b.source as 'kaspi' | 'kaspi_qr' | undefined,
      txnId: b.txnId,
      amount,
      reason: b.reason,
      idempotencyKey: req.get('idempotency-key') ?? null,
      createdBy: 'admin-api',
      actor: actors.api(req.ip),
    });
    res.status(created ? 202 : 200).json(refundView(refund));
  });

  router.get('/api/refunds', async (req: Request, res: Response) => {
    const { status, txnId, flagged } = req.query;
    if (status !== undefined && !REFUND_STATUSES.includes(status as RefundStatus)) {
      throw new ValidationError(`status must be one of ${REFUND_STATUSES.join(', ')}`);
    }
    if (txnId !== undefined && (typeof txnId !== 'string' || !/^\d{1,19}$/.test(txnId)))
      throw new ValidationError('txnId must be digits');
    const limit = listLimit(req.query.limit);
    const list = await deps.refunds.list({
      status: status as RefundStatus | undefined,
      txnId: txnId as string | undefined,
      flagged: flagged === 'true' ? true : undefined,
      limit,
      before: listBefore(req.query.before),
      offset: listOffset(req.query.offset),
    });
    res.json({ refunds: list.map(refundView), nextBefore: nextBefore(list, limit) });
  });

  router.get('/api/refunds/:id', async (req: Request, res: Response) => {
    res.json(refundView(await deps.refunds.get(String(req.params.id))));
  });

  return router;
}
