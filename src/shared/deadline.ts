/** What raceDeadline returns when the budget ran out first. */
export const TIMED_OUT = Symbol('deadline');

/** Milliseconds since `startedAt` (process.hrtime.bigint()), 0 when not given. */
export function elapsedMs(startedAt?: bigint): number {
  return startedAt === undefined ? 0 : Number(process.hrtime.bigint() - startedAt) / 1e6;
}

/**
 * The work's result, or TIMED_OUT when `budgetMs` (counted from `startedAt`, else from now) comes
 * first. The work is not cancelled: the caller decides what happens to it (finish it in the
 * background, or silence its late failure). The one deadline helper of the pay path.
 */
export async function raceDeadline<T>(
  work: Promise<T>,
  budgetMs: number,
  startedAt?: bigint,
): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, budgetMs - elapsedMs(startedAt)));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
