import { createHash, randomBytes } from 'node:crypto';
import { audit, type Actor } from '../audit/audit-log.js';
import { transactionWithRetry } from '../db/commit-retry.js';
import { getLogger } from '../log/logger.js';
import { AppError, ConflictError, ValidationError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import { createPurchase, type CreatedPurchase } from './kaspi-qr-calls.js';
import { KaspiQrApiError, KaspiQrTransportError } from './kaspi-qr-errors.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import { pollIntervalS } from './kaspi-qr-status.js';
import type { PurchaseWithPayment } from './kaspi-qr-store.js';
import { WireError } from './kaspi-qr-wire.js';

const log = getLogger('kaspi-qr');

export interface CreateRequest {
  kind: 'qr' | 'link';
  account: string;
  amount: Tiyn;
  comment?: string;
  idempotencyKey: string;
  /** Who asked, for the audit log (written in the transaction that stores the purchase). */
  actor?: Actor;
}

/** Kaspi's answer to a create was lost: nothing was shown to anyone, so nothing is payable. */
export class CreateOutcomeUnknownError extends AppError {
  constructor(method: string, reason: string) {
    super(
      'kaspi_qr_outcome_unknown',
      `Kaspi's answer to ${method} was lost (${reason}): no QR or link was shown, so nothing is payable and nothing was left open; ask again (the next attempt is a new purchase)`,
      { httpStatus: 502, details: { method } },
    );
  }
}

/**
 * A QR or link purchase. The same Idempotency-Key with the same body answers the same purchase
 * (created false); with another body 409. The billing is asked about the account first; the
 * attempt is committed before Kaspi is called; an answer lost on the way is never re-sent: 502,
 * nothing payable (the key is free again, the next try is a new attempt with a new ExternalId).
 */
export async function createQrPurchase(
  service: KaspiQrService,
  req: CreateRequest,
): Promise<{ purchase: PurchaseWithPayment; created: boolean }> {
  const { store } = service.deps;
  if (!service.settings.accountRegex.test(req.account))
    throw new ValidationError('account does not match ACCOUNT_REGEX');
  if (req.amount < service.settings.minSum || req.amount > service.settings.maxSum)
    throw new AppError(
      'amount_out_of_limits',
      `amount must be ${formatTenge(service.settings.minSum)}..${formatTenge(service.settings.maxSum)}`,
      { httpStatus: 422 },
    );
  if (!/^[\x21-\x7e]{1,200}$/.test(req.idempotencyKey))
    throw new ValidationError('Idempotency-Key must be 1..200 printable ASCII characters');
  const hash = createHash('sha256')
    .update(JSON.stringify([req.kind, req.account, req.amount, req.comment ?? '']))
    .digest('hex');

  for (let tries = 0; ; tries++) {
    const key = await store.takeKey(req.idempotencyKey, hash);
    if (key.taken) break;
    if (key.hash !== hash)
      throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with another request', {
        httpStatus: 409,
      });
    if (key.paymentId) {
      const p = await store.byPaymentId(key.paymentId);
      if (p) return { purchase: p, created: false };
    }
    const last = await service.deps.attempts.latestForKey(req.idempotencyKey);
    if (last && (last.state === 'sending' || last.state === 'answered'))
      throw new AppError('create_in_progress', 'a create with this Idempotency-Key is in progress', {
        httpStatus: 409,
      });
    // Left by a process that died between its outcome and freeing the key.
    await store.releaseKey(req.idempotencyKey);
    if (tries > 2) throw new ConflictError('Idempotency-Key busy, try again');
  }

  try {
    return { purchase: await createNow(service, req), created: true };
  } catch (e) {
    await store
      .releaseKey(req.idempotencyKey)
      .catch((err: unknown) => log.warn('kaspi qr: idempotency key not freed', { err }));
    throw e;
  }
}

