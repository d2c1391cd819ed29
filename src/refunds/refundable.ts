import type { Payment } from '../payments/payment-store.js';
import type { Tiyn } from '../shared/money.js';
import { RELEASED_STATUSES, type Refund } from './refund-store.js';

/**
 * The refund rule, one place (the admin API and the CLI show it; RefundService enforces the same
 * rule in SQL, RefundStore.heldAmount): what is left of a payment to refund is its amount less
 * every refund not released (declined or failed); nothing for a payment not credited.
 */
export function refundable(p: Payment, refunds: readonly Refund[]): Tiyn {
  if (p.state !== 'credited') return 0;
  const held = refunds.filter((r) => !RELEASED_STATUSES.includes(r.status)).reduce((s, r) => s + r.amount, 0);
  return Math.max(0, p.amount - held);
}
