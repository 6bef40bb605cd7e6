import { endpoints, type AuditEntry } from '../endpoints.js';
import { field, h, mount, table } from '../dom.js';
import { describeError } from '../errors.js';
import { formatDate, formatDateTime, formatNumber } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';

const FILTERS = ['subject', 'actor', 'action', 'from', 'to'] as const;
type Filter = (typeof FILTERS)[number];
const PAGE = 500;

/**
 * The audit log in its own order (it is a hash chain). The subject filter is the server's; actor,
 * action and the Shanghai date range narrow the fetched entries here. "Load more" continues after
 * the last id.
 */
export async function renderAudit({ main, query, navigate }: PageContext): Promise<void> {
  const values = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Record<Filter, string>;
  const inputs = FILTERS.map((f) => h('input', { name: f, type: f === 'from' || f === 'to' ? 'date' : 'text', value: values[f], 'data-testid': `audit-${f}` }));
  const matches = (a: AuditEntry): boolean => {
    const day = formatDate(a.at);
    return (
      (!values.actor || a.actor.toLowerCase().includes(values.actor.toLowerCase())) &&
      (!values.action || a.action.toLowerCase().includes(values.action.toLowerCase())) &&
      (!values.from || day >= values.from) &&
      (!values.to || day <= values.to)
    );
  };
  const fetched: AuditEntry[] = [];
  const tableBox = h('div');
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', 'data-testid': 'audit-more' }, t('audit.more'));

  const loadPage = async (): Promise<void> => {
    more.disabled = true;
    try {
      const afterId = fetched.at(-1)?.id;
      const page = await endpoints.audit({ limit: PAGE, ...(afterId !== undefined ? { afterId } : {}), ...(values.subject ? { subject: values.subject } : {}) });
      fetched.push(...page);
      const shown = fetched.filter(matches);
      status.textContent = t('audit.count', { shown: formatNumber(shown.length), fetched: formatNumber(fetched.length) });
      mount(
        tableBox,
        table<AuditEntry>('nav.audit', [
          { key: 'audit.id', cell: (a) => formatNumber(a.id), numeric: true },
          { key: 'col.at', cell: (a) => h('span', { class: 'nowrap' }, formatDateTime(a.at)) },
          { key: 'col.actor', cell: (a) => actorCell(a.actor) },
          { key: 'audit.action', cell: (a) => h('code', {}, a.action) },
          { key: 'audit.subject', cell: (a) => subjectCell(a.subject) },
          { key: 'workflow.reason', cell: (a) => a.reason ?? '' },
        ], shown, { testId: 'audit-table' }),
      );
      more.hidden = page.length < PAGE;
    } catch (err) {
      mount(tableBox, h('p', { role: 'alert', class: 'error-text' }, describeError(err)));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => void loadPage());

  mount(
    main,
    h('h1', {}, t('nav.audit')),
    h(
      'form',
      {
        class: 'filters',
        'aria-label': t('common.filters'),
        onsubmit: (e: Event) => {
          e.preventDefault();
          const p = new URLSearchParams();
          for (const i of inputs) if (i.value.trim()) p.set(i.name, i.value.trim());
          navigate(`#/audit?${p.toString()}`);
        },
      },
      inputs.map((i) => field(`audit.${i.name as Filter}`, i)),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'audit-filter' }, t('common.search'))),
    ),
    status,
    tableBox,
    h('div', { class: 'actions' }, more),
  );
  await loadPage();
}

/** "name (uuid)" → the name, with the id on hover. */
function actorCell(actor: string): HTMLElement {
  const m = /^(.*) \(([0-9a-f-]{36})\)$/.exec(actor);
  return m ? h('span', { title: m[2] }, m[1]) : h('span', {}, actor);
}

/** "snapshot:<uuid>" links to the list; other subjects are shown as they are. */
function subjectCell(subject: string | null): HTMLElement | string {
  if (!subject) return '';
  const m = /^snapshot:([0-9a-f-]{36})$/.exec(subject);
  return m ? h('a', { href: `#/snapshots/${m[1]}`, title: subject }, `snapshot:${m[1]!.slice(0, 8)}`) : subject;
}
