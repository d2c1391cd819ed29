import type { Command } from 'commander';
import { actors } from '../audit/audit-log.js';
import { AccountAdmin } from '../billing/account-admin.js';
import type { Account, Order } from '../billing/account-store.js';
import { AppError } from '../shared/errors.js';
import { formatTenge, parseTenge } from '../shared/money.js';
import { CliError, print, withContext } from './cli-context.js';

export const showAccount = (a: Account) => ({ ...a, balance: formatTenge(a.balance) });
export const showOrder = (o: Order) => ({
  ...o,
  amount: formatTenge(o.amount),
  paidAmount: formatTenge(o.paidAmount),
});

function tenge(value: string, what: string): number {
  const t = parseTenge(value);
  if (t === null) throw new CliError(`${what} must be tenge like 100.00, got "${value}"`);
  return t;
}

/** A refusal (exists, not found, bad input) as a plain CLI error. */
async function refused<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (e instanceof AppError && e.operational) throw new CliError(e.message);
    throw e;
  }
}

/** Embedded billing's accounts and orders, for operators and demos; every change in the audit log. */
export function registerAccountCommands(program: Command): void {
  const accounts = program.command('accounts').description('embedded billing accounts');
  accounts
    .command('add <account>')
    .description('create an account')
    .option('--name <name>', 'payer name shown (masked) on check', '')
    .option('--balance <tenge>', 'opening balance', '0.00')
    .action(
      withContext(async ({ db, stores }, account: string, opts: { name: string; balance: string }) => {
        if (account.length < 1 || account.length > 200)
          throw new CliError('account must be 1..200 characters');
        const added = await refused(
          new AccountAdmin(db, stores.accounts).addAccount(
            { account, name: opts.name, balance: tenge(opts.balance, '--balance') },
            actors.cli(),
          ),
        );
        print(showAccount(added));
      }),
    );
  accounts
    .command('show <account>')
    .description('show an account')
    .action(
      withContext(async ({ stores }, account: string) => {
        const a = await stores.accounts.getAccount(account);
        if (!a) throw new CliError(`account ${account} not found`);
        print(showAccount(a));
      }),
    );
  accounts
    .command('list')
    .description('list accounts')
    .option('--limit <n>', 'how many', '100')
    .option('--offset <n>', 'skip', '0')
    .action(
      withContext(async ({ stores }, opts: { limit: string; offset: string }) => {
        print(
          (
            await stores.accounts.listAccounts({ limit: Number(opts.limit), offset: Number(opts.offset) })
          ).map(showAccount),
        );
      }),
    );
  for (const [name, status] of [
    ['close', 'closed'],
    ['reopen', 'active'],
  ] as const) {
    accounts
      .command(`${name} <account>`)
      .description(
        name === 'close' ? 'close an account: check answers 1, pay is refused' : 'reopen a closed account',
      )
      .action(
        withContext(async ({ db, stores }, account: string) => {
          print(
            showAccount(
              await refused(
                new AccountAdmin(db, stores.accounts).setAccountStatus(account, status, actors.cli()),
              ),
            ),
          );
        }),
      );
  }

  const orders = program.command('orders').description('embedded billing orders (order mode)');
  orders
    .command('add <number>')
    .description('create an open order')
    .requiredOption('--amount <tenge>', 'amount due')
    .option('--account <account>', 'the account the order belongs to')
    .option('--description <text>', 'shown on check', '')
    .action(
      withContext(
        async (
          { db, stores },
          number: string,
          opts: { amount: string; account?: string; description: string },
        ) => {
          const amount = tenge(opts.amount, '--amount');
          if (amount <= 0) throw new CliError('--amount must be above zero');
          const added = await refused(
            new AccountAdmin(db, stores.accounts).addOrder(
              { number, amount, account: opts.account, description: opts.description },
              actors.cli(),
            ),
          );
          print(showOrder(added));
        },
      ),
    );
  orders
    .command('show <number>')
    .description('show an order')
    .action(
      withContext(async ({ stores }, number: string) => {
        const o = await stores.accounts.getOrder(number);
        if (!o) throw new CliError(`order ${number} not found`);
        print(showOrder(o));
      }),
    );
  orders
    .command('list')
    .description('list orders')
    .option('--limit <n>', 'how many', '100')
    .option('--offset <n>', 'skip', '0')
    .action(
      withContext(async ({ stores }, opts: { limit: string; offset: string }) => {
        print(
          (await stores.accounts.listOrders({ limit: Number(opts.limit), offset: Number(opts.offset) })).map(
            showOrder,
          ),
        );
      }),
    );
  orders
    .command('cancel <number>')
    .description('cancel an open order: check and pay answer 2')
    .action(
      withContext(async ({ db, stores }, number: string) => {
        print(
          showOrder(await refused(new AccountAdmin(db, stores.accounts).cancelOrder(number, actors.cli()))),
        );
      }),
    );
}
