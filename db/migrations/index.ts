import type { Knex } from 'knex';
import * as m20261123170000 from './20261123170000_accounts_orders.js';
import * as m20261123170100 from './20261123170100_payments.js';
import * as m20261123170200 from './20261123170200_request_log.js';
import * as m20261123180000 from './20261123180000_payments_jetpay.js';
import * as m20261124090000 from './20261124090000_job_leases.js';
import * as m20261124100000 from './20261124100000_refunds.js';
import * as m20261125090000 from './20261125090000_pay_accounts_procedure.js';
import * as m20261201130000 from './20261201130000_kaspi_qr.js';
import * as m20261201160000 from './20261201160000_audit_log.js';
import * as m20261201160100 from './20261201160100_console_users.js';
import * as m20261201160200 from './20261201160200_console_sessions.js';
import * as m20261201180000 from './20261201180000_list_indexes.js';
import * as m20261202100000 from './20261202100000_payments_refund_version.js';
import * as m20261202110000 from './20261202110000_kaspi_qr_attempts.js';
import * as m20261202120000 from './20261202120000_kaspi_qr_returns.js';
import * as m20261202120100 from './20261202120100_kaspi_qr_remote.js';
import * as m20261202130000 from './20261202130000_reconcile.js';
import * as m20261203110000 from './20261203110000_kaspi_qr_paid_check.js';
import * as m20261203120000 from './20261203120000_reconcile_run_claim.js';
import * as m20261203120100 from './20261203120100_reconcile_indexes.js';
import * as m20261203120200 from './20261203120200_refunds_origin.js';
import * as m20261203120300 from './20261203120300_reconcile_notices.js';
import * as m20261204100000 from './20261204100000_payments_received_id_idx.js';
import * as m20261204130000 from './20261204130000_payments_flagged_index.js';

export interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Every migration, in order. Listed here (not discovered on disk) so the same list runs under
 * tsx, jest and the compiled dist alike. Add a new file and one line below.
 */
export const migrations: Record<string, Migration> = {
  '20261123170000_accounts_orders': m20261123170000,
  '20261123170100_payments': m20261123170100,
  '20261123170200_request_log': m20261123170200,
  '20261123180000_payments_jetpay': m20261123180000,
  '20261124090000_job_leases': m20261124090000,
  '20261124100000_refunds': m20261124100000,
  '20261125090000_pay_accounts_procedure': m20261125090000,
  '20261201130000_kaspi_qr': m20261201130000,
  '20261201160000_audit_log': m20261201160000,
  '20261201160100_console_users': m20261201160100,
  '20261201160200_console_sessions': m20261201160200,
  '20261201180000_list_indexes': m20261201180000,
  '20261202100000_payments_refund_version': m20261202100000,
  '20261202110000_kaspi_qr_attempts': m20261202110000,
  '20261202120000_kaspi_qr_returns': m20261202120000,
  '20261202120100_kaspi_qr_remote': m20261202120100,
  '20261202130000_reconcile': m20261202130000,
  '20261203110000_kaspi_qr_paid_check': m20261203110000,
  '20261203120000_reconcile_run_claim': m20261203120000,
  '20261203120100_reconcile_indexes': m20261203120100,
  '20261203120200_refunds_origin': m20261203120200,
  '20261203120300_reconcile_notices': m20261203120300,
  '20261204100000_payments_received_id_idx': m20261204100000,
  '20261204130000_payments_flagged_index': m20261204130000,
};
