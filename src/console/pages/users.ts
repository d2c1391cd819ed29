import { html, type SafeHtml } from '../html.js';
import type { ConsoleUser, Role } from '../user-store.js';
import { csrfField, layout, table, time, type Ctx } from './layout.js';

export function usersPage(c: Ctx, users: ConsoleUser[], status?: SafeHtml): SafeHtml {
  const roles: Role[] = ['viewer', 'operator', 'admin'];
  return layout(
    c,
    c.t('users'),
    html`<h1>${c.t('users')}</h1>
      ${table(
        null,
        [c.t('login'), c.t('role'), c.t('disabled'), c.t('created'), c.t('lastLogin'), ''],
        users.map((u) => [
          u.login,
          html`<form method="post" action="${`/console/users/${u.login}/role`}">
            ${csrfField(c)}<label for="${`role-${u.login}`}" class="skip">${c.t('role')} ${u.login}</label
            ><select id="${`role-${u.login}`}" name="role">
              ${roles.map((r) => html`<option value="${r}" ${r === u.role ? html` selected` : ''}>${c.t(`role_${r}`)}</option>`)}
            </select>
            <button type="submit" class="secondary">${c.t('save')}</button>
          </form>`,
          u.disabled ? c.t('yes') : c.t('no'),
          time(c, u.createdAt),
          time(c, u.lastLoginAt),
          html`<form
              method="post"
              action="${`/console/users/${u.login}/${u.disabled ? 'enable' : 'disable'}`}"
            >
              ${csrfField(c)}<button type="submit" class="secondary">
                ${u.disabled ? c.t('enable') : c.t('disable')} ${u.login}
              </button>
            </form>
            <form method="post" action="${`/console/users/${u.login}/password`}">
              ${csrfField(c)}<button type="submit" class="secondary">
                ${c.t('setPassword')}: ${u.login}
              </button>
            </form>`,
        ]),
        c.t('none'),
      )}
      <h2>${c.t('addUser')}</h2>
      <form method="post" action="/console/users" class="filters">
        ${csrfField(c)}
        <div>
          <label for="new-login">${c.t('login')}</label
          ><input id="new-login" name="login" required maxlength="64" />
        </div>
        <div>
          <label for="new-role">${c.t('role')}</label
          ><select id="new-role" name="role">
            ${roles.map((r) => html`<option value="${r}">${c.t(`role_${r}`)}</option>`)}
          </select>
        </div>
        <button type="submit">${c.t('add')}</button>
      </form>`,
    status,
  );
}
