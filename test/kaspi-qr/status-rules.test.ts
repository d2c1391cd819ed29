import { describe, expect, it } from '@jest/globals';
import { KaspiQrApiError, KaspiQrTransportError } from '../../src/kaspi-qr/kaspi-qr-errors.js';
import { decide, MAX_BACKOFF_MS, pollIntervalS } from '../../src/kaspi-qr/kaspi-qr-status.js';
import type { Purchase } from '../../src/kaspi-qr/kaspi-qr-store.js';

const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const rules = { graceMs: 30_000, lateChecksMs: [120_000, 600_000] };

function purchase(p: Partial<Purchase> = {}): Purchase {
  return {
    paymentId: '1',
    kind: 'qr',
    qrPaymentId: '9007199254740993',
    payToken: 'a'.repeat(32),
    qrToken: '1'.repeat(41),
    paymentLink: null,
    expireDateRaw: null,
    expireAt: null,
    paymentMethods: [],
    pollIntervalS: 5,
    scanTimeoutS: 180,
    confirmTimeoutS: 65,
    createdAt: T0,
    scanDeadline: at(180),
    firstWaitAt: null,
    confirmDeadline: null,
    expiredAt: null,
    state: 'pending',
    kaspiStatus: 'QrTokenCreated',
    unknownStatusLogged: false,
    nextPollAt: at(5),
    backoffMs: 0,
    lateChecksDone: 0,
    polls: 0,
    phoneMasked: null,
    comment: null,
    lastError: null,
    flag: null,
    detailsDueAt: null,
    kaspiTotalAmount: null,
    updatedAt: T0,
    ...p,
  };
}

describe('the status rules (kaspi-qr-status.ts)', () => {
  it('when StatusPollingInterval is missing, zero or out of range, then 5 s, clamped to 1–60 s', () => {
    expect([null, 0, -3, 0.1, 3600, 7].map(pollIntervalS)).toEqual([5, 5, 5, 1, 60, 7]);
  });

  it('when still QrTokenCreated within scan deadline + grace, then the next poll is one interval later; past it, this reading was the last call: expired, late checks from now', () => {
    expect(decide(purchase(), { status: 'QrTokenCreated' }, at(200), rules).patch).toMatchObject({
      nextPollAt: at(205),
    });
    const d = decide(purchase(), { status: 'QrTokenCreated' }, at(211), rules);
    expect(d.patch).toMatchObject({ state: 'expired', expiredAt: at(211), nextPollAt: at(211 + 120) });
    expect(d.credit).toBe(false);
    expect(d.decline).toBeNull();
  });

  it('when late checks are used up, then polling stops and the payment stays awaiting (never declined by a deadline)', () => {
    const p = purchase({ state: 'expired', expiredAt: at(211), lateChecksDone: 1 });
    const d = decide(p, { status: 'QrTokenCreated' }, at(211 + 600), rules);
    expect(d.patch).toMatchObject({ lateChecksDone: 2, nextPollAt: null });
    expect(d.decline).toBeNull();
  });

  it('when Processed comes after expired, then paid, credited, logged at WARN', () => {
    const d = decide(
      purchase({ state: 'expired', expiredAt: at(211) }),
      { status: 'Processed' },
      at(400),
      rules,
    );
    expect(d).toMatchObject({ credit: true, patch: { state: 'paid', nextPollAt: null } });
    expect(d.log?.level).toBe('warn');
  });

  it('when paid already, then nothing Kaspi says moves it', () => {
    const d = decide(purchase({ state: 'paid' }), { status: 'Error' }, at(10), rules);
    expect(d).toMatchObject({ credit: false, decline: null, patch: { nextPollAt: null } });
  });

  it('when -1601 comes before the scan deadline, then it is retried; after it, unknown with late checks', () => {
    const nf = new KaspiQrApiError(-1601, 'not found', 'paymentStatus');
    expect(decide(purchase(), { error: nf }, at(10), rules).patch).toMatchObject({ nextPollAt: at(15) });
    expect(decide(purchase(), { error: nf }, at(215), rules).patch).toMatchObject({ state: 'unknown' });
  });

  it('when transport errors repeat, then the backoff doubles up to 30 s and the deadlines stay', () => {
    const e = new KaspiQrTransportError('timeout', 'maybe', 'no answer', 'paymentStatus');
    let p = purchase();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = decide(p, { error: e }, at(10), rules);
      waits.push((d.patch.nextPollAt as Date).getTime() - at(10).getTime());
      p = { ...p, backoffMs: d.patch.backoffMs as number };
      expect(d.patch.state).toBeUndefined();
      expect(d.patch.confirmDeadline).toBeUndefined();
    }
    expect(waits).toEqual([10_000, 20_000, MAX_BACKOFF_MS, MAX_BACKOFF_MS, MAX_BACKOFF_MS]);
  });

  it('when -10000 comes, then the engine pauses', () => {
    const d = decide(
      purchase(),
      { error: new KaspiQrApiError(-10000, 'no cert', 'paymentStatus') },
      at(10),
      rules,
    );
    expect(d.pause).toBe('auth_failed');
  });
});
