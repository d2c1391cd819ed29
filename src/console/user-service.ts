import { audit, type Actor } from '../audit/audit-log.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import { decoyHash, generatePassword, hashPassword, passwordProblem, verifyPassword } from './password.js';
import type { Session, SessionStore } from './session-store.js';
import { ROLES, type ConsoleUser, type Role, type UserStore } from './user-store.js';

const log = getLogger('console-users');

/** ASVS 2.2.1: 5 failures for a login within 15 minutes lock it for 15 minutes. */
export const LOCK_AFTER_FAILURES = 5;
export const LOCK_WINDOW_MS = 15 * 60_000;
export const LOCK_FOR_MS = 15 * 60_000;

const LOGIN = /^[a-z0-9][a-z0-9._-]{1,63}$/;

export type SignInResult = { ok: true; user: ConsoleUser; token: string } | { ok: false; locked: boolean };

function checkLogin(login: string): string {
  const l = login.trim().toLowerCase();
  if (!LOGIN.test(l))
    throw new ValidationError(
      'login must be 2 to 64 of a-z, 0-9, dot, dash, underscore, from a letter or digit',
    );
  return l;
}

function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role))
    throw new ValidationError(`role must be one of ${ROLES.join(', ')}`);
  return role as Role;
}

/**
 * The console's people: added, changed and disabled from the CLI or the Users page, each change
 * with its audit entry in the same transaction; sign-in with the lock, and sessions.
 */
export class UserService {
  constructor(
    private readonly db: Db,
    private readonly users: UserStore,
    private readonly sessions: SessionStore,
  ) {}

  /** The live session of a console cookie's token, or null (unknown, expired, idle, user disabled). */
  session(token: string): Promise<Session | null> {
    return this.sessions.find(token);
  }

  list(): Promise<ConsoleUser[]> {
    return this.users.list();
  }

  find(login: string): Promise<ConsoleUser | null> {
    return this.users.findByLogin(login.trim().toLowerCase());
  }

  /** Adds a person; without a password one is generated, and returned so it can be shown once. */
  async add(
    input: { login: string; role: string; password?: string },
    actor: Actor,
  ): Promise<{ user: ConsoleUser; generatedPassword: string | null }> {
    const login = checkLogin(input.login);
    const role = checkRole(input.role);
    const generated = input.password === undefined ? generatePassword() : null;
    const password = input.password ?? (generated as string);
    const problem = passwordProblem(password);
    if (problem) throw new ValidationError(problem);
    const passwordHash = await hashPassword(password);
    try {
      const id = await this.db.knex.transaction(async (trx) => {
        const id = await this.users.insert(trx, { login, role, passwordHash });
        await audit.record(trx, {
          actor,
          action: 'user.added',
          target: { type: 'user', id: login },
          details: { role, passwordGenerated: generated !== null },
        });
        return id;
      });
      return { user: (await this.users.findById(id)) as ConsoleUser, generatedPassword: generated };
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError(`user ${login} already exists`);
      throw e;
    }
  }

  /** A new password (given or generated); every session of the person ends. */
  async setPassword(
    loginIn: string,
    password: string | undefined,
    actor: Actor,
  ): Promise<{ user: ConsoleUser; generatedPassword: string | null }> {
    const generated = password === undefined ? generatePassword() : null;
    const pw = password ?? (generated as string);
    const problem = passwordProblem(pw);
    if (problem) throw new ValidationError(problem);
    const passwordHash = await hashPassword(pw);
    const user = await this.change(loginIn, actor, 'user.password_changed', async (trx, u) => {
      await this.users.update(trx, u.id, { passwordHash });
      const ended = await this.sessions.deleteForUser(trx, u.id);
      // A person locked out who asked an admin for a new password may sign in at once.
      await this.sessions.clearFailures(trx, u.login);
      return { sessionsEnded: ended, passwordGenerated: generated !== null };
    });
    return { user, generatedPassword: generated };
  }

  async setRole(loginIn: string, roleIn: string, actor: Actor): Promise<ConsoleUser> {
    const role = checkRole(roleIn);
    return this.change(loginIn, actor, 'user.role_changed', async (trx, u) => {
      await this.users.update(trx, u.id, { role });
      return { before: u.role, after: role };
    });
  }

  async setDisabled(loginIn: string, disabled: boolean, actor: Actor): Promise<ConsoleUser> {
    return this.change(loginIn, actor, disabled ? 'user.disabled' : 'user.enabled', async (trx, u) => {
      await this.users.update(trx, u.id, { disabled });
      const ended = disabled ? await this.sessions.deleteForUser(trx, u.id) : 0;
      return { before: u.disabled ? 'disabled' : 'enabled', sessionsEnded: ended };
    });
  }

