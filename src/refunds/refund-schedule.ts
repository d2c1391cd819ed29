import { dbTime } from '../db/db.js';
import { backoff } from '../shared/backoff.js';
import type { Refund } from './refund-store.js';

const MAX_BACKOFF_MS = 3_600_000;

/**
 * The one backoff: REFUND_BACKOFF_MS after the first call, doubling with every call since, at most an
 * hour, with jitter (half of it), so refunds filed together are not polled in step.
 */
export function nextPollAt(refund: Refund, baseMs: number): string {
  const delay = backoff(refund.polls + 1, { baseMs, maxMs: MAX_BACKOFF_MS });
  return dbTime(new Date(Date.now() + delay));
}
