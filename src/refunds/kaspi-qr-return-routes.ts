import express, { Router, type Request, type Response } from 'express';
import QRCode from 'qrcode';
import { actors } from '../audit/audit-log.js';
import { amountFields, readAmount } from '../http/json-amount.js';
import { formatTenge } from '../shared/money.js';
import { ValidationError } from '../shared/errors.js';
import type { ReturnSessionRow, ReturnSessions } from './kaspi-qr-return-sessions.js';
import type { RefundService } from './refund-service.js';
import { refundView } from './refund-view.js';

/** A return session as the admin API shows it. */
export function returnSessionView(s: ReturnSessionRow, returnUrl: string) {
  return {
    id: s.id,
    state: s.state,
    txnId: s.txnId,
    paymentId: s.paymentId,
    ...amountFields('amount', s.amount),
    reason: s.reason,
    qrReturnId: s.qrReturnId,
    qrToken: s.qrToken,
    returnUrl,
    kaspiStatus: s.kaspiStatus,
    deadline: s.deadline.toISOString(),
    pollIntervalS: s.pollIntervalS,
    polls: s.polls,
    refundId: s.refundId,
    lastError: s.lastError,
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

/**
 * r2 returns with the payer present, on the admin listener (behind adminAuth):
 * - POST /api/qr/returns `{"txnId","amount":"100.00","reason"}` (+ optional Idempotency-Key) → 201
 *   with the session and its `returnUrl` (200 for a repeat of the key);
 * - GET /api/qr/returns/:id → the session, with its refund once the return was made.
 */
export function returnSessionRoutes(deps: { sessions: ReturnSessions; refunds: RefundService }): Router {
  const router = Router();
  const json = express.json({
    limit: '16kb',
    strict: true,
    type: ['application/json', 'application/*+json'],
  });

  router.post('/api/qr/returns', json, async (req: Request, res: Response) => {
    const b = req.body as unknown;
    if (!b || typeof b !== 'object' || Array.isArray(b))
      throw new ValidationError('body must be a JSON object');
    const body = b as Record<string, unknown>;
    if (typeof body.txnId !== 'string')
      throw new ValidationError('txnId must be the QrPaymentId as a JSON string of digits');
    if (typeof body.reason !== 'string')
      throw new ValidationError('reason is required (1 to 500 characters)');
    const amount = readAmount(body, 'amount');
    const { session, created } = await deps.sessions.start({
      txnId: body.txnId,
      amount,
      reason: body.reason,
      idempotencyKey: req.get('idempotency-key') ?? null,
      createdBy: 'admin-api',
      actor: actors.api(req.ip),
    });
    res.status(created ? 201 : 200).json(returnSessionView(session, deps.sessions.returnUrl(session)));
  });

  router.get('/api/qr/returns/:id', async (req: Request, res: Response) => {
    const s = await deps.sessions.get(String(req.params.id));
    const refund = s.refundId ? await deps.refunds.get(s.refundId) : null;
    res.json({
      ...returnSessionView(s, deps.sessions.returnUrl(s)),
      refund: refund ? refundView(refund) : null,
    });
  });

  return router;
}

const esc = (t: string) =>
  t.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

const SCREENS: Record<ReturnSessionRow['state'], { title: string; text: string }> = {
  pending: {
    title: 'Scan to get your money back',
    text: 'Open the Kaspi app, tap Kaspi QR and scan this code. The return is made once Kaspi knows it is you.',
  },
  identified: { title: 'Making the return…', text: 'Kaspi knows it is you: the money is on its way back.' },
  returned: { title: 'Money returned', text: 'The amount is on its way back to your Kaspi account.' },
  wrong_customer: {
    title: 'Not returned',
    text: 'The account that scanned the code did not make this purchase. Nothing was returned; ask the cashier.',
  },
  expired: {
    title: 'Code expired',
    text: 'The code was not scanned in time. Nothing was returned; ask the cashier for a new one.',
  },
  failed: {
    title: 'Not returned',
    text: 'The return could not be made. Nothing was returned; ask the cashier.',
  },
};

/**
 * The public return page (`GET /return/:token`): the return QR (SVG, rendered here from the QrToken)
 * while the session waits, then its outcome. It reloads itself at the session's polling interval
 * (a meta refresh: no JavaScript needed). The token is random; the page shows no personal data.
 */
export function returnPageRoutes(deps: { sessions: ReturnSessions; merchantName: string }): Router {
  const router = Router();
  router.get('/return/:token', async (req: Request, res: Response) => {
    const s = await deps.sessions.byToken(String(req.params.token));
    res.set('Cache-Control', 'no-store');
    res.set('Referrer-Policy', 'no-referrer');
    if (!s) {
      res
        .status(404)
        .type('html')
        .send(page('Not found', '<p>This return code does not exist.</p>', null));
      return;
    }
    const screen = SCREENS[s.state];
    const open = s.state === 'pending' || s.state === 'identified';
    const qr =
      s.state === 'pending'
        ? await QRCode.toString(s.qrToken, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, width: 280 })
        : '';
    const body = `<h1>${esc(screen.title)}</h1>
<p class="merchant">${esc(deps.merchantName)}</p>
<p class="amount">${esc(formatTenge(s.amount))} ₸</p>
${qr ? `<div class="qr" role="img" aria-label="Return QR code">${qr}</div>` : ''}
<p class="state" data-state="${s.state}">${esc(screen.text)}</p>
${s.state === 'pending' ? `<p class="deadline">Valid until <time datetime="${s.deadline.toISOString()}">${esc(s.deadline.toISOString().slice(11, 16))} UTC</time></p>` : ''}`;
    res
      .status(200)
      .type('html')
      .send(page(screen.title, body, open ? s.pollIntervalS : null));
  });
  return router;
}

function page(title: string, body: string, refreshS: number | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refreshS ? `<meta http-equiv="refresh" content="${refreshS}">` : ''}
<title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;text-align:center;color:#222}
.amount{font-size:2rem;font-weight:600}.qr svg{width:100%;max-width:280px;height:auto}.merchant{color:#555}</style>
</head><body><main>
${body}
</main></body></html>`;
}
