import { createHash, randomBytes } from 'node:crypto';
import { audit, type Actor } from '../audit/audit-log.js';
import { getLogger } from '../log/logger.js';
import { AppError, ValidationError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import { KaspiQrApiError, KaspiQrTransportError } from './kaspi-qr-errors.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import type { PurchaseWithPayment } from './kaspi-qr-store.js';
import { readId, WireError } from './kaspi-qr-wire.js';
import type { RemoteInvoice, RemoteInvoiceStore } from './remote-invoice-store.js';

const log = getLogger('kaspi-qr-remote');

/** The payer has 24 h to pay; our one automatic check comes 5 min after. */
export const REMOTE_PAYABLE_MS = 24 * 3_600_000;
export const REMOTE_EXPIRY_CHECK_MS = REMOTE_PAYABLE_MS + 5 * 60_000;
/** At most one Kaspi status call per invoice in this window; inside it the stored state is answered. */
export const REFRESH_WINDOW_MS = 30_000;
/** remote/client-info calls per device per minute: a margin under Kaspi's 50. */
export const CLIENT_INFO_PER_MINUTE = 45;

/** `+7 707 777-77-77`, `77077777777`, `87077777777`, `7077777777` → `87077777777`; null for anything else. */
export function normalisePhone(text: unknown): string | null {
  if (typeof text !== 'string' || !/^[\d\s()+-]{10,20}$/.test(text)) return null;
  const d = text.replace(/\D/g, '');
  if (/^[78]\d{10}$/.test(d)) return `8${d.slice(1)}`;
  if (/^7\d{9}$/.test(d)) return `8${d}`;
  return null;
}

/** `87077777777` → `8707***7777`: what logs, pages and rows keep. */
export function maskPhone(phone: string): string {
  return `${phone.slice(0, 4)}***${phone.slice(-4)}`;
}

export interface RemoteCreate {
  account: string;
  amount: Tiyn;
  phone: unknown;
  comment?: string;
  idempotencyKey: string;
  actor?: Actor;
}

/** A remote/create whose answer was lost: an invoice may have reached the payer; never sent again. */
export class RemoteOutcomeUnknownError extends AppError {
  constructor(invoiceId: string, reason: string) {
    super(
      'kaspi_qr_outcome_unknown',
      `Kaspi's answer to remote/create was lost (${reason}): an invoice may have reached the payer's Kaspi app, so it is never sent again. Remote invoice ${invoiceId} is unknown: a person checks the Kaspi Pay app and decides (this Idempotency-Key stays used)`,
      { httpStatus: 502, details: { invoiceId, state: 'unknown' } },
    );
  }
}

export async function createRemoteInvoice(
  service: KaspiQrService,
  invoices: RemoteInvoiceStore,
  req: RemoteCreate,
): Promise<{ purchase: PurchaseWithPayment; created: boolean }> {
  const { settings } = service;
  const { payments, awaiting, db } = service.deps;
  // r3 only: refused before anything is stored or sent.
  service.client.assertSupported('remoteCreate');
  const phone = normalisePhone(req.phone);
  if (!phone)
    throw new ValidationError(
      'phone must be a Kazakhstan mobile number: +7XXXXXXXXXX, 7XXXXXXXXXX, 8XXXXXXXXXX or 10 digits starting with 7',
    );
  if (!settings.accountRegex.test(req.account))
    throw new ValidationError('account does not match ACCOUNT_REGEX');
  if (req.amount < settings.minSum || req.amount > settings.maxSum)
    throw new AppError(
      'amount_out_of_limits',
      `amount must be ${formatTenge(settings.minSum)}..${formatTenge(settings.maxSum)}`,
      { httpStatus: 422 },
    );
  if (!/^[\x21-\x7e]{1,200}$/.test(req.idempotencyKey))
    throw new ValidationError('Idempotency-Key must be 1..200 printable ASCII characters');
  const hash = createHash('sha256')
    .update(JSON.stringify(['remote', req.account, req.amount, phone, req.comment ?? '']))
    .digest('hex');

  const earlier = await invoices.byKey(req.idempotencyKey);
  if (earlier) return repeat(service, earlier, hash);
  const check = await payments.check(req.account);
  if (check.result === 1)
    throw new AppError('account_not_found', 'the billing does not know this account', { httpStatus: 404 });
  if (check.result !== 0) throw new AppError('account_not_payable', check.comment, { httpStatus: 409 });
  const deviceToken = await service.deviceToken();

  const started = await invoices.start({
    idemKey: req.idempotencyKey,
    requestHash: hash,
    account: req.account,
    amount: req.amount,
    phoneMasked: maskPhone(phone),
    comment: req.comment ?? null,
  });
  if (!started.taken) return repeat(service, started.invoice, hash);
  const invoiceId = started.id;

  let qrPaymentId: string;
  try {
    const env = await service.client.call('remoteCreate', {
      amount: req.amount,
      phone,
      deviceToken,
      comment: req.comment,
    });
    const d = env.Data as Record<string, unknown> | undefined;
    qrPaymentId = readId(d?.QrPaymentId, 'QrPaymentId');
    service.noteOk();
  } catch (e) {
    if (e instanceof KaspiQrApiError || (e instanceof KaspiQrTransportError && e.sent === 'no')) {
      // A clear no, or it never left: no invoice exists; the key is free for another try.
      await invoices.finish(invoiceId, e instanceof KaspiQrApiError ? 'refused' : 'not_sent', {
        lastError: e.message,
      });
      await db.knex('kaspi_qr_remote_invoices').where({ id: invoiceId }).delete();
      throw e;
    }
    if (!(e instanceof KaspiQrTransportError) && !(e instanceof WireError)) {
      // Ours, before anything could leave (a programmer error): nothing exists at Kaspi.
      await db.knex('kaspi_qr_remote_invoices').where({ id: invoiceId }).delete();
      throw e;
    }
    const reason = e.message;
    await invoices.finish(invoiceId, 'unknown', { lastError: reason });
    log.error(
      'kaspi qr: remote/create answer lost: the invoice may exist at Kaspi; never re-sent, a person decides',
      {
        invoiceId,
        account: req.account,
        amount: req.amount,
        phone: maskPhone(phone),
        reason,
        wire: e instanceof WireError,
      },
    );
    throw new RemoteOutcomeUnknownError(invoiceId, reason);
  }

  const now = new Date();
  const paymentId = await db.knex.transaction(async (trx) => {
    const id = await awaiting.record(trx, {
      source: 'kaspi_qr',
      txnId: qrPaymentId,
      account: req.account,
      amount: req.amount,
    });
    await service.deps.store.insert(trx, {
      paymentId: id,
      kind: 'remote',
      qrPaymentId,
      payToken: randomBytes(16).toString('hex'),
      qrToken: null,
      paymentLink: null,
      expireDateRaw: null,
      expireAt: new Date(now.getTime() + REMOTE_PAYABLE_MS),
      paymentMethods: [],
      pollIntervalS: REFRESH_WINDOW_MS / 1000,
      scanTimeoutS: REMOTE_PAYABLE_MS / 1000,
      confirmTimeoutS: 0,
      createdAt: now,
      scanDeadline: new Date(now.getTime() + REMOTE_PAYABLE_MS),
      // Never on the engine's timer: the guide forbids it.
      nextPollAt: null,
      phoneMasked: maskPhone(phone),
      comment: req.comment ?? null,
    });
    await invoices.finish(
      invoiceId,
      'created',
      { qrPaymentId, paymentId: id, expiryCheckAt: new Date(now.getTime() + REMOTE_EXPIRY_CHECK_MS) },
      trx,
    );
    if (req.actor)
      await audit.record(trx, {
        actor: req.actor,
        action: 'qr.created',
        target: { type: 'qr', id },
        details: {
          kind: 'remote',
          account: req.account,
          amount: formatTenge(req.amount),
          phone: maskPhone(phone),
        },
      });
    return id;
  });
  log.info('kaspi qr: remote invoice sent', { paymentId, qrPaymentId, phone: maskPhone(phone) });
  return {
    purchase: (await service.deps.store.byPaymentId(paymentId)) as PurchaseWithPayment,
    created: true,
  };
}

async function repeat(
  service: KaspiQrService,
  earlier: RemoteInvoice,
  hash: string,
): Promise<{ purchase: PurchaseWithPayment; created: boolean }> {
  if (earlier.requestHash !== hash)
    throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with another request', {
      httpStatus: 409,
    });
  if (earlier.state === 'created' && earlier.paymentId) {
    const p = await service.deps.store.byPaymentId(earlier.paymentId);
    if (p) return { purchase: p, created: false };
  }
  if (earlier.state === 'unknown')
    throw new RemoteOutcomeUnknownError(earlier.id, earlier.lastError ?? 'lost');
  throw new AppError('create_in_progress', 'a remote invoice with this Idempotency-Key is being sent', {
    httpStatus: 409,
  });
}
