import type { Knex } from 'knex';

/**
 * MySQL: the common pay (a payment for an active account of the embedded billing) in one call,
 * for one pay or several at once (decision 009). Each pay is written as on the general path of
 * src/payments/payment-service.ts, under the same unique keys: the payment (already credited: its
 * outcome is decided inside this transaction, and an update of the row after the credit measured
 * ~90 µs of server CPU per pay), the balance, the ledger line. The procedure saves the round trips
 * between the statements, and a batch shares one commit (one log flush) among its pays.
 *
 * p_items is a JSON array of {source, txn, account, amount (a string of digits), raw, date, extra},
 * sorted by account by the caller, so concurrent batches lock accounts in the same order. The
 * account row is locked first; then, per pay, one outcome in the answer's comma list:
 * - the payment's id: recorded and credited;
 * - N: no active account of that name, nothing written (the caller goes the general way: orders);
 * - D: the txn_id is stored already (by an earlier call or earlier in this batch): nothing written;
 * - L: with p_nowait, the account row is locked by another transaction: nothing written, and the
 *   caller sends this pay again alone, waiting for the lock as usual; so one account held by a long
 *   transaction (a person's SQL session) holds up its own pays, not the batch they came with.
 * Anything else (a deadlock, bad data) rolls the whole batch back and is raised unchanged; the
 * caller then sends each pay alone. SQLite has no procedures; it runs the same statements in
 * process (src/billing/one-call-credit.ts).
 *
 * Safe to re-run: dropped and created again. A later change to it is a new migration.
 */
export const PROCEDURE = 'gw_pay_accounts';

const create = (accountType: string) => `
CREATE PROCEDURE \`${PROCEDURE}\`(
  IN p_items LONGTEXT,
  IN p_comment VARCHAR(255),
  IN p_billing_ref VARCHAR(100),
  IN p_now DATETIME(3),
  IN p_nowait TINYINT
)
MODIFIES SQL DATA
BEGIN
  DECLARE v_n INT DEFAULT JSON_LENGTH(p_items);
  DECLARE v_i INT DEFAULT 0;
  DECLARE v_item LONGTEXT;
  DECLARE v_account ${accountType};
  DECLARE v_amount BIGINT;
  DECLARE v_found INT;
  DECLARE v_dup INT;
  DECLARE v_locked INT;
  DECLARE v_lock_wait BIGINT DEFAULT @@SESSION.innodb_lock_wait_timeout;
  DECLARE v_payment BIGINT UNSIGNED;
  DECLARE v_out LONGTEXT DEFAULT '';
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    SET SESSION innodb_lock_wait_timeout = v_lock_wait;
    RESIGNAL;
  END;

  START TRANSACTION;
  WHILE v_i < v_n DO
    SET v_item = JSON_EXTRACT(p_items, CONCAT('$[', v_i, ']'));
    SET v_account = JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.account'));
    SET v_amount = CAST(JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.amount')) AS SIGNED);
    SET v_found = NULL;
    SET v_locked = 0;
    IF p_nowait = 1 THEN
      -- A batch does not wait for a row lock someone else holds (MariaDB: 0 = no wait; MySQL's
      -- least is 1 s): that pay steps out as L and goes alone. NOWAIT itself is refused inside procedures.
      SET SESSION innodb_lock_wait_timeout = 0;
      BEGIN
        DECLARE CONTINUE HANDLER FOR 1205 SET v_locked = 1;
        SELECT 1 INTO v_found FROM \`accounts\` WHERE \`account\` = v_account AND \`status\` = 'active' FOR UPDATE;
      END;
      SET SESSION innodb_lock_wait_timeout = v_lock_wait;
    ELSE
      SELECT 1 INTO v_found FROM \`accounts\` WHERE \`account\` = v_account AND \`status\` = 'active' FOR UPDATE;
    END IF;
    IF v_locked = 1 THEN
      SET v_out = CONCAT(v_out, 'L,');
    ELSEIF v_found IS NULL THEN
      SET v_out = CONCAT(v_out, 'N,');
    ELSE
      SET v_dup = 0;
      BEGIN
        -- Only this insert may meet a duplicate key (payments' unique (source, txn_id)); any other
        -- duplicate is an error and rolls the batch back.
        DECLARE CONTINUE HANDLER FOR 1062 SET v_dup = 1;
        INSERT INTO \`payments\` (\`source\`, \`txn_id\`, \`account\`, \`amount\`, \`txn_date_raw\`, \`txn_date\`,
            \`state\`, \`result\`, \`comment\`, \`extra\`, \`billing_ref\`, \`attempts\`, \`next_attempt_at\`,
            \`received_at\`, \`updated_at\`, \`credited_at\`)
          VALUES (JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.source')), JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.txn')),
            v_account, v_amount, JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.raw')), JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.date')),
            'credited', 0, p_comment, JSON_UNQUOTE(JSON_EXTRACT(v_item, '$.extra')), p_billing_ref, 0, NULL,
            p_now, p_now, p_now);
      END;
      IF v_dup = 1 THEN
        SET v_out = CONCAT(v_out, 'D,');
      ELSE
        SET v_payment = LAST_INSERT_ID();
        UPDATE \`accounts\` SET \`balance\` = \`balance\` + v_amount, \`updated_at\` = p_now
          WHERE \`account\` = v_account AND \`status\` = 'active';
        INSERT INTO \`account_ledger\` (\`payment_id\`, \`kind\`, \`ref\`, \`account\`, \`order_number\`, \`amount\`, \`created_at\`)
          VALUES (v_payment, 'credit', '', v_account, NULL, v_amount, p_now);
        SET v_out = CONCAT(v_out, v_payment, ',');
      END IF;
    END IF;
    SET v_i = v_i + 1;
  END WHILE;
  COMMIT;
  SELECT v_out AS \`outcomes\`;
END`;

/**
 * A variable takes the database's default collation, a column the one it was created with, and
 * MySQL refuses to compare the two when they differ ("illegal mix of collations"). The account is
 * compared with accounts.account, so the variable is declared exactly like that column.
 */
async function accountColumnType(knex: Knex): Promise<string> {
  const r = (await knex.raw(
    'SELECT `CHARACTER_SET_NAME` AS cs, `COLLATION_NAME` AS co FROM `information_schema`.`COLUMNS` ' +
      "WHERE `TABLE_SCHEMA` = DATABASE() AND `TABLE_NAME` = 'accounts' AND `COLUMN_NAME` = 'account'",
  )) as [{ cs: string; co: string }[]];
  const col = r[0][0];
  if (!col || !/^\w+$/.test(col.cs) || !/^\w+$/.test(col.co))
    throw new Error('accounts.account: character set and collation not found');
  return `VARCHAR(200) CHARACTER SET ${col.cs} COLLATE ${col.co}`;
}

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'mysql2') return;
  await knex.raw(`DROP PROCEDURE IF EXISTS \`${PROCEDURE}\``);
  await knex.raw(create(await accountColumnType(knex)));
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'mysql2') return;
  await knex.raw(`DROP PROCEDURE IF EXISTS \`${PROCEDURE}\``);
}
