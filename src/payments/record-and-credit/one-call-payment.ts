import type { PaymentFields } from '../payment-store.js';

/** A pay to record and credit at once; the fields of the payment row. */
export interface OneCallPayment extends PaymentFields {
  /** The comment a credited payment answers with. */
  comment: string;
  /** The billing reference stored with it. */
  billingRef: string;
}

/** What the one call did, for the bench and the tests: pays recorded per database call. */
export interface OneCallStats {
  calls: number;
  pays: number;
  /** Batches that failed as a whole and were sent again pay by pay. */
  split: number;
}

/** A connection of knex's pool, taken without knex's runner around it. */
export interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
}
