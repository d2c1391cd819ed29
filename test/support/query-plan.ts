import type { Db } from '../../src/db/db.js';

export interface Captured {
  sql: string;
  bindings: unknown[];
}

/** The SELECTs `fn` sends to the database, as knex sends them (sql with ?, bindings). */
export async function captureSelects(db: Db, fn: () => Promise<unknown>): Promise<Captured[]> {
  const seen: Captured[] = [];
  const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
    if (/^\s*select/i.test(q.sql)) seen.push({ sql: q.sql, bindings: [...(q.bindings ?? [])] });
  };
  db.knex.on('query', onQuery);
  try {
    await fn();
  } finally {
    db.knex.off('query', onQuery);
  }
  return seen;
}

/** One table's access in a plan: the index it reads (PRIMARY for the primary key), null for a scan. */
export interface Access {
  table: string;
  index: string | null;
  sorts: boolean;
  detail: string;
}

/** The database's own plan of a statement: MySQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN. */
export async function planOf(db: Db, q: Captured): Promise<Access[]> {
  if (db.dialect === 'mysql') {
    const [rows] = (await db.knex.raw(`explain ${q.sql}`, q.bindings as never[])) as [
      { table: string; type: string; key: string | null; Extra: string | null }[],
    ];
    return rows.map((r) => ({
      table: r.table,
      // type ALL is a scan of the whole table whatever `key` says.
      index: r.type === 'ALL' ? null : r.key,
      sorts: /filesort|temporary/i.test(r.Extra ?? ''),
      detail: `type=${r.type} key=${r.key} extra=${r.Extra}`,
    }));
  }
  const rows = (await db.knex.raw(`explain query plan ${q.sql}`, q.bindings as never[])) as {
    detail: string;
  }[];
  const sorts = rows.some((r) => /USE TEMP B-TREE/.test(r.detail));
  return rows
    .filter((r) => /^(SCAN|SEARCH) /.test(r.detail))
    .map((r) => {
      const m =
        /^(SCAN|SEARCH) (\w+)(?: AS \w+)?(?: USING (?:COVERING )?INDEX (\w+)| USING INTEGER PRIMARY KEY)?/.exec(
          r.detail,
        );
      const table = m?.[2] ?? '?';
      // SQLite's SCAN of a table walks its rowid (= id) in order: an ordered read of the primary
      // key, which is what a first page of `ORDER BY id DESC LIMIT n` wants (it stops after n).
      const index = m?.[3] ?? (/INTEGER PRIMARY KEY/.test(r.detail) || m?.[1] === 'SCAN' ? 'PRIMARY' : null);
      return { table, index, sorts, detail: r.detail };
    });
}

export interface Expectation {
  /** Per table: the indexes this statement may read. */
  indexes: Record<string, string[]>;
  /** A sort is allowed (a narrow range read by its own index, then sorted). */
  sortAllowed?: boolean;
}

/** What is wrong with a statement's plan against what it should read; empty when nothing is. */
export async function planProblems(db: Db, q: Captured, want: Expectation): Promise<string[]> {
  const problems: string[] = [];
  for (const a of await planOf(db, q)) {
    const allowed = want.indexes[a.table];
    if (!allowed) continue; // a derived table or a table this expectation does not name
    if (!a.index || !allowed.includes(a.index))
      problems.push(
        `${a.table}: reads ${a.index ?? 'the whole table'}, wants ${allowed.join(' or ')} (${a.detail}) in: ${q.sql}`,
      );
    if (a.sorts && !want.sortAllowed) problems.push(`${a.table}: sorts (${a.detail}) in: ${q.sql}`);
  }
  return problems;
}
