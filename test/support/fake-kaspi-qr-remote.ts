import { LosslessNumber } from 'lossless-json';
import type { Answer, FakeKaspiQr, Recorded } from './fake-kaspi-qr.js';

/**
 * The remote invoice methods of the fake Kaspi QR server (r3, notes §2.9): remote/create makes a
 * purchase the payer then "pays" with `fake.setStatus(id, 'Processed')`; remote/cancel answers
 * RemotePaymentCanceled (or the purchase's final status when it is paid already);
 * remote/client-info answers `clientName` for any phone. Faults through `fake.fault()`.
 */
let nextRemoteId = 9_007_199_254_800_001n;

export interface FakeRemote {
  clientName: string;
}

export function installRemote(fake: FakeKaspiQr): FakeRemote {
  const state: FakeRemote = { clientName: 'Айгерим Н.' };
  const ok = (Data?: unknown): Answer => ({
    StatusCode: 0,
    Message: 'OK',
    ...(Data === undefined ? {} : { Data }),
  });
  fake.handle('remoteCreate', 'POST', '/remote/create', (r: Recorded) => {
    const b = r.json ?? {};
    const id = String(nextRemoteId++);
    const amount = b.Amount instanceof LosslessNumber ? b.Amount.value : String(b.Amount);
    fake.purchases.set(id, {
      id,
      kind: 'remote',
      amount,
      body: b,
      createdAt: Date.now(),
      timeline: [{ afterMs: 0, status: 'QrTokenCreated' }],
      forced: null,
    });
    return ok({ QrPaymentId: new LosslessNumber(id) });
  });
  fake.handle('remoteCancel', 'POST', '/remote/cancel', (r: Recorded) => {
    const v = r.json?.QrPaymentId;
    const id = v instanceof LosslessNumber ? v.value : String(v);
    if (!fake.purchases.has(id)) return { StatusCode: -99000001, Message: 'not found' };
    const now = fake.statusOf(id);
    if (now !== 'Processed' && now !== 'Error') fake.setStatus(id, 'RemotePaymentCanceled');
    return ok({ Status: fake.statusOf(id) });
  });
  fake.handle('clientInfo', 'GET', '/remote/client-info', () => ok({ ClientName: state.clientName }));
  return state;
}
