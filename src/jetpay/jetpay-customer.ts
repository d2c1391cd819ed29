import { maskName, type Billing, type BillingEntity, type Lookup } from '../billing/billing.js';
import { getLogger } from '../log/logger.js';
import { NotFoundError } from '../shared/errors.js';
import type { Tiyn } from '../shared/money.js';
import { JetpayRefusal } from './jetpay-request.js';

const log = getLogger('jetpay');

const ACCOUNT_NOT_FOUND = 'Account does not exist';

export interface JetpayRules {
  accountRegex: RegExp;
  minSum: Tiyn;
  maxSum: Tiyn;
  allowPartialOrderPayment: boolean;
}

/** An entity as JetPay wants it: amounts in minor units, as JSON integers. */
export interface EntityJson {
  id: string;
  number: string;
  payment?: number;
  min_payment?: number;
  info?: Record<string, string | number>;
}

/** Who pays, as verify and check_deposit see them: an account (top-up) or an order (what is due). */
export interface Customer {
  customerId: string;
  kind: 'account' | 'order';
  /** Order mode: what is still due on the order. */
  due: Tiyn | null;
  entities: BillingEntity[];
}

/** The billing's answer for a customer id, as JetPay's entities; refusals are JetPay's own answers. */
export async function findCustomer(
  billing: Billing,
  rules: JetpayRules,
  customerId: string,
): Promise<Customer> {
  if (!rules.accountRegex.test(customerId)) throw new NotFoundError('account', ACCOUNT_NOT_FOUND);
  let found: Lookup;
  try {
    found = await billing.lookup(customerId);
  } catch (e) {
    log.warn('jetpay: billing lookup failed', { err: e });
    throw new JetpayRefusal('Billing unavailable, try again later');
  }
  const { minSum } = rules;
  switch (found.kind) {
    case 'not_found':
      throw new NotFoundError('account', ACCOUNT_NOT_FOUND);
    case 'account': {
      const info: Record<string, string | number> = { customer_name: maskName(found.name) };
      if (found.balance !== null) info.balance = found.balance;
      const entities = found.entities ?? [
        { id: found.account, number: found.account, minPayment: minSum, info },
      ];
      return { customerId, kind: 'account', due: null, entities };
    }
    case 'order': {
      if (found.status === 'paid') throw new JetpayRefusal('Order already paid');
      if (found.status === 'cancelled') throw new JetpayRefusal('Order cancelled');
      const info = { description: found.fields[0]?.value ?? found.number, amount_due: found.due };
      const minPayment = rules.allowPartialOrderPayment ? minSum : found.due;
      return {
        customerId,
        kind: 'order',
        due: found.due,
        entities: [{ id: found.number, number: found.number, payment: found.due, minPayment, info }],
      };
    }
  }
}

export function toEntityJson(e: BillingEntity): EntityJson {
  const out: EntityJson = { id: e.id, number: e.number };
  if (e.payment !== undefined) out.payment = e.payment;
  if (e.minPayment !== undefined) out.min_payment = e.minPayment;
  if (e.info !== undefined) out.info = e.info;
  return out;
}
