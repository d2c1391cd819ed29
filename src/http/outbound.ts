import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import got, { RequestError, type Got } from 'got';
import { backoff, sleep } from '../shared/backoff.js';
import { UpstreamError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import type { RequestLog, RequestLogEntry } from './request-log.js';

/**
 * The one outbound HTTP transport (got), under the external billing (src/billing/http-billing.ts)
 * and Kaspi's Refund API (src/refunds/refund-api-client.ts). The Kaspi QR client keeps its own: its
 * mTLS agent (PFX/PEM, Kaspi's CA, the TLS errors it explains) and Kaspi's envelope are its own.
 *
 * - Every attempt has a deliberate timeout: `timeoutMs` from connect to the last byte, and
 *   `connectTimeoutMs` (default the same) for the TCP/TLS handshake.
 * - A call is repeated only when repeating is harmless: an idempotent method (GET, HEAD, PUT,
 *   DELETE), or a POST carrying an Idempotency-Key (the upstream answers a repeated key with its
 *   first answer). A POST without a key is never repeated, whatever happened to it.
 * - The pause before a repeat is the one backoff() (exponential, equal jitter).
 * - Every attempt goes to the request log, the caller's secrets masked in request and answer.
 * - A failure is classified (OutboundFailure) with the host, the time it took and the attempts.
 */

/**
 * - `timeout`: no (whole) answer in time; the request may have been applied.
 * - `refused`: no connection (refused, unknown host): the request never reached the peer.
 * - `connection`: the connection broke after it was made; the request may have been applied.
 * - `garbage`: an answer that cannot be read (not JSON, not the contract's shape).
 * - `status`: an HTTP status the contract does not expect.
 */
export type OutboundFailure = 'timeout' | 'refused' | 'connection' | 'garbage' | 'status';

/** Where a failure happened and how long it took: what one log line about it says. */
export interface OutboundCause {
  failure: OutboundFailure;
  /** host:port of the upstream */
  host: string;
  /** The network error code (ETIMEDOUT, ECONNREFUSED, ...) or HTTP <status>. */
  code: string;
  /** All attempts and pauses of the call, ms. */
  elapsedMs: number;
  attempts: number;
  httpStatus?: number;
}

/** An upstream gave no usable answer; `cause()` is the one-line account of why. */
export class OutboundError extends UpstreamError {
  constructor(
    readonly upstream: string,
    readonly outbound: OutboundCause,
    cause?: unknown,
  ) {
    super(`${upstream}_${outbound.failure}`, `${upstream}: ${describeCause(outbound)}`, true, {
      cause,
      details: { ...outbound },
    });
  }

  /** False only when the request surely never reached the peer (nothing can have been applied). */
  get mayHaveReachedPeer(): boolean {
    return this.outbound.failure !== 'refused';
  }
}

export function describeCause(c: OutboundCause): string {
  return `${c.failure} (${c.code}) from ${c.host} after ${Math.round(c.elapsedMs)} ms, ${c.attempts} attempt${c.attempts === 1 ? '' : 's'}`;
}

export interface OutboundAnswer {
  status: number;
  body: string;
  /** host:port, for an error made from this answer */
  host: string;
  attempts: number;
  /** All attempts and pauses so far, ms. */
  elapsedMs: number;
}

export interface OutboundOptions {
  /** Names the upstream in error codes (`<upstream>_timeout`) and messages. */
  upstream: string;
  channel: RequestLogEntry['channel'];
  baseUrl: string;
  /** One attempt, connect to last byte. */
  timeoutMs: number;
  connectTimeoutMs?: number;
  /** Attempts of a repeatable call (1 = never repeated). */
  maxAttempts?: number;
  /** First pause between attempts; doubles, with jitter. */
  retryBaseMs?: number;
  headers?: Record<string, string>;
  requestLog?: RequestLog;
  /** Answers larger than this are cut in the request log. */
  logResponseChars?: number;
}

export interface OutboundCall {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  body?: string;
  json?: unknown;
  headers?: Record<string, string>;
  /** Sent as Idempotency-Key; makes a POST repeatable. */
  idempotencyKey?: string;
  /** An answer worth another attempt; default: 5xx and 429. */
  repeatOn?: (a: OutboundAnswer) => boolean;
  /** Values replaced by *** in the request log (a token sent with this call). */
  secrets?: string[];
  log: {
    command: string;
    txnId?: string | null;
    requestId?: string;
    /** The request as the log shows it (headers that matter, the body), for this attempt. */
    request: (attempt: number) => string;
    /** What the log says of an answer (result, comment), when the caller reads one. */
    answer?: (a: OutboundAnswer) => Pick<RequestLogEntry, 'result' | 'comment'>;
  };
}

const log = getLogger('outbound');

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const NEVER_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export const transientStatus = (s: number): boolean => s >= 500 || s === 429;

export class Outbound {
  private readonly client: Got;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };
  readonly host: string;

  constructor(private readonly opts: OutboundOptions) {
    const t = opts.timeoutMs;
    const c = opts.connectTimeoutMs ?? t;
    this.host = new URL(opts.baseUrl).host;
    this.client = got.extend({
      prefixUrl: opts.baseUrl.replace(/\/+$/, ''),
      timeout: { lookup: c, connect: c, secureConnect: c, socket: t, send: t, response: t, request: t },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      responseType: 'text',
      agent: this.agents,
      headers: { 'user-agent': 'kaspi-gateway', ...opts.headers },
    });
  }

  /** Drops kept-alive connections (shutdown). */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** The longest a repeatable call can take, every attempt and the longest pauses included. */
  get maxCallMs(): number {
    const attempts = this.opts.maxAttempts ?? 1;
    let total = 0;
    for (let a = 1; a <= attempts; a++)
      total += this.opts.timeoutMs + (a > 1 ? this.pause(a - 1, () => 1) : 0);
    return total;
  }

  /**
   * Runs a call's attempts and returns the first answer not worth repeating (or the last one). Throws
   * OutboundError when the last attempt got no answer at all (timeout, refused, connection).
   */
  async send(call: OutboundCall): Promise<OutboundAnswer> {
    const repeatable = IDEMPOTENT.has(call.method) || call.idempotencyKey !== undefined;
    const attempts = repeatable ? (this.opts.maxAttempts ?? 1) : 1;
    const repeatOn = call.repeatOn ?? ((a: OutboundAnswer) => transientStatus(a.status));
    const started = performance.now();
    let last: OutboundAnswer | OutboundError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(this.pause(attempt - 1));
      last = await this.attempt(call, attempt, started);
      if (last instanceof OutboundError) continue; // only a repeatable call has another attempt
      if (!repeatOn(last)) return last;
    }
    if (last instanceof OutboundError) throw last;
    return last as OutboundAnswer;
  }

  /** An error for an answer the caller cannot use. */
  unusable(a: OutboundAnswer, failure: 'garbage' | 'status'): OutboundError {
    return new OutboundError(this.opts.upstream, {
      failure,
      host: a.host,
      code: `HTTP ${a.status}`,
      elapsedMs: a.elapsedMs,
      attempts: a.attempts,
      httpStatus: a.status,
    });
  }

  private pause(retry: number, random?: () => number): number {
    const base = this.opts.retryBaseMs ?? 200;
    return backoff(retry, { baseMs: base, maxMs: base * 2 ** 10 }, random);
  }

  private async attempt(
    call: OutboundCall,
    attempt: number,
    callStarted: number,
  ): Promise<OutboundAnswer | OutboundError> {
    const started = performance.now();
    const headers: Record<string, string> = { ...call.headers };
    if (call.idempotencyKey) headers['idempotency-key'] = call.idempotencyKey;
    const mask = (text: string) =>
      (call.secrets ?? []).reduce((t, s) => (s ? t.split(s).join('***') : t), text);
    const entry: RequestLogEntry = {
      channel: this.opts.channel,
      requestId: call.log.requestId,
      method: call.method,
      command: call.log.command,
      txnId: call.log.txnId ?? null,
      request: mask(call.log.request(attempt)),
    };
    let out: OutboundAnswer | OutboundError;
    try {
      const res = await this.client(call.path, {
        method: call.method,
        body: call.body,
        json: call.json,
        headers,
      });
      out = {
        status: res.statusCode,
        body: res.body,
        host: this.host,
        attempts: attempt,
        elapsedMs: performance.now() - callStarted,
      };
      this.opts.requestLog?.record({
        ...entry,
        httpStatus: out.status,
        ...(call.log.answer?.(out) ?? {}),
        response: mask(out.body).slice(0, this.opts.logResponseChars ?? 4000),
        durationMs: performance.now() - started,
      });
    } catch (e) {
      out = this.failure(e, attempt, callStarted);
      // The caller logs the call's failure once; each attempt is in the request log, and here at debug.
      log.debug('outbound attempt got no answer', { command: call.log.command, attempt, err: out });
      this.opts.requestLog?.record({
        ...entry,
        result: out.code,
        comment: `no answer: ${out.outbound.failure} (${out.outbound.code})`,
        durationMs: performance.now() - started,
      });
    }
    return out;
  }

  private failure(e: unknown, attempts: number, callStarted: number): OutboundError {
    const code = (e instanceof RequestError ? e.code : (e as { code?: string } | null)?.code) ?? 'ERR';
    const timedOut = code === 'ETIMEDOUT' || (e instanceof Error && e.name === 'TimeoutError');
    const failure: OutboundFailure = timedOut
      ? 'timeout'
      : NEVER_REACHED.has(code)
        ? 'refused'
        : 'connection';
    return new OutboundError(
      this.opts.upstream,
      { failure, host: this.host, code, elapsedMs: performance.now() - callStarted, attempts },
      e,
    );
  }
}
