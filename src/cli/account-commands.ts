import type { Command } from 'commander';
import type { Account, Order } from '../billing/account-store.js';
import { isUniqueViolation } from '../db/db.js';
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

/** Embedded billing's accounts and orders, for operators and demos. */
export function registerAccountCommands(program: Command): void {
  const accounts = program.command('accounts').description('embedded billing accounts');
  accounts
    .command('add <account>')
    .description('create an account')
    .option('--name <name>', 'payer name shown (masked) on check', '')
    .option('--balance <tenge>', 'opening balance', '0.00')
    .action(
      withContext(async ({ stores }, account: string, opts: { name: string; balance: string }) => {
        if (account.length < 1 || account.length > 200)
          throw new CliError('account must be 1..200 characters');
        try {
          print(
            showAccount(
              await stores.accounts.addAccount({
                account,
                name: opts.name,
                balance: tenge(opts.balance, '--balance'),
              }),
            ),
          );
        } catch (e) {
          if (isUniqueViolation(e)) throw new CliError(`account ${account} already exists`);
          throw e;
        }
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
        withContext(async ({ stores }, account: string) => {
          if (!(await stores.accounts.setAccountStatus(account, status)))
            throw new CliError(`account ${account} not found`);
          print(showAccount((await stores.accounts.getAccount(account)) as Account));
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
          { stores },
          number: string,
          opts: { amount: string; account?: string; description: string },
        ) => {
          const amount = tenge(opts.amount, '--amount');
          if (amount <= 0) throw new CliError('--amount must be above zero');
          try {
            print(
              showOrder(
                await stores.accounts.addOrder({
                  number,
                  amount,
                  account: opts.account,
                  description: opts.description,
                }),
              ),
            );
          } catch (e) {
            if (isUniqueViolation(e)) throw new CliError(`order ${number} already exists`);
            throw e;
          }
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
      withContext(async ({ stores }, number: string) => {
        if (!(await stores.accounts.cancelOrder(number)))
          throw new CliError(`order ${number} not found or not open`);
        print(showOrder((await stores.accounts.getOrder(number)) as Order));
      }),
    );
}
