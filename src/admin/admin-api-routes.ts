import express, { Router, type Request, type Response } from 'express';
import { actors } from '../audit/audit-log.js';
import type { AccountAdmin } from '../billing/account-admin.js';
import type { AccountStore, Account } from '../billing/account-store.js';
import { dbTime } from '../db/db.js';
import type { EvidenceEntry } from '../http/request-log-evidence.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { amountFields, isoTime, readAmount } from '../http/json-amount.js';
import {
  PAYMENT_SOURCES,
  PAYMENT_STATES,
  type PaymentSource,
  type PaymentState,
  type PaymentStore,
} from '../payments/payment-store.js';
import { paymentView } from '../payments/payment-view.js';
import { listBefore, listLimit, listOffset, nextBefore } from '../refunds/refund-routes.js';
import type { Refund } from '../refunds/refund-store.js';
import { refundView } from '../refunds/refund-view.js';
import { refundable } from '../refunds/refundable.js';

export function accountView(a: Account) {
  return {
    account: a.account,
    name: a.name,
    ...amountFields('balance', a.balance),
    status: a.status,
    createdAt: isoTime(a.createdAt),
    updatedAt: isoTime(a.updatedAt),
  };
}

/** "2026-11-23" or "2026-11-23T10:00:00+05:00" → stored UTC time. */
export function timeParam(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (
    typeof v !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(v)
  ) {
    throw new ValidationError(
      `${name} must be a date (2026-11-23) or an ISO time (2026-11-23T10:00:00+05:00)`,
    );
  }
  const d = new Date(v.length === 10 ? `${v}T00:00:00Z` : /Z|[+-]\d{2}:\d{2}$/.test(v) ? v : `${v}Z`);
  if (Number.isNaN(d.getTime())) throw new ValidationError(`${name} is not a real date`);
  return dbTime(d);
}

export interface AdminApiDeps {
  payments: PaymentStore;
  /** Embedded billing's accounts; null with an external billing (the routes then answer 404). */
  accounts: AccountStore | null;
  /** Changes to accounts, each with its audit entry. */
  accountAdmin: AccountAdmin;
  refundsFor(paymentId: string): Promise<Refund[]>;
  /** Every request-log entry of a txn_id, oldest first. */
  evidenceFor(txnId: string): Promise<EvidenceEntry[]>;
}

/**
 * Payments and (embedded billing) accounts on the admin API, behind adminAuth:
 * GET /api/payments?from=&to=&account=&status=&source=&flagged=&limit=&before= (keyset paging: pass the last
 * page's `nextBefore`), GET /api/payments/:txnId, GET /api/payments/:txnId/request-log,
 * POST /api/accounts `{"account","name","balance":"0.00"}`, GET /api/accounts/:account.
 */
export function adminApiRoutes(deps: AdminApiDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb', strict: true });

  router.get('/api/payments', async (req: Request, res: Response) => {
    const q = req.query;
    if (q.status !== undefined && !(PAYMENT_STATES as readonly unknown[]).includes(q.status)) {
      throw new ValidationError(`status must be one of ${PAYMENT_STATES.join(', ')}`);
    }
    if (q.source !== undefined && !(PAYMENT_SOURCES as readonly unknown[]).includes(q.source))
      throw new ValidationError(`source must be one of ${PAYMENT_SOURCES.join(', ')}`);
    if (q.account !== undefined && typeof q.account !== 'string')
      throw new ValidationError('account must be given once');
    if (q.flagged !== undefined && q.flagged !== 'true' && q.flagged !== 'false')
      throw new ValidationError('flagged must be true or false');
    const flagged = q.flagged === 'true';
    if (flagged && (q.before !== undefined || q.offset !== undefined))
      throw new ValidationError(
        'flagged=true lists the newest flags first and is not paged: use limit (up to 1000)',
      );
    const limit = listLimit(q.limit);
    const list = await deps.payments.list({
      from: timeParam('from', q.from),
      to: timeParam('to', q.to),
      account: q.account as string | undefined,
      state: q.status as PaymentState | undefined,
      source: q.source as PaymentSource | undefined,
      flagged: flagged || undefined,
      limit,
      before: listBefore(q.before),
      offset: listOffset(q.offset),
    });
    res.json({ payments: list.map(paymentView), nextBefore: flagged ? null : nextBefore(list, limit) });
  });

  router.get('/api/payments/:txnId', async (req: Request, res: Response) => {
    const txnId = String(req.params.txnId);
    const found = await deps.payments.findByTxnAnySource(txnId);
    const wanted = req.query.source;
    const p =
      found.find((x) => x.source === (wanted ?? 'kaspi')) ?? (wanted === undefined ? found[0] : undefined);
    if (!p) throw new NotFoundError('payment', `no payment with txn_id ${txnId}`);
    const refunds = await deps.refundsFor(p.id);
    res.json({
      ...paymentView(p),
      ...amountFields('refundable', refundable(p, refunds)),
      refunds: refunds.map(refundView),
    });
  });

  // The raw requests and our answers for one txn_id (a dispute's evidence), whether or not a
  // payment was stored for it: a refused check leaves entries and no payment.
  router.get('/api/payments/:txnId/request-log', async (req: Request, res: Response) => {
    const txnId = String(req.params.txnId);
    if (!/^[\w.-]{1,64}$/.test(txnId))
      throw new ValidationError('txnId must be at most 64 letters or digits');
    res.json({ txnId, entries: await deps.evidenceFor(txnId) });
  });

  router.post('/api/accounts', json, async (req: Request, res: Response) => {
    const accounts = deps.accounts;
    if (!accounts)
      throw new NotFoundError('accounts', 'accounts live in the external billing (BILLING_ADAPTER=http)');
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b.account !== 'string')
      throw new ValidationError('account must be a string of 1 to 200 printable characters');
    if (b.name !== undefined && typeof b.name !== 'string')
      throw new ValidationError('name must be a string of at most 200 characters');
    const balance = b.balance === undefined && b.balanceMinor === undefined ? 0 : readAmount(b, 'balance');
    const a = await deps.accountAdmin.addAccount(
      { account: b.account, name: (b.name as string | undefined) ?? '', balance },
      actors.api(req.ip),
    );
    res.status(201).json(accountView(a));
  });

  router.get('/api/accounts/:account', async (req: Request, res: Response) => {
    const accounts = deps.accounts;
    if (!accounts)
      throw new NotFoundError('accounts', 'accounts live in the external billing (BILLING_ADAPTER=http)');
    const a = await accounts.getAccount(String(req.params.account));
    if (!a) throw new NotFoundError('account');
    res.json(accountView(a));
  });

  return router;
}
