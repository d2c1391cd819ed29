import type { Billing } from '../billing/billing.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { RefundApiClient } from '../refunds/refund-api-client.js';
import { refundBillingFor, type RefundBilling } from '../refunds/refund-billing.js';
import { RefundService } from '../refunds/refund-service.js';
import { RefundTokenStore } from '../refunds/refund-token-store.js';
import type { Stores } from './stores.js';

export interface RefundParts {
  refunds: RefundService;
  /** null when REFUND_API_URL is not set. */
  refundApi: RefundApiClient | null;
  refundTokens: RefundTokenStore | null;
}

/** Kaspi's Refund API (when REFUND_API_URL is set), its token store, and the refund ledger on them. */
export function createRefunds(
  config: Config,
  db: Db,
  stores: Stores,
  billing: Billing,
  refundBilling?: RefundBilling,
): RefundParts {
  let refundApi: RefundApiClient | null = null;
  let refundTokens: RefundTokenStore | null = null;
  if (config.REFUND_API_URL) {
    // The store fetches through the client, the client takes tokens from the store.
    refundTokens = new RefundTokenStore(db, () => (refundApi as RefundApiClient).getToken(), {
      lockMs: config.REFUND_API_TIMEOUT_MS * 2 + 5000,
      waitMs: config.REFUND_API_TIMEOUT_MS * 3 + 5000,
    });
    refundApi = new RefundApiClient(
      {
        baseUrl: config.REFUND_API_URL,
        login: config.REFUND_API_LOGIN ?? '',
        password: config.REFUND_API_PASSWORD ?? '',
        timeoutMs: config.REFUND_API_TIMEOUT_MS,
      },
      stores.requestLog,
      refundTokens,
    );
  }
  const refunds = new RefundService(
    db,
    stores.refunds,
    stores.payments,
    refundApi,
    refundBilling ?? refundBillingFor(billing, stores.accounts),
    {
      amountUnit: config.REFUND_AMOUNT_UNIT,
      backoffMs: config.REFUND_BACKOFF_MS,
      maxAgeDays: config.REFUND_MAX_AGE_DAYS,
    },
  );
  return { refunds, refundApi, refundTokens };
}
