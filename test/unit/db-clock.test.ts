import { dbNow } from '../../src/db/db-clock.js';
import { createDb, fromDbTime, type Db } from '../../src/db/db.js';

describe('dbNow on SQLite', () => {
  let db: Db;
  beforeAll(() => {
    db = createDb('sqlite::memory:');
  });
  afterAll(async () => {
    await db.knex.destroy();
  });

  it('when shifted, then the modifier is written from the integer milliseconds digit for digit', () => {
    const cases: Array<[number, string]> = [
      [1, '+0.001 seconds'],
      [-1, '-0.001 seconds'],
      [1500, '+1.500 seconds'],
      [-60_070, '-60.070 seconds'],
      [90 * 86_400_000 + 7, '+7776000.007 seconds'],
    ];
    for (const [ms, text] of cases) {
      expect(dbNow(db, ms).toSQL().bindings).toEqual([text]);
    }
  });

  it('when shifted by an hour, then the database reads an hour later', async () => {
    const row = (await db.knex.select({ now: dbNow(db), later: dbNow(db, 3_600_000) }).first()) as {
      now: string;
      later: string;
    };
    const diff = fromDbTime(row.later)!.getTime() - fromDbTime(row.now)!.getTime();
    expect(diff).toBeGreaterThanOrEqual(3_600_000);
    expect(diff).toBeLessThan(3_601_000);
  });
});
