import { createHash, randomBytes } from 'node:crypto';
import { audit, type Actor } from '../audit/audit-log.js';
import { getLogger } from '../log/logger.js';
import { AppError, ConflictError, ValidationError } from '../shared/errors.js';
import { purchaseStatus } from './kaspi-qr-calls.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import { stateOf } from './kaspi-qr-status.js';
import type { PurchasePatch, PurchaseWithPayment } from './kaspi-qr-store.js';
import type { RemoteInvoice, RemoteInvoiceStore } from './remote-invoice-store.js';
import {
  CLIENT_INFO_PER_MINUTE,
  createRemoteInvoice,
  maskPhone,
  normalisePhone,
  REFRESH_WINDOW_MS,
  type RemoteCreate,
} from './remote-invoice-create.js';

// Imported from here by the routes, the jobs, the console and the tests, as before the split.
export {
  CLIENT_INFO_PER_MINUTE,
  maskPhone,
  normalisePhone,
  REFRESH_WINDOW_MS,
  REMOTE_EXPIRY_CHECK_MS,
  REMOTE_PAYABLE_MS,
  RemoteOutcomeUnknownError,
  type RemoteCreate,
} from './remote-invoice-create.js';

const log = getLogger('kaspi-qr-remote');

const FINAL = ['paid', 'failed', 'cancelled'];

/**
 * Remote invoices by phone (r3; shared/spec/kaspi-qr.md "Remote invoices", notes D-15). Created
 * with remote/create (the invoice row is written before the call; a lost answer is `unknown`, ERROR,
 * never re-sent). The guide forbids polling their status on a timer: the status is asked only on an
 * event (`refresh`: the API's `?refresh=true`, the pay page's button, the console), at most once per
 * invoice per 30 s across processes, plus one check at 24 h + 5 min (`expire`, the
 * kaspi-qr-remote-expiry job), then remote/cancel and a last read. Paid: credited once through
 * creditStored, then the post-payment check (paid-check.ts: payment/details once).
 */
export class RemoteInvoices {
  /** Refreshes in this process: `asked` made a status call, `stored` answered inside the 30 s window. */
  readonly stats = { asked: 0, stored: 0 };

  constructor(
    private readonly service: KaspiQrService,
    private readonly invoices: RemoteInvoiceStore,
  ) {}

  private get store() {
    return this.service.deps.store;
  }

  private get client() {
    return this.service.client;
  }

  /** remote/create (remote-invoice-create.ts): the invoice row first; a lost answer is unknown, never re-sent. */
  async create(req: RemoteCreate): Promise<{ purchase: PurchaseWithPayment; created: boolean }> {
    return createRemoteInvoice(this.service, this.invoices, req);
  }

  /**
   * An event asks for the status (`?refresh=true`, the pay page's button, the console): one Kaspi
   * call when the last one is 30 s old or more, else the stored state. QR and link purchases are
   * never asked here (the engine follows them).
   */
  async refresh(paymentId: string, now = new Date()): Promise<PurchaseWithPayment> {
    const p = await this.service.get(paymentId);
    if (p.kind !== 'remote' || FINAL.includes(p.state)) return p;
    if (!(await this.invoices.takeRefresh(paymentId, now, REFRESH_WINDOW_MS))) {
      this.stats.stored += 1;
      return p;
    }
    this.stats.asked += 1;
    await this.readAndApply(p);
    return this.service.get(paymentId);
  }

  /** The 24 h + 5 min check (the kaspi-qr-remote-expiry job): read; still open → remote/cancel, then a last read. */
  async expire(now = new Date()): Promise<number> {
    let n = 0;
    for (const inv of await this.invoices.dueForExpiry(now, 50)) {
      const claim = randomBytes(8).toString('hex');
      if (!(await this.invoices.claimExpiry(inv.id, now, new Date(now.getTime() + 10 * 60_000), claim)))
        continue;
      n += 1;
      const p = await this.store.byPaymentId(inv.paymentId as string);
      if (!p) continue;
      const first = await this.readAndApply(p);
      if (first === 'error') continue; // the claim runs out; asked again in 10 minutes
      const now1 = await this.service.get(p.paymentId);
      if (!FINAL.includes(now1.state)) {
        const cancelled = await this.cancelAtKaspi(now1);
        if (cancelled === 'error') continue;
        await this.readAndApply(await this.service.get(p.paymentId));
        log.info('kaspi qr: remote invoice unpaid after 24 h: cancelled at Kaspi', {
          paymentId: p.paymentId,
        });
      }
      await this.invoices.expiryDone(inv.id, claim);
    }
    return n;
  }

  /** POST /api/qr/payments/:id/cancel: remote/cancel, then a last read (a payment racing the cancel wins). */
  async cancel(paymentId: string, actor: Actor): Promise<PurchaseWithPayment> {
    const p = await this.service.get(paymentId);
    if (p.kind !== 'remote')
      throw new AppError(
        'not_remote',
        'only a remote invoice can be cancelled (a QR or link expires by itself)',
        {
          httpStatus: 409,
        },
      );
    if (FINAL.includes(p.state))
      throw new ConflictError(
        p.state === 'paid'
          ? `invoice ${paymentId} is paid: return it instead`
          : `invoice ${paymentId} is ${p.state} already`,
      );
    const out = await this.cancelAtKaspi(p);
    await this.readAndApply(await this.service.get(paymentId));
    const after = await this.service.get(paymentId);
    await this.service.deps.db.knex.transaction((trx) =>
      audit.record(trx, {
        actor,
        action: 'qr.cancelled',
        target: { type: 'qr', id: paymentId },
        details: { state: after.state, kaspiStatus: after.kaspiStatus },
      }),
    );
    if (out === 'error' && !FINAL.includes(after.state))
      throw new AppError(
        'kaspi_qr_outcome_unknown',
        `remote/cancel got no answer and the invoice is still ${after.state}: refresh it later`,
        { httpStatus: 502 },
      );
    return after;
  }