async function createNow(service: KaspiQrService, req: CreateRequest): Promise<PurchaseWithPayment> {
  const { store, attempts, awaiting, payments, db } = service.deps;
  const check = await payments.check(req.account);
  if (check.result === 1)
    throw new AppError('account_not_found', 'the billing does not know this account', { httpStatus: 404 });
  if (check.result !== 0) throw new AppError('account_not_payable', check.comment, { httpStatus: 409 });
  const deviceToken = await service.deviceToken();
  const method = req.kind === 'qr' ? 'qr/create' : 'qr/create-link';

  const externalId = await attempts.start({
    idemKey: req.idempotencyKey,
    kind: req.kind,
    account: req.account,
    amount: req.amount,
  });
  let created: CreatedPurchase;
  try {
    created = await createPurchase(service.client, req.kind, {
      deviceToken,
      amount: req.amount,
      externalId,
    });
    service.noteOk();
  } catch (e) {
    if (e instanceof KaspiQrApiError) {
      await attempts.finish(externalId, ['sending'], 'refused', { error: e.message });
      if (e.kind === 'auth_config') service.noteFailure(e, method);
      throw e;
    }
    if (e instanceof KaspiQrTransportError && e.sent === 'no') {
      await attempts.finish(externalId, ['sending'], 'not_sent', { error: e.message });
      service.noteFailure(e, method);
      throw e;
    }
    // Sent, and what Kaspi did is unknown (reset, timeout, 5xx, garbage, an answer we can't read).
    const reason = e instanceof Error ? e.message : String(e);
    await attempts.finish(externalId, ['sending'], 'lost', { error: reason });
    log.warn('kaspi qr: create answer lost: nothing payable, not re-sent', {
      method,
      externalId,
      reason,
      wire: e instanceof WireError,
    });
    throw new CreateOutcomeUnknownError(method, reason);
  }

  // Kaspi's id is noted first: if the transaction below fails, the sweep knows what to ask about.
  await attempts.finish(externalId, ['sending'], 'answered', { qrPaymentId: created.qrPaymentId });
  const now = new Date();
  const interval = pollIntervalS(created.pollIntervalS);
  const scanTimeoutS = created.scanTimeoutS && created.scanTimeoutS > 0 ? created.scanTimeoutS : 180;
  const confirmTimeoutS =
    created.confirmTimeoutS && created.confirmTimeoutS > 0 ? created.confirmTimeoutS : 65;
  // A deadlock or a Galera certification failure at COMMIT runs it again: nothing of the failed
  // attempt remains, and the payment's unique key refuses a second row.
  const paymentId = await transactionWithRetry(db, 'kaspi qr purchase', async (trx) => {
    const id = await awaiting.record(trx, {
      source: 'kaspi_qr',
      txnId: created.qrPaymentId,
      account: req.account,
      amount: req.amount,
    });
    await store.insert(trx, {
      paymentId: id,
      kind: req.kind,
      qrPaymentId: created.qrPaymentId,
      payToken: randomBytes(16).toString('hex'),
      qrToken: created.qrToken,
      paymentLink: created.paymentLink,
      expireDateRaw: created.expireDate?.raw ?? null,
      expireAt: created.expireDate?.at ?? null,
      paymentMethods: created.paymentMethods,
      pollIntervalS: interval,
      scanTimeoutS,
      confirmTimeoutS,
      createdAt: now,
      scanDeadline: new Date(now.getTime() + scanTimeoutS * 1000),
      nextPollAt: new Date(now.getTime() + interval * 1000),
      phoneMasked: null,
      comment: req.comment ?? null,
    });
    await store.bindKey(trx, req.idempotencyKey, id);
    await attempts.finish(externalId, ['answered'], 'created', { paymentId: id }, trx);
    if (req.actor)
      await audit.record(trx, {
        actor: req.actor,
        action: 'qr.created',
        target: { type: 'qr', id },
        details: { kind: req.kind, account: req.account, amount: formatTenge(req.amount) },
      });
    return id;
  });
  log.info('kaspi qr: purchase created', {
    paymentId,
    qrPaymentId: created.qrPaymentId,
    kind: req.kind,
    externalId,
  });
  return (await store.byPaymentId(paymentId)) as PurchaseWithPayment;
}
