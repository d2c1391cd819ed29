import { randomUUID } from 'node:crypto';
import {
  isSafeNumber,
  LosslessNumber,
  parse as parseLossless,
  stringify as stringifyLossless,
} from 'lossless-json';
import { Outbound, OutboundError } from '../http/outbound.js';
import type { RequestLog } from '../http/request-log.js';
import { getLogger } from '../log/logger.js';
import { UpstreamError } from '../shared/errors.js';

/**
 * The client of Kaspi's Refund API (returnApi): Auth/GetToken, Auth/CheckToken,
 * Refund/RefundRequest, Refund/RefundStatus.
 *
 * - `PaymentId`/`ReturnAmount` are bare JSON integers written from their digits (lossless-json),
 *   and answers are read the same way, so an 18-digit id never passes through a JS number.
 * - `error.code` is read before `statusCode`: Kaspi's code 4 comes with statusCode 1.
 * - On HTTP 401/403 the client takes a new token and repeats the call once; nothing else is
 *   retried here (the poller owns retries, and the RefundIdentificator makes them safe).
 * - Every call, with its answer, goes to the request log (channel `refund_api`), tokens masked.
 * - The transport (timeouts, request log, failure classes) is src/http/outbound.ts; every call is a
 *   POST without an Idempotency-Key, so the transport never repeats one.
 */

const log = getLogger('refund-api');

export interface IssuedToken {
  token: string;
  /** null when Kaspi's validTo could not be read: the token is then trusted until a 401. */
  validTo: Date | null;
}

/** The token a call used: `generation` tells a 401 handler whether someone already replaced it. */
export interface TokenLease {
  token: string;
  generation: number;
}

export interface TokenProvider {
  current(): Promise<TokenLease>;
  /** A token newer than `stale` (the one Kaspi just refused), fetched at most once deployment-wide. */
  renew(stale: TokenLease): Promise<TokenLease>;
}

export interface RefundAnswer {
  httpStatus: number;
  statusCode: number;
  errorCode: number | null;
  errorMessage: string | null;
  requestIdentificator: string | null;
}

export interface RefundRequestInput {
  /** Kaspi's payment number (our txn_id): digits, written as a bare JSON integer. */
  paymentId: string;
  /** In REFUND_AMOUNT_UNIT, whole. */
  returnAmount: number;
  refundIdentificator: string;
  reason: string;
  /** Our refund id, to find its calls in the request log. */
  refundId?: string;
}

export type RefundApiFailure = 'timeout' | 'connection' | 'http' | 'malformed' | 'auth';

/**
 * A call that gave no usable answer. `outcomeUnknown`: the request may have reached Kaspi and been
 * applied (timeout, dropped connection), so only a repeat with the same RefundIdentificator is safe.
 */
export class RefundApiError extends UpstreamError {
  constructor(
    readonly failure: RefundApiFailure,
    message: string,
    transient: boolean,
    readonly outcomeUnknown: boolean,
    readonly upstreamStatus?: number,
    cause?: unknown,
  ) {
    super(`refund_api_${failure}`, message, transient, { cause, details: { upstreamStatus } });
  }
}

export interface RefundApiOptions {
  baseUrl: string;
  login: string;
  password: string;
  timeoutMs: number;
}

interface RawAnswer {
  httpStatus: number;
  text: string;
}

const MAX_ID = 9223372036854775807n; // Kaspi's `long`

/** The body of a RefundRequest, PaymentId and ReturnAmount as bare integers from their digits. */
export function refundRequestBody(r: RefundRequestInput): string {
  if (!/^\d{1,19}$/.test(r.paymentId) || BigInt(r.paymentId) > MAX_ID) {
    throw new Error(`PaymentId must be a positive 64-bit integer: ${r.paymentId}`);
  }
  if (!Number.isSafeInteger(r.returnAmount) || r.returnAmount <= 0) {
    throw new Error(`ReturnAmount must be a positive whole number: ${r.returnAmount}`);
  }
  return stringifyLossless({
    PaymentId: new LosslessNumber(r.paymentId.replace(/^0+(?=\d)/, '')),
    ReturnAmount: new LosslessNumber(String(r.returnAmount)),
    RefundIdentificator: r.refundIdentificator,
    Reason: r.reason,
  }) as string;
}

