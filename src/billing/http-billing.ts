import { Outbound, OutboundError, transientStatus, type OutboundAnswer } from '../http/outbound.js';
import type { RequestLog } from '../http/request-log.js';
import { getLogger } from '../log/logger.js';
import { UpstreamError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { CreditOutcome, CreditRequest, Lookup, RemoteBilling } from './billing.js';
import { parseJson, readLookup, readRef } from './http-billing-answers.js';

const log = getLogger('billing');

export interface HttpBillingOptions {
  baseUrl: string;
  token?: string;
  /** One attempt, connect to last byte. */
  timeoutMs: number;
  /** Attempts per call; only calls safe to repeat (GET, the keyed POST) are repeated. */
  maxAttempts: number;
  /** First pause between attempts; doubles per attempt, with jitter. */
  retryBaseMs: number;
}

/**
 * Why a billing call gave no usable answer. Every one of them leaves the outcome of a credit
 * unknown (the billing may have applied it), so the payment stays pending and is retried.
 * `billing_rejected_request` (400/401/403...) means our side is misconfigured: a person must act.
 */
export type BillingFailure =
  | 'billing_timeout'
  | 'billing_connection'
  | 'billing_server_error'
  | 'billing_bad_response'
  | 'billing_rejected_request';

export class BillingUnavailableError extends UpstreamError {
  constructor(
    code: BillingFailure,
    readonly detail: string,
    readonly upstreamStatus?: number,
    cause?: OutboundError,
  ) {
    // The message is what Kaspi may see as a comment: nothing of the billing's answer goes there.
    super(code, 'Billing unavailable, try again later', true, { cause, details: { detail, upstreamStatus } });
  }
}

export interface RefundNotice {
  refundId: string;
  txnId: string;
  account: string;
  amount: Tiyn;
}

interface Call {
  command: 'lookup' | 'credit' | 'refund';
  method: 'GET' | 'POST';
  path: string;
  txnId?: string;
  idempotencyKey?: string;
  json?: Record<string, unknown>;
}

/**
 * The external billing over HTTP (contract: spec/billing.md). Explicit timeouts on every attempt;
 * a call is repeated only when repeating is harmless: GETs, and POSTs that carry an
 * Idempotency-Key (the billing answers a repeated key with the first answer). Definitive answers
 * (404/409/422) are returned as refusals; anything that leaves the outcome unknown throws
 * BillingUnavailableError (transient). Every attempt goes to the request log (channel billing).
 * The transport (timeouts, attempts, backoff, request log) is src/http/outbound.ts.
 */
export class HttpBilling implements RemoteBilling {
  readonly kind = 'http' as const;
  private readonly http: Outbound;

  constructor(
    private readonly opts: HttpBillingOptions,
    requestLog?: RequestLog,
  ) {
    this.http = new Outbound({
      upstream: 'billing',
      channel: 'billing',
      baseUrl: opts.baseUrl,
      timeoutMs: opts.timeoutMs,
      maxAttempts: opts.maxAttempts,
      retryBaseMs: opts.retryBaseMs,
      requestLog,
      headers: {
        accept: 'application/json',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
    });
  }

  /** Drops kept-alive connections (shutdown). */
  close(): void {
    this.http.close();
  }

  /** The longest one call can take, every attempt and pause included. */
  get maxCallMs(): number {
    return this.http.maxCallMs;
  }

  async lookup(account: string): Promise<Lookup> {
    const res = await this.send({
      command: 'lookup',
      method: 'GET',
      path: `accounts/${encodeURIComponent(account)}`,
    });
    if (res.status === 404) return { kind: 'not_found' };
    if (res.status !== 200) throw this.unexpected(res);
    const data = parseJson(res.body);
    const parsed = data && readLookup(account, data);
    if (!parsed) throw new BillingUnavailableError('billing_bad_response', 'unreadable account answer', 200);
    return parsed;
  }

  async credit(req: CreditRequest): Promise<CreditOutcome> {
    // Kaspi: Kaspi's txn_id. JetPay: our payment_id, which the payment row keeps as its txn_id.
    const txnId = req.txnId;
    const res = await this.send({
      command: 'credit',
      method: 'POST',
      path: 'payments',
      txnId,
      idempotencyKey: `${req.source}:${txnId}`,
      json: {
        source: req.source,
        txnId,
        paymentId: req.paymentId,
        account: req.account,
        amount: formatTenge(req.amount),
        amountMinor: req.amount,
        txnDate: req.txnDate,
      },
    });
    if (res.status === 200 || res.status === 201) {
      const ref = readRef(parseJson(res.body), 'billingRef');
      if (ref === null)
        throw new BillingUnavailableError(
          'billing_bad_response',
          'credit answer without billingRef',
          res.status,
        );
      return { ok: true, billingRef: ref };
    }
    if (res.status === 404) return { ok: false, result: 1, comment: 'Account not found' };
    if (res.status === 409) {
      return /cancel/i.test(res.body)
        ? { ok: false, result: 2, comment: 'Order cancelled' }
        : { ok: false, result: 3, comment: 'Order already paid' };
    }
    if (res.status === 422) return { ok: false, result: 5, comment: 'Payment refused by billing' };
    throw this.unexpected(res);
  }

  /** Tells the billing a refund reached SUCCESS, so it can debit the account; idempotent by refund id. */
  async refund(n: RefundNotice): Promise<{ billingRef: string | null }> {
    const res = await this.send({
      command: 'refund',
      method: 'POST',
      path: 'refunds',
      txnId: n.txnId,
      idempotencyKey: `refund:${n.refundId}`,
      json: {
        refundId: n.refundId,
        txnId: n.txnId,
        account: n.account,
        amount: formatTenge(n.amount),
        amountMinor: n.amount,
      },
    });
    if (res.status === 200 || res.status === 201)
      return { billingRef: readRef(parseJson(res.body), 'billingRef') };
    throw this.unexpected(res);
  }

  private unexpected(res: OutboundAnswer): BillingUnavailableError {
    if (transientStatus(res.status))
      return new BillingUnavailableError(
        'billing_server_error',
        `HTTP ${res.status}`,
        res.status,
        this.http.unusable(res, 'status'),
      );
    if (res.status >= 200 && res.status < 300) {
      return new BillingUnavailableError(
        'billing_bad_response',
        `unexpected HTTP ${res.status}`,
        res.status,
        this.http.unusable(res, 'garbage'),
      );
    }
    log.error('billing refused our request: check BILLING_URL and BILLING_TOKEN', { httpStatus: res.status });
    return new BillingUnavailableError('billing_rejected_request', `HTTP ${res.status}`, res.status);
  }

  /**
   * One call through the transport: repeated (GETs and keyed POSTs only) on a 5xx/429, an unreadable
   * 200, or no answer; returns the first answer not worth repeating.
   */
  private async send(call: Call): Promise<OutboundAnswer> {
    try {
      return await this.http.send({
        method: call.method,
        path: call.path,
        json: call.json,
        idempotencyKey: call.idempotencyKey,
        repeatOn: (a) => transientStatus(a.status) || (a.status === 200 && parseJson(a.body) === null),
        log: {
          command: call.command,
          txnId: call.txnId,
          request: (attempt) =>
            [
              `${call.method} /${call.path}`,
              this.opts.token ? 'Authorization: Bearer ***' : null,
              call.idempotencyKey ? `Idempotency-Key: ${call.idempotencyKey}` : null,
              `Attempt: ${attempt}`,
              call.json ? JSON.stringify(call.json) : null,
            ]
              .filter((l) => l !== null)
              .join('\n'),
        },
      });
    } catch (e) {
      throw e instanceof OutboundError ? toFailure(e) : e;
    }
  }
}

/** The billing's name for a call that got no answer; the cause keeps host, code and time. */
function toFailure(e: OutboundError): BillingUnavailableError {
  if (e.outbound.failure === 'timeout')
    return new BillingUnavailableError('billing_timeout', 'no answer in time', undefined, e);
  return new BillingUnavailableError('billing_connection', e.outbound.code, undefined, e);
}
