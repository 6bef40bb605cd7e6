import { endpoints, type AuditEntry } from '../endpoints.js';
import { field, h, mount, table } from '../dom.js';
import { formatDateTime } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';

const FILTERS = ['actor', 'action', 'subject', 'from', 'to'] as const;

export async function renderAudit({ main, query, navigate }: PageContext): Promise<void> {
  const values = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const inputs = FILTERS.map((f) => h('input', { name: f, type: f === 'from' || f === 'to' ? 'date' : 'text', value: values[f], 'data-testid': `audit-${f}` }));
  const list = await endpoints.audit({
    actor: values.actor || undefined,
    action: values.action || undefined,
    subject: values.subject || undefined,
    from: values.from || undefined,
    to: values.to || undefined,
    limit: 200,
  });
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
      inputs.map((i) => field(`audit.${i.name}` as Parameters<typeof field>[0], i)),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'audit-filter' }, t('common.search'))),
    ),
    table<AuditEntry>('nav.audit', [
      { key: 'col.at', cell: (a) => formatDateTime(a.at) },
      { key: 'col.actor', cell: (a) => a.actor },
      { key: 'audit.action', cell: (a) => a.action },
      { key: 'audit.subject', cell: (a) => a.subject ?? '' },
      { key: 'workflow.reason', cell: (a) => a.reason ?? '' },
    ], list, { testId: 'audit-table' }),
  );
}
