import fs from 'node:fs';
import path from 'node:path';
import { createDb, type Db } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';

/** What a Galera cluster needs of the schema and the code (docs/galera.md), checked on every database. */
describe.each(dbKinds)('[%s] what Galera needs', (kind) => {
  let database: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = createDb(database.url);
    await migrateLatest(db);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  it('when migrated, then every table has a primary key (Galera replicates a table without one badly or not at all)', async () => {
    let without: string[];
    if (kind === 'mysql') {
      const [rows] = (await db.knex.raw(
        `select t.table_name as name from information_schema.tables t
          where t.table_schema = database() and t.table_type = 'BASE TABLE'
            and not exists (select 1 from information_schema.table_constraints c
              where c.table_schema = t.table_schema and c.table_name = t.table_name
                and c.constraint_type = 'PRIMARY KEY')`,
      )) as [{ name: string }[]];
      without = rows.map((r) => r.name);
      const [all] = (await db.knex.raw(
        `select count(*) as n from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE'`,
      )) as [{ n: number }[]];
      expect(Number(all[0]?.n)).toBeGreaterThan(10);
    } else {
      const tables = (await db.knex.raw(
        `select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`,
      )) as { name: string }[];
      without = [];
      for (const t of tables) {
        const cols = (await db.knex.raw(`pragma table_info(\`${t.name}\`)`)) as { pk: number }[];
        if (!cols.some((c) => c.pk > 0)) without.push(t.name);
      }
      expect(tables.length).toBeGreaterThan(10);
    }
    expect(without).toEqual([]);
  });
});

describe('no node-local lock', () => {
  const roots = ['src', 'db', 'chaos', 'bench'];
  const files = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory()
          ? files(path.join(dir, e.name))
          : e.name.endsWith('.ts')
            ? [path.join(dir, e.name)]
            : [],
      );

  it('when the code is read, then no GET_LOCK, LOCK TABLES or other lock that holds on one Galera node only', () => {
    const found: string[] = [];
    for (const f of roots.flatMap(files)) {
      const text = fs.readFileSync(f, 'utf8');
      for (const re of [
        /\bget_lock\s*\(/i,
        /\block\s+tables?\b/i,
        /\brelease_lock\s*\(/i,
        /\bis_free_lock\s*\(/i,
      ])
        if (re.test(text)) found.push(`${f}: ${re.source}`);
    }
    expect(found).toEqual([]);
  });
});
