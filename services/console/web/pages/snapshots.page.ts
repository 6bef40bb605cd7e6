import { endpoints, type SnapshotSummary, type TiePolicy } from '../endpoints.js';
import { field, h, mount, notify, progress, select, table } from '../dom.js';
import { describeError } from '../errors.js';
import { formatDate, formatDateTime, formatNumber, periodChoices } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';
import { can } from '../session.js';

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status}`, 'data-status': status }, t(`status.${status}` as Parameters<typeof t>[0]));
}

function generateForm(onDone: (s: SnapshotSummary) => void): HTMLElement {
  const kind = select('kind', [
    { value: 'quarterly', label: t('snapshot.kind.quarterly') },
    { value: 'annual', label: t('snapshot.kind.annual') },
  ]);
  kind.dataset.testid = 'generate-kind';
  const period = h('select', { name: 'period', 'data-testid': 'generate-period' });
  const fill = (): void => {
    period.replaceChildren(...periodChoices(kind.value === 'annual' ? 'year' : 'quarter').map((p) => h('option', { value: p }, p)));
  };
  fill();
  kind.addEventListener('change', fill);
  const tie = select('tiePolicy', [
    { value: 'shared', label: t('tie.shared') },
    { value: 'first-reached', label: t('tie.first-reached') },
  ]);
  const button = h('button', { type: 'submit', 'data-testid': 'generate-submit' }, t('snapshot.generate'));
  const out = h('div', { 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'card filters',
      'aria-labelledby': 'gen-h',
      onsubmit: (e: Event) => {
        e.preventDefault();
        button.disabled = true;
        const bar = progress('snapshot.generating');
        mount(out, bar.el);
        endpoints
          .generateSnapshot({ period: period.value, tiePolicy: tie.value as TiePolicy })
          .then((s) => {
            notify(t('snapshot.generated', { period: s.period, version: s.version }));
            onDone(s);
          })
          .catch((err: unknown) => mount(out, h('p', { role: 'alert', class: 'error-text', 'data-testid': 'generate-error' }, describeError(err))))
          .finally(() => {
            bar.done();
            button.disabled = false;
          });
      },
    },
    h('h2', { id: 'gen-h' }, t('snapshot.generateTitle')),
    field('snapshot.kind', kind),
    field('period.period', period),
    field('tie.label', tie),
    h('div', { class: 'actions' }, button),
    out,
  );
}

export async function renderSnapshots({ main, navigate, query }: PageContext): Promise<void> {
  const statusFilter = query.get('status') ?? '';
  const list = await endpoints.snapshots(statusFilter ? { status: statusFilter } : {});
  const filter = select('status', [{ value: '', label: t('common.all') }, ...['draft', 'submitted', 'returned', 'approved', 'in_notice', 'final', 'paid', 'superseded'].map((s) => ({ value: s, label: t(`status.${s}` as Parameters<typeof t>[0]) }))], statusFilter);
  filter.addEventListener('change', () => navigate(filter.value ? `#/snapshots?status=${filter.value}` : '#/snapshots'));
  mount(
    main,
    h('h1', {}, t('nav.snapshots')),
    can('snapshot.generate') ? generateForm((s) => navigate(`#/snapshots/${s.snapshotId}`)) : null,
    h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'snap-status' }, t('col.status')), Object.assign(filter, { id: 'snap-status' }))),
    table<SnapshotSummary>(
      'snapshot.listCaption',
      [
        { key: 'col.period', cell: (s) => h('a', { href: `#/snapshots/${s.snapshotId}`, 'data-testid': `snapshot-link-${s.period}-v${s.version}` }, `${s.period} · ${t(`snapshot.kind.${s.kind}`)}`) },
        { key: 'col.version', cell: (s) => `v${s.version}`, numeric: true },
        { key: 'col.status', cell: (s) => statusBadge(s.status) },
        { key: 'tie.label', cell: (s) => t(`tie.${s.tiePolicy}`) },
        { key: 'col.rows', cell: (s) => formatNumber(s.rowCount), numeric: true },
        { key: 'snapshot.notice', cell: (s) => (s.noticeStart ? `${formatDate(s.noticeStart)} – ${formatDate(s.noticeEnd)}` : '—') },
        { key: 'col.createdAt', cell: (s) => formatDateTime(s.createdAt) },
      ],
      list,
      { testId: 'snapshots-table' },
    ),
  );
}
