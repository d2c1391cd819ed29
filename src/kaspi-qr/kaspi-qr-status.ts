import { KaspiQrApiError, KaspiQrTransportError } from './kaspi-qr-errors.js';
import type { Purchase, PurchasePatch, QrState } from './kaspi-qr-store.js';

/**
 * What one status reading (or a failed one) does to a purchase: the state it moves to, the next
 * poll, whether the payment is credited or declined, what is logged. Pure (no I/O, the clock is an
 * argument), so every rule of shared/spec/kaspi-qr.md "The status engine" is tested here and the
 * engine (kaspi-qr-engine.ts) only carries it out. Remote invoices and return sessions (next issue)
 * add their kinds here: a remote invoice gets no timer poll (`nextPollAt` null), only events.
 *
 * Rules:
 * - Kaspi's status → our state: QrTokenCreated pending, Wait scanned, Processed paid, Error failed,
 *   RemotePaymentCanceled cancelled; any other string is stored raw, logged at ERROR once, not final.
 * - States only move forward; `paid` and `failed` are final; `expired`/`unknown` can still become
 *   `paid` (a late Processed, logged at WARN) or `failed`.
 * - Deadlines by our clock: scan = creation + QrCodeScanWaitTimeout (links: LinkActivationWaitTimeout);
 *   confirm = first Wait seen + PaymentConfirmationTimeout. A purchase is `expired` only by a reading
 *   taken after deadline + grace: that reading is the last call. Then the late checks.
 * - Each purchase is polled at its own StatusPollingInterval (clamped 1–60 s), never faster.
 * - -999, 5xx, transport errors: back off ×2 up to 30 s, deadlines unchanged. -1601 right after the
 *   create: retried until the scan deadline, then `unknown` with the late checks. -10000: the engine
 *   pauses (auth_failed).
 */

export interface StatusRules {
  /** After deadline + grace a reading is the last call. */
  graceMs: number;
  /** Re-checks after the expiry, as offsets from it (KASPI_QR_LATE_CHECKS). */
  lateChecksMs: readonly number[];
}

export type Reading = { status: string } | { error: unknown };

export interface Decision {
  patch: PurchasePatch;
  /** Processed: credit the payment (creditStored from awaiting_payment) before the patch is saved. */
  credit: boolean;
  /** Error: decline the payment (nothing was credited) with this comment. */
  decline: string | null;
  /** -10000: the engine pauses until Kaspi accepts us again. */
  pause: 'auth_failed' | null;
  log: { level: 'info' | 'warn' | 'error'; message: string; fields: Record<string, unknown> } | null;
}

export const MAX_BACKOFF_MS = 30_000;

/** StatusPollingInterval as we use it: missing or ≤ 0 → 5 s; clamped to 1–60 s. */
export function pollIntervalS(v: number | null | undefined): number {
  if (v === null || v === undefined || !Number.isFinite(v) || v <= 0) return 5;
  return Math.min(60, Math.max(1, Math.round(v)));
}

export function stateOf(kaspiStatus: string): QrState | null {
  switch (kaspiStatus) {
    case 'QrTokenCreated':
      return 'pending';
    case 'Wait':
      return 'scanned';
    case 'Processed':
      return 'paid';
    case 'Error':
      return 'failed';
    case 'RemotePaymentCanceled':
      return 'cancelled';
    default:
      return null;
  }
}

export const FINAL: readonly QrState[] = ['paid', 'failed', 'cancelled'];

/** The deadline a purchase waits on now: the confirm deadline once Wait was seen, else the scan one. */
export function currentDeadline(p: Pick<Purchase, 'scanDeadline' | 'confirmDeadline'>): Date {
  return p.confirmDeadline ?? p.scanDeadline;
}

const at = (now: Date, ms: number) => new Date(now.getTime() + ms);

function nothing(patch: PurchasePatch, log: Decision['log'] = null): Decision {
  return { patch, credit: false, decline: null, pause: null, log };
}

/** After the expiry (or unknown): the next late check, or none when they are used up. */
function lateSchedule(p: Purchase, expiredAt: Date, rules: StatusRules, done: number): PurchasePatch {
  const next = rules.lateChecksMs[done];
  return {
    lateChecksDone: done,
    nextPollAt: next === undefined ? null : new Date(expiredAt.getTime() + next),
  };
}

