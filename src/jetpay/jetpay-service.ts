import type { Billing } from '../billing/billing.js';
import { NotFoundError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { DepositStore } from '../payments/deposit-store.js';
import { CURRENCY, JetpayCallbacks, type CallbackAnswer } from './jetpay-callback.js';
import {
  findCustomer,
  toEntityJson,
  type Customer,
  type EntityJson,
  type JetpayRules,
} from './jetpay-customer.js';
import {
  JetpayRefusal,
  type CallbackRequest,
  type CheckDepositRequest,
  type VerifyRequest,
} from './jetpay-request.js';

export { CURRENCY, type CallbackAnswer } from './jetpay-callback.js';
export type { EntityJson, JetpayRules } from './jetpay-customer.js';

const log = getLogger('jetpay');

export interface JetpayDeps {
  billing: Billing;
  payments: PaymentService;
  store: DepositStore;
  rules: JetpayRules;
  /** A callback is answered within this budget (PAY_DEADLINE_MS); past it, 500 and JetPay repeats. */
  deadlineMs: number;
}

export interface VerifyAnswer {
  code: 0;
  currency: typeof CURRENCY;
  additional_customer_id: string;
  entities: EntityJson[];
}

export interface CheckDepositAnswer {
  code: 0;
  payment_id: string;
  description: string;
}

/**
 * JetPay's top-up: verify (who is this customer, what can they pay into), check_deposit (store a
 * payment awaiting its callback) and the callback (credit once on success, mark a decline; in
 * jetpay-callback.ts). The customer's lookup is jetpay-customer.ts.
 */
export class JetpayService {
  private readonly callbacks: JetpayCallbacks;

  constructor(private readonly deps: JetpayDeps) {
    this.callbacks = new JetpayCallbacks(deps);
  }

  async verify(req: VerifyRequest): Promise<VerifyAnswer> {
    const c = await this.customer(req.customerId);
    return {
      code: 0,
      currency: CURRENCY,
      additional_customer_id: c.customerId,
      entities: c.entities.map(toEntityJson),
    };
  }

  async checkDeposit(req: CheckDepositRequest): Promise<CheckDepositAnswer> {
    const { minSum, maxSum } = this.deps.rules;
    if (req.currency !== CURRENCY) throw new JetpayRefusal(`Currency must be ${CURRENCY}`);
    if (req.amount <= 0n) throw new JetpayRefusal('Amount must be positive');
    if (req.amount < BigInt(minSum) || req.amount > BigInt(maxSum)) {
      throw new JetpayRefusal(`Amount out of limits: ${minSum}..${maxSum} minor units`);
    }
    const amount = Number(req.amount);
    const c = await this.customer(req.customerId);
    const entity = c.entities.find((e) => e.id === req.entityId);
    if (!entity) throw new NotFoundError('entity', 'Entity does not exist');
    // Refused now rather than at the callback: by then the customer's money is gone.
    if (c.due !== null && amount > c.due) throw new JetpayRefusal('Amount is above the amount due');
    if (c.due !== null && amount < c.due && !this.deps.rules.allowPartialOrderPayment) {
      throw new JetpayRefusal('Amount does not match the amount due');
    }
    if (entity.minPayment !== undefined && amount < entity.minPayment) {
      throw new JetpayRefusal(`Amount below the minimum payment of ${entity.minPayment} minor units`);
    }
    const d = await this.deps.store.create({
      account: c.customerId,
      entityId: entity.id,
      amount,
      extra: req.paymentMethod ? { payment_method: req.paymentMethod } : null,
    });
    log.info('jetpay deposit awaiting its callback', {
      paymentId: d.txnId,
      prvTxn: d.id,
      account: d.account,
      entityId: entity.id,
      amount,
    });
    return {
      code: 0,
      payment_id: d.txnId,
      description: c.kind === 'order' ? `Payment for order ${entity.number}` : `Top-up of ${entity.number}`,
    };
  }

  /** A callback, answered within the deadline from `startedAt`: see JetpayCallbacks.callback. */
  callback(req: CallbackRequest, startedAt?: bigint): Promise<CallbackAnswer> {
    return this.callbacks.callback(req, startedAt);
  }

  private customer(customerId: string): Promise<Customer> {
    return findCustomer(this.deps.billing, this.deps.rules, customerId);
  }
}