  /** GET /api/qr/client-info: the payer's name for a phone (personal data: returned, never logged). */
  async clientInfo(phoneText: unknown, now = new Date()): Promise<{ phone: string; name: string }> {
    const phone = normalisePhone(phoneText);
    if (!phone) throw new ValidationError('phone must be a Kazakhstan mobile number');
    const deviceToken = await this.service.deviceToken();
    const name = `client-info:${createHash('sha256').update(deviceToken).digest('hex').slice(0, 16)}`;
    if (!(await this.invoices.takeCall(name, now, CLIENT_INFO_PER_MINUTE)))
      throw new AppError(
        'rate_limited',
        `at most ${CLIENT_INFO_PER_MINUTE} look-ups a minute per device: try again in a minute`,
        {
          httpStatus: 429,
        },
      );
    const env = await this.client.call('clientInfo', { phone, deviceToken });
    const d = env.Data as Record<string, unknown> | undefined;
    const clientName = typeof d?.ClientName === 'string' ? d.ClientName : '';
    return { phone: maskPhone(phone), name: clientName };
  }

  // ---- Kaspi calls and what they mean ----

  private async cancelAtKaspi(p: PurchaseWithPayment): Promise<'ok' | 'error'> {
    try {
      const env = await this.client.call('remoteCancel', {
        qrPaymentId: p.qrPaymentId,
        deviceToken: await this.service.deviceToken(),
      });
      const st = (env.Data as Record<string, unknown> | undefined)?.Status;
      if (typeof st === 'string') await this.apply(p, st);
      return 'ok';
    } catch (e) {
      log.warn('kaspi qr: remote/cancel failed: the last status read decides', {
        paymentId: p.paymentId,
        err: e,
      });
      return 'error';
    }
  }

  private async readAndApply(p: PurchaseWithPayment): Promise<'ok' | 'error'> {
    let status: string;
    try {
      status = await purchaseStatus(this.client, p.qrPaymentId);
    } catch (e) {
      await this.store.save(p.paymentId, null, { lastError: e instanceof Error ? e.message : String(e) });
      return 'error';
    }
    await this.apply(p, status);
    return 'ok';
  }

  /** States only move forward; paid never moves; a Processed is credited once through src/payments. */
  private async apply(p: PurchaseWithPayment, status: string): Promise<void> {
    const { payments, awaiting } = this.service.deps;
    const mapped = stateOf(status);
    const patch: PurchasePatch = { kaspiStatus: status, lastError: null };
    const ids = { paymentId: p.paymentId, qrPaymentId: p.qrPaymentId };
    if (mapped === null) {
      if (!p.unknownStatusLogged) {
        patch.unknownStatusLogged = true;
        log.error('kaspi qr: unknown status of a remote invoice: kept open', { ...ids, status });
      }
    } else if (p.state === 'paid') {
      if (mapped !== 'paid') {
        patch.flag = 'conflict';
        patch.kaspiStatus = undefined;
        log.error(
          'kaspi qr: a paid remote invoice now reads otherwise at Kaspi: kept paid, a person must look',
          {
            ...ids,
            status,
          },
        );
      }
    } else if (mapped === 'paid') {
      const out = await payments.creditStored(p.paymentId, ['awaiting_payment']);
      if (out.result !== 0 && out.result !== 4) {
        patch.flag = 'credit_refused';
        log.error('kaspi qr: paid at Kaspi but the billing refused the credit: a person must act', {
          ...ids,
          result: out.result,
        });
      }
      patch.state = 'paid';
      // The post-payment check, due from this write; made just after it.
      patch.detailsDueAt = new Date();
    } else if (mapped === 'failed' || mapped === 'cancelled') {
      await awaiting.decline(p.paymentId, mapped === 'failed' ? 'Kaspi QR: Error' : 'Kaspi QR: cancelled');
      patch.state = mapped;
    } else if (mapped === 'scanned' && (p.state === 'pending' || p.state === 'unknown'))
      patch.state = 'scanned';
    if (patch.kaspiStatus === undefined) delete patch.kaspiStatus;
    await this.store.save(p.paymentId, null, patch);
    if (patch.detailsDueAt)
      // Still due if this fails: the engine's tick makes it.
      await this.service.paidCheck
        .checkOne(p.paymentId)
        .catch((e: unknown) =>
          log.warn('kaspi qr: post-payment check left to the next tick', { paymentId: p.paymentId, err: e }),
        );
  }

  /** Invoices whose remote/create outcome is unknown: for a person. */
  unknownInvoices(): Promise<RemoteInvoice[]> {
    return this.invoices.listUnknown();
  }
}
