import type { AuditEntry } from '../../audit/audit-log.js';
import { html, query, type SafeHtml } from '../html.js';
import { layout, select, table, time, type Ctx } from './layout.js';

export function auditPage(
  c: Ctx,
  f: { actor?: string; action?: string; target?: string; day?: string },
  entries: AuditEntry[],
  next: string | null,
  actions: readonly string[],
): SafeHtml {
  return layout(
    c,
    c.t('auditLog'),
    html`<h1>${c.t('auditLog')}</h1>
      <form class="filters" method="get" action="/console/audit">
        <div>
          <label for="actor">${c.t('actor')}</label
          ><input id="actor" name="actor" value="${f.actor ?? ''}" maxlength="200" />
        </div>
        ${select('action', c.t('action'), c.t('any'), [...actions], f.action)}
        <div>
          <label for="target">${c.t('target')}</label
          ><input id="target" name="target" value="${f.target ?? ''}" maxlength="200" />
        </div>
        <div>
          <label for="day">${c.t('day')}</label
          ><input id="day" name="day" type="date" value="${f.day ?? ''}" />
        </div>
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${table(
        null,
        [c.t('time'), c.t('actor'), c.t('action'), c.t('target'), c.t('details'), c.t('clientIp')],
        entries.map((e) => [
          time(c, e.at),
          e.actor,
          e.action,
          e.targetType ? `${e.targetType} ${e.targetId ?? ''}` : '',
          e.details ? html`<pre>${JSON.stringify(e.details)}</pre>` : '',
          e.clientIp,
        ]),
        c.t('noEntries'),
      )}
      ${next ? html`<p><a href="${`/console/audit${query({ ...f, before: next })}`}" rel="next">${c.t('nextPage')}</a></p>` : ''}`,
  );
}
