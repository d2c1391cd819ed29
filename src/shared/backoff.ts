export interface BackoffOptions {
  /** The first delay (attempt 1), in ms. */
  baseMs: number;
  /** No delay above this. */
  maxMs: number;
}

/**
 * The one backoff: exponential from `baseMs` (attempt 1 → baseMs, 2 → 2×, ...), capped at `maxMs`,
 * with equal jitter (half fixed, half random), so a crowd that failed together spreads out when it
 * comes back. `random` is there for tests.
 */
export function backoff(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(Math.max(0, attempt - 1), 40);
  const d = Math.min(opts.maxMs, opts.baseMs * 2 ** exp);
  return Math.round(d / 2 + (d / 2) * random());
}

/** Waits `ms`; a sleep between attempts. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
