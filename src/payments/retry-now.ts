import { transactionWithRetry } from '../db/commit-retry.js';
import { audit, type Actor } from '../audit/audit-log.js';
import { dbNow } from '../db/db-clock.js';
import type { Db } from '../db/db.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import { formatTenge } from '../shared/money.js';
import type { PaymentService, PayOutcome } from './payment-service.js';
import type { PaymentStore } from './payment-store.js';

const log = getLogger('payments');

export interface RetryNowDeps {
  db: Db;
  store: PaymentStore;
  service: PaymentService;
}

/**
 * A person's "Retry credit now" for a pending credit: the payment is made due now, with its audit
 * entry, in one transaction; then it goes down the retry job's own path (`retryCredit`), whose
 * conditional claim on the attempt count keeps it from racing the job or another click. Null when
 * someone else (the job) took it first: it is being retried anyway.
 */
export async function retryCreditNow(
  deps: RetryNowDeps,
  paymentId: string,
  actor: Actor,
): Promise<PayOutcome | null> {
  const p = await deps.store.findById(paymentId);
  if (!p) throw new NotFoundError('payment');
  if (p.state !== 'pending')
    throw new ConflictError(`payment ${p.txnId} is ${p.state}: only a pending credit is retried`);
  const moved = await transactionWithRetry(deps.db, 'retry credit now', async (trx) => {
    const ok = await deps.store.transition(
      trx,
      p.id,
      ['pending'],
      { state: 'pending', nextAttemptAt: dbNow(deps.db) },
      { attempts: p.attempts },
    );
    if (!ok) return false;
    await audit.record(trx, {
      actor,
      action: 'credit.retried',
      target: { type: 'payment', id: p.id },
      details: { txnId: p.txnId, source: p.source, amount: formatTenge(p.amount), attempts: p.attempts },
    });
    return true;
  });
  if (!moved) throw new ConflictError(`payment ${p.txnId} moved on meanwhile: look again`);
  log.info('credit retry asked by a person', { paymentId: p.id, txnId: p.txnId, by: actor.id });
  return deps.service.retryCredit({ id: p.id, attempts: p.attempts });
}