/** JSON whose numbers stay exact: small ones as numbers, big ones as their digit strings. */
export function parseExact(text: string): unknown {
  return parseLossless(text, null, (s: string) => (isSafeNumber(s) ? Number(s) : s));
}

function field(o: Record<string, unknown>, name: string): unknown {
  // ASP.NET answers camelCase, but a server configured otherwise would answer PascalCase.
  if (name in o) return o[name];
  const pascal = name[0]!.toUpperCase() + name.slice(1);
  return o[pascal];
}

/** Reads a Refund answer: `error.code` first, then `statusCode`. Null when it is not one. */
export function readRefundAnswer(httpStatus: number, text: string): RefundAnswer | null {
  let doc: unknown;
  try {
    doc = parseExact(text);
  } catch {
    return null;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return null;
  const o = doc as Record<string, unknown>;
  let errorCode: number | null = null;
  let errorMessage: string | null = null;
  const err = field(o, 'error');
  if (err !== null && err !== undefined) {
    if (typeof err !== 'object') return null;
    const code = field(err as Record<string, unknown>, 'code');
    if (typeof code !== 'number' || !Number.isInteger(code)) return null;
    errorCode = code;
    const msg = field(err as Record<string, unknown>, 'errorMessage');
    errorMessage = typeof msg === 'string' ? msg.slice(0, 500) : null;
  }
  const statusCode = field(o, 'statusCode');
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode)) return null;
  const rid = field(o, 'requestIdentificator');
  const requestIdentificator = typeof rid === 'string' && rid.length > 0 && rid.length <= 100 ? rid : null;
  return { httpStatus, statusCode, errorCode, errorMessage, requestIdentificator };
}

function readToken(text: string): IssuedToken | null {
  let doc: unknown;
  try {
    doc = parseExact(text);
  } catch {
    return null;
  }
  if (!doc || typeof doc !== 'object') return null;
  const token = field(doc as Record<string, unknown>, 'token');
  if (typeof token !== 'string' || token.length === 0 || token.length > 2000) return null;
  const validToText = field(doc as Record<string, unknown>, 'validTo');
  return { token, validTo: typeof validToText === 'string' ? parseValidTo(validToText) : null };
}