  async setLang(userId: string, lang: 'ru' | 'en'): Promise<void> {
    await this.db.knex.transaction((trx) => this.users.update(trx, userId, { lang }));
  }

  private async change(
    loginIn: string,
    actor: Actor,
    action: 'user.password_changed' | 'user.role_changed' | 'user.disabled' | 'user.enabled',
    fn: (trx: import('knex').Knex.Transaction, u: ConsoleUser) => Promise<Record<string, unknown>>,
  ): Promise<ConsoleUser> {
    const login = loginIn.trim().toLowerCase();
    return this.db.knex.transaction(async (trx) => {
      const u = await this.users.findByLogin(login, trx);
      if (!u) throw new NotFoundError('user', `no user ${login}`);
      const details = await fn(trx, u);
      await audit.record(trx, { actor, action, target: { type: 'user', id: login }, details });
      return (await this.users.findById(u.id, trx)) as ConsoleUser;
    });
  }

  /**
   * One answer for every failure (unknown login, wrong password, disabled, locked): the page says
   * the same, and an unknown login costs the same hash as a known one. The 5th failure within 15
   * minutes locks the login for 15 minutes; failures, locks and successes are all in the audit log.
   */
  async signIn(
    loginIn: string,
    password: string,
    ip: string | null,
    oldToken?: string,
  ): Promise<SignInResult> {
    const login = loginIn.trim().toLowerCase().slice(0, 64);
    const actor: Actor = { id: LOGIN.test(login) ? `console:${login}` : 'anonymous', ip };
    const found = LOGIN.test(login) ? await this.users.hashOf(login) : null;
    const passwordOk = await verifyPassword(password.slice(0, 1024), found?.hash ?? (await decoyHash()));
    const lockedUntil = await this.sessions.lockedUntil(login);
    const now = new Date();
    if (found && passwordOk && !found.user.disabled && !lockedUntil) {
      const user = found.user;
      const { token } = await this.db.knex.transaction(async (trx) => {
        // A new session id at every sign-in; the one the browser came with (if any) is gone.
        if (oldToken) await this.sessions.delete(oldToken, trx);
        await this.sessions.clearFailures(trx, login);
        await this.users.update(trx, user.id, { lastLoginAt: dbTime(now) });
        await audit.record(trx, { actor, action: 'signin.succeeded', target: { type: 'user', id: login } });
        return this.sessions.create(trx, user.id, ip);
      });
      log.info('console sign-in', { login, ip });
      return { ok: true, user, token };
    }
    const reason = lockedUntil
      ? 'locked'
      : !found
        ? 'unknown login'
        : found.user.disabled
          ? 'disabled'
          : 'wrong password';
    const locked = await this.db.knex.transaction(async (trx) => {
      await audit.record(trx, {
        actor,
        action: 'signin.failed',
        target: found ? { type: 'user', id: login } : undefined,
        details: { reason, ...(lockedUntil ? { lockedUntil } : {}) },
      });
      if (lockedUntil) return true;
      await this.sessions.addFailure(trx, login, ip, now);
      const failures = await this.sessions.failuresSince(
        trx,
        login,
        new Date(now.getTime() - LOCK_WINDOW_MS),
      );
      if (failures < LOCK_AFTER_FAILURES) return false;
      const until = new Date(now.getTime() + LOCK_FOR_MS);
      await this.sessions.lock(trx, login, until);
      await audit.record(trx, {
        actor,
        action: 'signin.locked',
        target: found ? { type: 'user', id: login } : undefined,
        details: { failures, until: dbTime(until) },
      });
      return true;
    });
    if (locked && !lockedUntil) log.warn('console login locked after repeated failures', { login, ip });
    return { ok: false, locked };
  }

  async signOut(token: string, login: string, ip: string | null): Promise<void> {
    await this.db.knex.transaction(async (trx) => {
      await this.sessions.delete(token, trx);
      await audit.record(trx, {
        actor: { id: `console:${login}`, ip },
        action: 'signout',
        target: { type: 'user', id: login },
      });
    });
  }

  /**
   * Development: a demo `admin` to sign in with, made once. Returns its password when it was made
   * now (it is printed once, like any generated password), null when it exists already.
   */
  async ensureDemoAdmin(actor: Actor): Promise<string | null> {
    if (await this.users.findByLogin('admin')) return null;
    try {
      return (await this.add({ login: 'admin', role: 'admin' }, actor)).generatedPassword;
    } catch (e) {
      // Another worker made it first.
      if (e instanceof ConflictError) return null;
      throw e;
    }
  }
}
