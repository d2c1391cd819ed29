import { LosslessNumber } from 'lossless-json';
import { readAmount } from '../../src/kaspi-qr/kaspi-qr-wire.js';
import type { Answer, FakeKaspiQr, Recorded } from './fake-kaspi-qr.js';

/**
 * The return methods of the fake Kaspi QR server (notes §2.7, §2.8): payment/details,
 * payment/return (r3 without the payer; r2 with the QrReturnId of an identified session),
 * return/create, return/status, return/operations. Installed on a FakeKaspiQr with
 * `installReturns(fake)`; the purchase's money at Kaspi is kept here in tiyn. Switches:
 * `available` (what payment/details shows, set by hand), `partialNotAllowed`, `foreignTradePoint`,
 * `notReturnable`, and the fake's own `fault()` for the rest (reset after the return was applied:
 * `fault('paymentReturn', { reset: 'after' })`).
 */

export interface FakeReturnPurchase {
  id: string;
  total: number;
  available: number;
  /** Each applied return, in tiyn. */
  returns: { amount: number; qrReturnId: string | null; operationId: string }[];
}

export interface FakeReturnSession {
  qrReturnId: string;
  createdAt: number;
  /** Status script: `identifiedAfterMs` null = never scanned. */
  identifiedAfterMs: number | null;
  /** The purchases of whoever scanned (return/operations). */
  customerPurchases: string[];
  forced: string | null;
}

let nextReturnId = 7_000_000_000_000_000_001n;
let nextOperationId = 8_100_000_000_000_000_001n;

export class FakeReturns {
  readonly purchases = new Map<string, FakeReturnPurchase>();
  readonly sessions = new Map<string, FakeReturnSession>();
  partialNotAllowed = false;
  foreignTradePoint = false;
  notReturnable = false;
  /** Runs once a return was applied, before the answer goes (or the connection is cut). */
  afterReturn: ((p: FakeReturnPurchase) => void) | null = null;
  behaviour = { QrCodeScanEventPollingInterval: 1, QrCodeScanWaitTimeout: 180 };
  /** What the next return session does: identified after this long, as the payer of these purchases. */
  nextSession: { identifiedAfterMs: number | null; customerPurchases: string[] | 'payer' } = {
    identifiedAfterMs: 0,
    customerPurchases: 'payer',
  };

  constructor(readonly fake: FakeKaspiQr) {}

  /** A paid purchase at Kaspi (tiyn). */
  purchase(id: string, total: number): FakeReturnPurchase {
    const p: FakeReturnPurchase = { id, total, available: total, returns: [] };
    this.purchases.set(id, p);
    return p;
  }

  /** What Kaspi has returned of a purchase, in tiyn. */
  returned(id: string): number {
    return (this.purchases.get(id)?.returns ?? []).reduce((s, r) => s + r.amount, 0);
  }

  private known(id: string): FakeReturnPurchase | null {
    const p = this.purchases.get(id);
    if (p) return p;
    // A purchase made through qr/create and paid there.
    const made = this.fake.purchases.get(id);
    if (!made || this.fake.statusOf(id) !== 'Processed') return null;
    return this.purchase(id, readAmount(new LosslessNumber(made.amount), 'Amount'));
  }

  sessionStatus(id: string): string {
    const s = this.sessions.get(id);
    if (!s) return 'missing';
    if (s.forced) return s.forced;
    if (s.identifiedAfterMs !== null && Date.now() - s.createdAt >= s.identifiedAfterMs)
      return 'CustomerIdentityObtained';
    return 'QrTokenCreated';
  }

