import type { Knex } from 'knex';

/**
 * A deadlock (1213, SQLSTATE 40001) forced on plain MariaDB, as a Galera node answers a
 * transaction that lost certification: a BEFORE trigger on a table signals it on the next `times`
 * writes of that table, then lets writes through. The count lives in a MEMORY table, which a
 * rollback does not undo, so "once" stays once although the transaction that met it is rolled back
 * whole. The error goes through every layer as the server's own (mysql2 code ER_LOCK_DEADLOCK),
 * inside the stored procedure too (its EXIT handler rolls back and RESIGNALs).
 */
export class ForcedConflict {
  private readonly triggers = new Set<string>();

  constructor(private readonly knex: Knex) {}

  /** The next `times` INSERTs (or UPDATEs) on `table` fail with 1213. */
  async arm(table: string, event: 'insert' | 'update', times = 1): Promise<void> {
    if (!/^\w+$/.test(table)) throw new Error(`bad table name ${table}`);
    await this.knex.raw(
      'create table if not exists `forced_conflicts` (`name` varchar(100) not null primary key, `remaining` int not null) engine=memory',
    );
    const name = `forced_${table}_${event}`;
    await this.knex.raw(
      'insert into `forced_conflicts` (`name`, `remaining`) values (?, ?) on duplicate key update `remaining` = values(`remaining`)',
      [name, times],
    );
    if (this.triggers.has(name)) return;
    await this.knex.raw(`drop trigger if exists \`${name}\``);
    await this.knex.raw(
      `create trigger \`${name}\` before ${event} on \`${table}\` for each row
       begin
         if (select \`remaining\` from \`forced_conflicts\` where \`name\` = '${name}') > 0 then
           update \`forced_conflicts\` set \`remaining\` = \`remaining\` - 1 where \`name\` = '${name}';
           signal sqlstate '40001' set message_text = 'Deadlock found when trying to get lock; try restarting transaction (forced)', mysql_errno = 1213;
         end if;
       end`,
    );
    this.triggers.add(name);
  }

  /** How many of the armed failures are still to come on `table`. */
  async remaining(table: string, event: 'insert' | 'update'): Promise<number> {
    const [rows] = (await this.knex.raw('select `remaining` from `forced_conflicts` where `name` = ?', [
      `forced_${table}_${event}`,
    ])) as [{ remaining: number }[]];
    return Number(rows[0]?.remaining ?? 0);
  }

  /** Triggers and the count dropped: the schema as the migrations left it. */
  async clear(): Promise<void> {
    for (const t of this.triggers) await this.knex.raw(`drop trigger if exists \`${t}\``);
    this.triggers.clear();
    await this.knex.raw('drop table if exists `forced_conflicts`');
  }
}