export function decide(p: Purchase, reading: Reading, now: Date, rules: StatusRules): Decision {
  if (FINAL.includes(p.state)) return nothing({ nextPollAt: null });
  const intervalMs = pollIntervalS(p.pollIntervalS) * 1000;
  const ids = { paymentId: p.paymentId, qrPaymentId: p.qrPaymentId };
  const closed = p.state === 'expired' || p.state === 'unknown';

  if ('error' in reading) return onError(p, reading.error, now, rules, intervalMs, ids, closed);

  const status = reading.status;
  const mapped = stateOf(status);
  const base: PurchasePatch = { kaspiStatus: status, backoffMs: 0, lastError: null };

  if (mapped === 'paid') {
    return {
      patch: { ...base, state: 'paid', nextPollAt: null },
      credit: true,
      decline: null,
      pause: null,
      log: closed
        ? {
            level: 'warn',
            message: 'kaspi qr: paid after we had closed it (late Processed): credited',
            fields: { ...ids, was: p.state },
          }
        : { level: 'info', message: 'kaspi qr: paid', fields: ids },
    };
  }
  if (mapped === 'failed' || mapped === 'cancelled') {
    return {
      patch: { ...base, state: mapped, nextPollAt: null },
      credit: false,
      decline: mapped === 'failed' ? 'Kaspi QR: Error' : 'Kaspi QR: cancelled',
      pause: null,
      log: { level: 'info', message: `kaspi qr: ${mapped}`, fields: { ...ids, status } },
    };
  }

  let log: Decision['log'] = null;
  const patch: PurchasePatch = { ...base };
  if (mapped === null && !p.unknownStatusLogged) {
    // Not final: the purchase stays open; a person learns of the new status string once.
    patch.unknownStatusLogged = true;
    log = {
      level: 'error',
      message: 'kaspi qr: unknown status from Kaspi: kept open, not treated as final',
      fields: { ...ids, status },
    };
  }

  if (closed) {
    // A late check that found it still not final: the next one, if any.
    return nothing({ ...patch, ...lateSchedule(p, p.expiredAt ?? now, rules, p.lateChecksDone + 1) }, log);
  }

  let confirmDeadline = p.confirmDeadline;
  if (mapped === 'scanned') {
    patch.state = 'scanned';
    if (!p.firstWaitAt) {
      // Measured from the moment we first see Wait, never from the creation.
      patch.firstWaitAt = now;
      confirmDeadline = at(now, p.confirmTimeoutS * 1000);
      patch.confirmDeadline = confirmDeadline;
    }
  }
  const deadline = confirmDeadline ?? p.scanDeadline;
  if (now.getTime() >= deadline.getTime() + rules.graceMs) {
    // This reading, taken past deadline + grace, was the last call.
    const state: QrState = mapped === null ? 'unknown' : 'expired';
    return nothing(
      { ...patch, state, expiredAt: now, ...lateSchedule(p, now, rules, 0) },
      log ?? {
        level: 'info',
        message: `kaspi qr: ${state} (deadline passed, last status call made)`,
        fields: { ...ids, status, deadline: deadline.toISOString() },
      },
    );
  }
  return nothing({ ...patch, nextPollAt: at(now, intervalMs) }, log);
}

function onError(
  p: Purchase,
  e: unknown,
  now: Date,
  rules: StatusRules,
  intervalMs: number,
  ids: Record<string, string>,
  closed: boolean,
): Decision {
  const text = e instanceof Error ? e.message : String(e);
  if (e instanceof KaspiQrApiError && e.kaspiCode === -1601) {
    if (!closed && now.getTime() < p.scanDeadline.getTime() + rules.graceMs)
      return nothing({ lastError: text, nextPollAt: at(now, intervalMs) });
    if (closed)
      return nothing({
        lastError: text,
        ...lateSchedule(p, p.expiredAt ?? now, rules, p.lateChecksDone + 1),
      });
    return nothing(
      { lastError: text, state: 'unknown', expiredAt: now, ...lateSchedule(p, now, rules, 0) },
      {
        level: 'error',
        message: 'kaspi qr: Kaspi does not know this purchase past its scan deadline: unknown',
        fields: ids,
      },
    );
  }
  if (e instanceof KaspiQrApiError && e.kind === 'auth_config') {
    return {
      patch: { lastError: text, nextPollAt: at(now, intervalMs) },
      credit: false,
      decline: null,
      pause: 'auth_failed',
      log: null,
    };
  }
  const backoffMs = Math.min(MAX_BACKOFF_MS, (p.backoffMs || intervalMs) * 2);
  const transient =
    e instanceof KaspiQrTransportError || (e instanceof KaspiQrApiError && e.kaspiCode === -999);
  return nothing(
    { lastError: text, backoffMs, nextPollAt: at(now, backoffMs) },
    p.backoffMs === 0
      ? {
          level: transient ? 'warn' : 'error',
          message: transient
            ? 'kaspi qr: status not read; backing off (deadlines unchanged)'
            : 'kaspi qr: Kaspi refused the status call; backing off',
          fields: { ...ids, err: text },
        }
      : null,
  );
}