  install(): this {
    const f = this.fake;
    const ok = (Data?: unknown): Answer => ({
      StatusCode: 0,
      Message: 'OK',
      ...(Data === undefined ? {} : { Data }),
    });
    const tenge = (tiyn: number) => new LosslessNumber(String(tiyn / 100));
    f.handle('paymentDetails', 'GET', '/payment/details', (r: Recorded) => {
      const q = new URLSearchParams(r.path.split('?')[1] ?? '');
      const p = this.known(q.get('QrPaymentId') ?? '');
      if (!p || !q.get('DeviceToken')) return { StatusCode: -1601, Message: 'Purchase not found' };
      return ok({
        QrPaymentId: new LosslessNumber(p.id),
        TotalAmount: tenge(p.total),
        AvailableReturnAmount: tenge(p.available),
        TransactionDate: '2021-11-3T11:55:14.166+06:00',
      });
    });
    f.handle('paymentReturn', 'POST', '/payment/return', (r: Recorded) => {
      const b = r.json ?? {};
      const id = b.QrPaymentId instanceof LosslessNumber ? b.QrPaymentId.value : String(b.QrPaymentId);
      const p = this.known(id);
      if (!p) return { StatusCode: -990000001, Message: 'Покупка с указанным идентификатором не найдена' };
      if (this.foreignTradePoint)
        return {
          StatusCode: -990000003,
          Message: 'Торговая точка покупки не совпадает с текущим устройством',
        };
      if (this.notReturnable) return { StatusCode: -990000011, Message: 'Невозможно вернуть покупку' };
      const amount = readAmount(b.Amount, 'Amount');
      if (amount > p.available)
        return { StatusCode: -990000005, Message: 'Сумма возврата не может превышать сумму покупки' };
      if (this.partialNotAllowed && amount !== p.total)
        return { StatusCode: -990000020, Message: 'Частичный возврат невозможен' };
      let qrReturnId: string | null = null;
      if (f.opts.scheme === 'r2') {
        qrReturnId = b.QrReturnId instanceof LosslessNumber ? b.QrReturnId.value : null;
        const s = qrReturnId ? this.sessions.get(qrReturnId) : undefined;
        if (
          !s ||
          this.sessionStatus(s.qrReturnId) !== 'CustomerIdentityObtained' ||
          !s.customerPurchases.includes(id)
        )
          return { StatusCode: -990000006, Message: 'Ошибка возврата' };
      } else if (b.QrReturnId !== undefined) return { StatusCode: -990000006, Message: 'Ошибка возврата' };
      p.available -= amount;
      const operationId = String(nextOperationId++);
      p.returns.push({ amount, qrReturnId, operationId });
      this.afterReturn?.(p);
      return ok({ ReturnOperationId: new LosslessNumber(operationId) });
    });
    f.handle('returnCreate', 'POST', '/return/create', () => {
      const id = String(nextReturnId++);
      const n = this.nextSession;
      this.sessions.set(id, {
        qrReturnId: id,
        createdAt: Date.now(),
        identifiedAfterMs: n.identifiedAfterMs,
        customerPurchases: n.customerPurchases === 'payer' ? [...this.purchases.keys()] : n.customerPurchases,
        forced: null,
      });
      return ok({
        QrToken: `51236903777280167836178166503744${id.slice(-9)}`,
        ExpireDate: '2021-12-08T11:35:48.1566667',
        QrReturnId: new LosslessNumber(id),
        QrReturnBehaviorOptions: this.behaviour,
      });
    });
    f.handle('returnStatus', 'GET', '/return/status/:id', (_r, [id]) => {
      const s = this.sessionStatus(id as string);
      return s === 'missing' ? { StatusCode: -1601, Message: 'not found' } : ok({ Status: s });
    });
    f.handle('returnOperations', 'POST', '/return/operations', (r: Recorded) => {
      const b = r.json ?? {};
      const id = b.QrReturnId instanceof LosslessNumber ? b.QrReturnId.value : '';
      const s = this.sessions.get(id);
      if (!s || this.sessionStatus(id) !== 'CustomerIdentityObtained')
        return { StatusCode: -1601, Message: 'not found' };
      const max = b.MaxResult instanceof LosslessNumber ? Number(b.MaxResult.value) : 10;
      return ok(
        s.customerPurchases.slice(0, max).map((pid) => ({
          QrPaymentId: new LosslessNumber(pid),
          Amount: tenge(this.purchases.get(pid)?.total ?? 100),
          TransactionDate: '2021-12-08T11:35:48.1566667',
        })),
      );
    });
    return this;
  }
}

export function installReturns(fake: FakeKaspiQr): FakeReturns {
  return new FakeReturns(fake).install();
}
