import { randomUUID } from 'node:crypto';
import type { Response, Router } from 'express';
import { QR_STATES, type QrState } from '../../kaspi-qr/kaspi-qr-store.js';
import { qrSvg } from '../../kaspi-qr/kaspi-qr-view.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { parseTenge } from '../../shared/money.js';
import { needRole } from '../console-http.js';
import { html, type SafeHtml } from '../html.js';
import { notice, qrPage } from '../pages/index.js';
import { qrPurchasePage, returnSessionPage } from '../pages/qr-purchase.js';
import { actor, ctx, cursor, one, send, sess, type ConsoleDeps } from './common.js';

const KEY = /^[0-9a-f-]{36}$/;

function amountOf(v: unknown): number {
  const t = parseTenge((one(v, 20) ?? '').replace(',', '.'));
  if (t === null || t <= 0) throw new ValidationError('the amount is tenge like 1500.00');
  return t;
}

/** What a Kaspi QR payment's page needs: which returns the scheme allows, its return sessions. */
export async function qrOfPayment(deps: ConsoleDeps, paymentId: string) {
  const q = deps.kaspiQr;
  if (!q) return null;
  const scheme = q.service.client.scheme;
  const ids = q.sessions ? await deps.queries.returnSessionIds(paymentId) : [];
  const sessions = await Promise.all(ids.map((id) => (q.sessions as NonNullable<typeof q.sessions>).get(id)));
  return { r3: scheme === 'r3', r2: scheme === 'r2' && !!q.sessions, sessions, key: randomUUID() };
}

/**
 * Kaspi QR: the purchases, making a QR / link / remote invoice (the same KaspiQrService and
 * RemoteInvoices as POST /api/qr/payments, which write qr.created with the console person as the
 * actor), a remote invoice's event-driven refresh (the service allows one Kaspi call per 30 s) and
 * cancel, and r2 return sessions (the same ReturnSessions as POST /api/qr/returns). r3 returns are
 * the payment page's refund form, through RefundService with source kaspi_qr.
 */
export function registerQrRoutes(router: Router, deps: ConsoleDeps): void {
  const qrOr404 = (res: Response) => {
    if (!deps.kaspiQr) throw new NotFoundError('kaspi_qr', ctx(res).t('kaspiQrOff'));
    return deps.kaspiQr;
  };

  router.get('/console/qr', async (req, res) => {
    const state = QR_STATES.includes(req.query.state as QrState) ? (req.query.state as QrState) : undefined;
    const account = one(req.query.account);
    const list = await deps.queries.qrPurchases({ state, account });
    const q = deps.kaspiQr;
    const setup = { enabled: !!q, remote: !!q?.remote && q.service.client.scheme === 'r3' };
    send(res, qrPage(ctx(res), { state, account }, list, QR_STATES, setup, randomUUID()));
  });

  router.post('/console/qr', async (req, res) => {
    needRole(sess(res), 'operator');
    const q = qrOr404(res);
    const b = req.body as Record<string, unknown>;
    const kind = b.kind;
    if (kind !== 'qr' && kind !== 'link' && kind !== 'remote')
      throw new ValidationError('kind must be qr, link or remote');
    const account = one(b.account);
    if (!account) throw new ValidationError('account is required');
    const amount = amountOf(b.amount);
    // The form's key: a reload or a double click is the same purchase, not a second one.
    const key = typeof b.key === 'string' && KEY.test(b.key) ? b.key : randomUUID();
    const common = { account, amount, idempotencyKey: `console:${key}`, actor: actor(req, res) };
    if (kind === 'remote') q.service.client.assertSupported('remoteCreate');
    const { purchase } =
      kind === 'remote'
        ? await (q.remote as NonNullable<typeof q.remote>).create({ ...common, phone: b.phone })
        : await q.service.create({ ...common, kind });
    res.redirect(303, `/console/qr/${purchase.paymentId}?created=1`);
  });

  async function showPurchase(res: Response, id: string, status?: SafeHtml) {
    const q = qrOr404(res);
    const p = await q.service.get(id);
    const svg = p.kind === 'qr' && p.qrToken ? await qrSvg(p.qrToken) : null;
    send(
      res,
      qrPurchasePage(ctx(res), p, { payUrl: q.service.payUrl(p), svg, remoteEnabled: !!q.remote }, status),
    );
  }

  router.get('/console/qr/:id', async (req, res) => {
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('purchase');
    await showPurchase(res, id, req.query.created === '1' ? notice(ctx(res).t('qrCreated')) : undefined);
  });

  router.post('/console/qr/:id/:what', async (req, res) => {
    needRole(sess(res), 'operator');
    const q = qrOr404(res);
    const id = cursor(req.params.id);
    const what = req.params.what;
    if (!id || !q.remote || (what !== 'refresh' && what !== 'cancel')) throw new NotFoundError('page');
    const c = ctx(res);
    if (what === 'refresh') {
      const p = await q.remote.refresh(id);
      return showPurchase(res, id, notice(html`${c.t('refreshed')} ${p.state}`));
    }
    const p = await q.remote.cancel(id, actor(req, res));
    await showPurchase(res, id, notice(html`${c.t('cancelled')} ${p.state}`));
  });

  router.post('/console/payments/:id/return-session', async (req, res) => {
    needRole(sess(res), 'operator');
    const q = qrOr404(res);
    if (!q.sessions) throw new NotFoundError('return session');
    const id = cursor(req.params.id);
    const p = id ? await deps.payments.findById(id) : null;
    if (!p || p.source !== 'kaspi_qr') throw new NotFoundError('payment');
    const b = req.body as Record<string, unknown>;
    const reason = one(b.reason, 500);
    if (!reason) throw new ValidationError('a reason is required (1 to 500 characters)');
    const key = typeof b.key === 'string' && KEY.test(b.key) ? b.key : randomUUID();
    const { session } = await q.sessions.start({
      txnId: p.txnId,
      amount: amountOf(b.amount),
      reason,
      idempotencyKey: `console:${key}`,
      createdBy: `console:${sess(res).login}`,
      actor: actor(req, res),
    });
    res.redirect(303, `/console/qr/returns/${session.id}?started=1`);
  });

  router.get('/console/qr/returns/:id', async (req, res) => {
    const q = qrOr404(res);
    const id = cursor(req.params.id);
    if (!id || !q.sessions) throw new NotFoundError('return session');
    const r = await q.sessions.get(id);
    const c = ctx(res);
    const svg = r.state === 'pending' ? await qrSvg(r.qrToken) : null;
    send(
      res,
      returnSessionPage(
        c,
        r,
        { returnUrl: q.sessions.returnUrl(r), svg },
        req.query.started === '1' ? notice(html`${c.t('returnStarted')} ${r.state}`) : undefined,
      ),
    );
  });
}
