import type { Command } from 'commander';
import { actors } from '../audit/audit-log.js';
import type { ConsoleUser } from '../console/user-store.js';
import { createUserService } from '../wiring/wiring.js';
import { cliAction, type CommandDeps } from './refund-commands.js';
import { CliError, print, type CliContext } from './cli-context.js';

export const showUser = (u: ConsoleUser) => ({
  login: u.login,
  role: u.role,
  disabled: u.disabled,
  createdAt: u.createdAt,
  lastLoginAt: u.lastLoginAt,
});

/** The whole of stdin, less one trailing newline (`echo pw | ...`, or a password manager's pipe). */
export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text.length === 0) throw new CliError('--password-stdin: nothing on stdin');
  return text;
}

export interface UserCommandDeps extends CommandDeps {
  /** Where --password-stdin reads; tests give a stream. */
  stdin?: () => Promise<string>;
}

/** `users add|passwd|role|disable|enable|list`: the console's people, each change in the audit log. */
export function registerUserCommands(program: Command, deps: UserCommandDeps = {}): void {
  const users = program.command('users').description('people who sign in to the operator console');
  const service = (ctx: CliContext) => createUserService(ctx.config, ctx.db);
  const password = async (opts: { passwordStdin?: boolean }) =>
    opts.passwordStdin ? await (deps.stdin ?? (() => readStdin()))() : undefined;
  const printGenerated = (login: string, generated: string | null) => {
    if (generated)
      process.stderr.write(
        `Password for ${login} (shown once, not stored anywhere readable): ${generated}\n`,
      );
  };

  users
    .command('add <login>')
    .description('add a person; without --password-stdin a strong password is generated and printed once')
    .requiredOption('--role <role>', 'viewer | operator | admin')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      cliAction(deps, async (ctx, login: string, opts: { role: string; passwordStdin?: boolean }) => {
        const { user, generatedPassword } = await service(ctx).add(
          { login, role: opts.role, password: await password(opts) },
          actors.cli(),
        );
        print(showUser(user));
        printGenerated(user.login, generatedPassword);
      }),
    );
  users
    .command('passwd <login>')
    .description("set a new password (generated unless --password-stdin); ends the person's sessions")
    .option('--password-stdin', 'read the password from stdin')
    .action(
      cliAction(deps, async (ctx, login: string, opts: { passwordStdin?: boolean }) => {
        const { user, generatedPassword } = await service(ctx).setPassword(
          login,
          await password(opts),
          actors.cli(),
        );
        print(showUser(user));
        printGenerated(user.login, generatedPassword);
      }),
    );
  users
    .command('role <login> <role>')
    .description("change a person's role: viewer | operator | admin")
    .action(
      cliAction(deps, async (ctx, login: string, role: string) => {
        print(showUser(await service(ctx).setRole(login, role, actors.cli())));
      }),
    );
  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(`${name} <login>`)
      .description(
        disabled ? 'stop a person signing in; ends their sessions' : 'let a disabled person sign in again',
      )
      .action(
        cliAction(deps, async (ctx, login: string) => {
          print(showUser(await service(ctx).setDisabled(login, disabled, actors.cli())));
        }),
      );
  }
  users
    .command('list')
    .description('list the people')
    .action(
      cliAction(deps, async (ctx) => {
        print((await service(ctx).list()).map(showUser));
      }),
    );
}
