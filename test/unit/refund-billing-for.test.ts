import type { AccountStore } from '../../src/billing/account-store.js';
import type { Billing } from '../../src/billing/billing.js';
import { refundBillingFor, type RefundNotice } from '../../src/refunds/refund-billing.js';

const notice: RefundNotice = {
  refundId: '7',
  paymentId: '3',
  txnId: '912345678901234567',
  account: 'A1',
  amount: 4000,
};
const remote = (extra: object) =>
  ({
    kind: 'http',
    maxCallMs: 1000,
    lookup: async () => ({ kind: 'not_found' }),
    credit: async () => ({}),
    ...extra,
  }) as unknown as Billing;

describe('refund side of the configured billing', () => {
  it('when the billing is remote and can be told of refunds, then a SUCCESS goes through its refund()', async () => {
    const seen: RefundNotice[] = [];
    const rb = refundBillingFor(
      remote({ refund: async (n: RefundNotice) => (seen.push(n), { billingRef: `b-${n.refundId}` }) }),
      {} as AccountStore,
    );
    expect(rb.kind).toBe('http');
    if (rb.kind !== 'http') return;
    expect(await rb.notifyRefund(notice)).toEqual({ billingRef: 'b-7' });
    expect(seen).toEqual([notice]);
  });

  it('when the billing is remote and cannot be told of refunds, then the start is refused', () => {
    expect(() => refundBillingFor(remote({}), {} as AccountStore)).toThrow(/cannot be told of refunds/);
  });
});
