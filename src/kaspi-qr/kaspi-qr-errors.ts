import { AppError, UpstreamError } from '../shared/errors.js';
import type { KaspiErrorKind } from './kaspi-qr-codes.js';
import { meaningOf } from './kaspi-qr-codes.js';

/** Kaspi answered with a non-zero StatusCode: its code and message, and what they mean to us. */
export class KaspiQrApiError extends UpstreamError {
  readonly kind: KaspiErrorKind;
  readonly retryable: boolean;
  constructor(
    readonly kaspiCode: number,
    readonly kaspiMessage: string,
    readonly method: string,
  ) {
    const m = meaningOf(kaspiCode);
    super(m.kind, `Kaspi QR ${method}: ${kaspiCode} ${kaspiMessage || m.meaning}`, m.retryable, {
      httpStatus: m.kind === 'kaspi_unavailable' ? 503 : 502,
      details: { kaspiCode, kaspiMessage, method },
    });
    this.kind = m.kind;
    this.retryable = m.retryable;
  }
}

/**
 * No usable answer: refused, TLS failed, timeout, reset, HTTP 5xx, not JSON. `sent` says whether
 * the request may have reached Kaspi: 'no' only when it provably never left (connection refused,
 * TLS handshake not finished); else the outcome of a POST is unknown.
 */
export class KaspiQrTransportError extends UpstreamError {
  constructor(
    readonly reason: 'refused' | 'tls' | 'timeout' | 'reset' | 'http' | 'garbage' | 'network',
    readonly sent: 'no' | 'maybe',
    message: string,
    readonly method: string,
  ) {
    super(
      reason === 'tls' ? 'kaspi_tls_failed' : 'kaspi_unreachable',
      `Kaspi QR ${method}: ${message}`,
      true,
      { details: { reason, sent, method } },
    );
  }
}

/** A call the configured scheme lacks: refused before any network call. */
export class NotSupportedBySchemeError extends AppError {
  constructor(method: string, scheme: string, instead: string) {
    super(
      'not_supported_by_scheme',
      `${method} is not available with Kaspi QR scheme ${scheme}: ${instead}`,
      {
        httpStatus: 409,
        details: { method, scheme },
      },
    );
  }
}

/** Kaspi QR is off, or not usable now (no device, TLS refused). */
export class KaspiQrUnavailableError extends UpstreamError {
  constructor(code: string, message: string) {
    super(code, message, true, { httpStatus: 502 });
  }
}
