import { audit, type Actor } from '../audit/audit-log.js';
import { isUniqueViolation, type Db } from '../db/db.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { Account, AccountStore, Order } from './account-store.js';

// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const PRINTABLE = /^[^\x00-\x1f\x7f]{1,200}$/u;

/**
 * The embedded billing's accounts and orders as people change them (admin API, CLI, console): the
 * rules once, and each change written with its audit entry in one transaction.
 */
export class AccountAdmin {
  constructor(
    private readonly db: Db,
    private readonly store: AccountStore,
  ) {}

  async addAccount(a: { account: string; name?: string; balance?: Tiyn }, actor: Actor): Promise<Account> {
    if (typeof a.account !== 'string' || !PRINTABLE.test(a.account))
      throw new ValidationError('account must be a string of 1 to 200 printable characters');
    if (a.name !== undefined && (typeof a.name !== 'string' || a.name.length > 200))
      throw new ValidationError('name must be a string of at most 200 characters');
    if (a.balance !== undefined && (!Number.isSafeInteger(a.balance) || a.balance < 0))
      throw new ValidationError('balance must be 0.00 or more');
    try {
      return await this.db.knex.transaction(async (trx) => {
        const created = await this.store.addAccount(a, trx);
        await audit.record(trx, {
          actor,
          action: 'account.added',
          target: { type: 'account', id: created.account },
          details: { name: created.name, balance: formatTenge(created.balance) },
        });
        return created;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError(`account ${a.account} already exists`);
      throw e;
    }
  }

  async setAccountStatus(account: string, status: 'active' | 'closed', actor: Actor): Promise<Account> {
    return this.db.knex.transaction(async (trx) => {
      const before = await this.store.getAccount(account, trx);
      if (!before) throw new NotFoundError('account', `account ${account} not found`);
      await this.store.setAccountStatus(account, status, trx);
      await audit.record(trx, {
        actor,
        action: status === 'closed' ? 'account.closed' : 'account.reopened',
        target: { type: 'account', id: account },
        details: { before: before.status, after: status },
      });
      return (await this.store.getAccount(account, trx)) as Account;
    });
  }

  async addOrder(
    o: { number: string; amount: Tiyn; account?: string | null; description?: string },
    actor: Actor,
  ): Promise<Order> {
    if (typeof o.number !== 'string' || !PRINTABLE.test(o.number))
      throw new ValidationError('order number must be 1 to 200 printable characters');
    if (!Number.isSafeInteger(o.amount) || o.amount <= 0)
      throw new ValidationError('amount must be above 0.00');
    try {
      return await this.db.knex.transaction(async (trx) => {
        const created = await this.store.addOrder(o, trx);
        await audit.record(trx, {
          actor,
          action: 'order.added',
          target: { type: 'order', id: created.number },
          details: { amount: formatTenge(created.amount), account: created.account },
        });
        return created;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError(`order ${o.number} already exists`);
      throw e;
    }
  }

  async cancelOrder(number: string, actor: Actor): Promise<Order> {
    return this.db.knex.transaction(async (trx) => {
      if (!(await this.store.cancelOrder(number, trx)))
        throw new NotFoundError('order', `order ${number} not found or not open`);
      await audit.record(trx, { actor, action: 'order.closed', target: { type: 'order', id: number } });
      return (await this.store.getOrder(number, trx)) as Order;
    });
  }
}
