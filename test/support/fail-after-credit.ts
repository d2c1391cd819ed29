import type { Gateway } from '../../src/wiring/wiring.js';

/**
 * Makes the database itself fail every credit to `account` after the payment row and the balance
 * are written: a trigger refuses the credit's ledger line, the last write of both ways a pay is
 * written (the one call and the general path), so the transaction must roll back whole. Returns
 * the switch off.
 */
export async function failCreditsAfterBalance(g: Gateway, account: string): Promise<() => Promise<void>> {
  const k = g.db.knex;
  const name = `gw_test_fail_${account.replace(/\W/g, '_')}`;
  if (g.db.dialect === 'mysql') {
    await k.raw(
      `CREATE TRIGGER \`${name}\` AFTER INSERT ON \`account_ledger\` FOR EACH ROW BEGIN ` +
        `IF NEW.\`account\` = ${k.raw('?', [account]).toQuery()} THEN ` +
        `SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure after the credit'; END IF; END`,
    );
  } else {
    await k.raw(
      `CREATE TRIGGER "${name}" AFTER INSERT ON "account_ledger" WHEN NEW."account" = ${k.raw('?', [account]).toQuery()} ` +
        `BEGIN SELECT RAISE(ABORT, 'injected failure after the credit'); END`,
    );
  }
  return async () => {
    await k.raw(
      g.db.dialect === 'mysql' ? `DROP TRIGGER IF EXISTS \`${name}\`` : `DROP TRIGGER IF EXISTS "${name}"`,
    );
  };
}
