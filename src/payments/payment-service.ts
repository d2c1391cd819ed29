import type { Billing } from '../billing/billing.js';
import type { Db } from '../db/db.js';
import { EmbeddedPaymentService } from './embedded-payment-service.js';
import { DEFAULT_PAYMENT_OPTIONS, type PaymentService, type PaymentServiceOptions } from './pay-types.js';
import type { PaymentStore } from './payment-store.js';
import type { OneCallCredit } from './record-and-credit/one-call.js';
import { RemotePaymentService } from './remote-payment-service.js';

export {
  COMMENT_OK,
  COMMENT_PROCESSING,
  COMMENT_REUSED,
  type CheckOutcome,
  type KaspiResult,
  type PaymentService,
  type PaymentServiceOptions,
  type PayOutcome,
  type PayRequest,
} from './pay-types.js';

export interface PaymentServiceDeps {
  db: Db;
  payments: PaymentStore;
  billing: Billing;
  /** The common pay in one database call (embedded billing); without it every pay goes the general way. */
  oneCall?: OneCallCredit | null;
}

/** The billing kind is chosen here, once: each service knows one way to credit. */
export function createPaymentService(
  deps: PaymentServiceDeps,
  opts: Partial<PaymentServiceOptions> = {},
): PaymentService {
  const o = { ...DEFAULT_PAYMENT_OPTIONS, ...opts };
  return deps.billing.kind === 'sql'
    ? new EmbeddedPaymentService(deps.db, deps.payments, deps.billing, deps.oneCall ?? null, o)
    : new RemotePaymentService(deps.db, deps.payments, deps.billing, o);
}