/** "2020-03-19T18:05:07.902529+06:00": .NET writes 7 fraction digits at most; Date wants 3. */
export function parseValidTo(text: string): Date | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/.exec(text.trim());
  if (!m) return null;
  const d = new Date(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}${m[3] ?? 'Z'}`);
  return Number.isNaN(d.getTime()) ? null : d;
}

export class RefundApiClient {
  private readonly http: Outbound;

  constructor(
    private readonly opts: RefundApiOptions,
    requestLog: RequestLog,
    private readonly tokens: TokenProvider,
  ) {
    this.http = new Outbound({
      upstream: 'refund_api',
      channel: 'refund_api',
      baseUrl: opts.baseUrl,
      timeoutMs: opts.timeoutMs,
      connectTimeoutMs: Math.min(opts.timeoutMs, 5000),
      requestLog,
      logResponseChars: 16000,
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
    });
  }

  /** Drops kept-alive connections (shutdown). */
  close(): void {
    this.http.close();
  }

  /** Auth/GetToken. Kills whatever token was active: only the token store may call it. */
  async getToken(): Promise<IssuedToken> {
    const body = JSON.stringify({ Login: this.opts.login, Password: this.opts.password });
    const raw = await this.post('Auth/GetToken', body, null, { command: 'GetToken' });
    if (raw.httpStatus === 401 || raw.httpStatus === 403) {
      throw new RefundApiError(
        'auth',
        'Refund API refused our login: check REFUND_API_LOGIN/PASSWORD',
        false,
        false,
        raw.httpStatus,
      );
    }
    const issued = raw.httpStatus === 200 ? readToken(raw.text) : null;
    if (!issued) throw this.unusable(raw, 'GetToken');
    return issued;
  }

  /** Auth/CheckToken: whether Kaspi still takes this token, and until when. */
  async checkToken(token: string): Promise<{ valid: boolean; validTo: Date | null }> {
    const raw = await this.post('Auth/CheckToken', '', token, { command: 'CheckToken' });
    if (raw.httpStatus === 401 || raw.httpStatus === 403) return { valid: false, validTo: null };
    const issued = raw.httpStatus === 200 ? readToken(raw.text) : null;
    if (!issued) throw this.unusable(raw, 'CheckToken');
    return { valid: true, validTo: issued.validTo };
  }

  async refundRequest(r: RefundRequestInput): Promise<RefundAnswer> {
    const body = refundRequestBody(r);
    return this.refundCall('Refund/RefundRequest', body, {
      command: 'RefundRequest',
      txnId: r.paymentId,
      refundId: r.refundId,
    });
  }

  async refundStatus(
    requestIdentificator: string,
    meta: { txnId?: string; refundId?: string } = {},
  ): Promise<RefundAnswer> {
    const body = JSON.stringify({ RequestIdentificator: requestIdentificator });
    return this.refundCall('Refund/RefundStatus', body, { command: 'RefundStatus', ...meta });
  }

  private async refundCall(path: string, body: string, meta: CallMeta): Promise<RefundAnswer> {
    let lease = await this.tokens.current();
    let raw = await this.post(path, body, lease.token, meta);
    if (raw.httpStatus === 401 || raw.httpStatus === 403) {
      log.debug('Refund API refused our token: taking a new one, repeating the call once', {
        call: meta.command,
        httpStatus: raw.httpStatus,
      });
      lease = await this.tokens.renew(lease);
      raw = await this.post(path, body, lease.token, meta);
      if (raw.httpStatus === 401 || raw.httpStatus === 403) {
        throw new RefundApiError(
          'auth',
          `Refund API refused a fresh token on ${meta.command}`,
          true,
          false,
          raw.httpStatus,
        );
      }
    }
    const answer = readRefundAnswer(raw.httpStatus, raw.text);
    if (!answer) throw this.unusable(raw, meta.command);
    return answer;
  }

  private unusable(raw: RawAnswer, call: string): RefundApiError {
    const transient =
      raw.httpStatus >= 500 || raw.httpStatus === 408 || raw.httpStatus === 429 || raw.httpStatus === 200;
    // A 5xx or a garbled 200 may have come after Kaspi applied the call.
    return new RefundApiError(
      raw.httpStatus === 200 ? 'malformed' : 'http',
      `Refund API ${call}: unusable answer (HTTP ${raw.httpStatus})`,
      transient,
      raw.httpStatus >= 500 || raw.httpStatus === 200,
      raw.httpStatus,
    );
  }

  private async post(path: string, body: string, token: string | null, meta: CallMeta): Promise<RawAnswer> {
    try {
      const res = await this.http.send({
        method: 'POST',
        path,
        body,
        headers: token === null ? {} : { token },
        secrets: token === null ? [] : [token],
        log: {
          command: meta.command,
          txnId: meta.txnId,
          requestId: meta.refundId ? `refund:${meta.refundId}` : randomUUID(),
          request: () => `${path} token=${token === null ? '-' : '***'} ${body}`,
          answer: (a) => {
            const answer = a.status === 200 ? readRefundAnswer(200, a.body) : null;
            return {
              result: answer ? answer.statusCode : null,
              comment:
                answer?.errorCode != null ? `error ${answer.errorCode}: ${answer.errorMessage ?? ''}` : null,
            };
          },
        },
      });
      return { httpStatus: res.status, text: res.body };
    } catch (e) {
      if (!(e instanceof OutboundError)) throw e;
      const failure: RefundApiFailure = e.outbound.failure === 'timeout' ? 'timeout' : 'connection';
      // A refused connection never reached Kaspi; anything later may have been applied.
      throw new RefundApiError(
        failure,
        `Refund API ${meta.command}: no answer (${e.outbound.code})`,
        true,
        e.mayHaveReachedPeer,
        undefined,
        e,
      );
    }
  }
}

interface CallMeta {
  command: string;
  txnId?: string;
  refundId?: string;
}
