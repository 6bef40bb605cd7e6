import { download } from '../api.js';
import { endpoints, exportUrls, type SnapshotSummary } from '../endpoints.js';
import { field, h, mount, notify, progress, select } from '../dom.js';
import { describeError } from '../errors.js';
import { formatNumber, periodChoices, shanghaiToday } from '../format.js';
import { t, type MessageKey } from '../i18n.js';
import type { PageContext } from '../page.js';
import { can } from '../session.js';

/** A download button that shows progress while the file arrives. */
function downloadButton(labelKey: MessageKey, url: () => string, fallbackName: () => string, testId: string): HTMLElement {
  const status = h('span', { class: 'download-status', 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    'data-testid': testId,
    onclick: () => {
      button.disabled = true;
      const bar = progress('exports.downloading');
      mount(status, bar.el);
      download(url(), fallbackName(), (got, total) => {
        // streamed exports (TIDES) have no length: the bar is indeterminate and the size counts up
        bar.set(total ? got : undefined, total, formatBytes(got, total));
      })
        .then((name) => {
          mount(status, t('exports.saved', { name }));
        })
        .catch((err: unknown) => {
          mount(status, '');
          notify(describeError(err), 'error');
        })
        .finally(() => {
          bar.done();
          button.disabled = false;
        });
    },
  }, t(labelKey));
  return h('div', { class: 'download' }, button, status);
}

function formatBytes(got: number, total?: number): string {
  const mb = (n: number): string => `${formatNumber(n / 1_048_576, 1)} MB`;
  return total ? `${mb(got)} / ${mb(total)}` : mb(got);
}

export async function renderExports({ main }: PageContext): Promise<void> {
  const snapshots: SnapshotSummary[] = can('export.snapshot') ? (await endpoints.snapshots()).filter((s) => s.status !== 'superseded') : [];

  const period = h('select', { name: 'period', id: 'exp-period' }, [...periodChoices('quarter'), ...periodChoices('year')].map((p) => h('option', { value: p }, p)));
  const snap = select('snapshot', snapshots.map((s) => ({ value: s.snapshotId, label: `${s.period} · ${t(`snapshot.kind.${s.kind}`)} · v${s.version} · ${t(`status.${s.status}` as MessageKey)}` })));
  snap.id = 'exp-snapshot';
  const today = shanghaiToday().date;
  const from = h('input', { type: 'date', name: 'from', value: today.slice(0, 8) + '01' });
  const to = h('input', { type: 'date', name: 'to', value: today });
  const snapName = (ext: string): string => {
    const s = snapshots.find((x) => x.snapshotId === snap.value);
    return s ? `${s.kind}-${s.period}-v${s.version}.${ext}` : `snapshot.${ext}`;
  };

  mount(
    main,
    h('h1', {}, t('nav.exports')),
    !can('export.rankings') ? null : h(
      'section',
      { class: 'card', 'aria-labelledby': 'exp-rank-h' },
      h('h2', { id: 'exp-rank-h' }, t('exports.rankings')),
      h('div', { class: 'filters' }, field('period.period', period)),
      h('div', { class: 'downloads' },
        downloadButton('exports.csv', () => exportUrls.rankings(period.value, 'csv'), () => `rankings-${period.value}.csv`, 'export-rankings-csv'),
        downloadButton('exports.xlsx', () => exportUrls.rankings(period.value, 'xlsx'), () => `rankings-${period.value}.xlsx`, 'export-rankings-xlsx')),
    ),
    !can('export.snapshot') ? null : h(
      'section',
      { class: 'card', 'aria-labelledby': 'exp-snap-h' },
      h('h2', { id: 'exp-snap-h' }, t('exports.snapshots')),
      snapshots.length
        ? [
            h('div', { class: 'filters' }, field('exports.snapshot', snap)),
            h('div', { class: 'downloads' },
              downloadButton('exports.csv', () => exportUrls.snapshot(snap.value, 'csv'), () => snapName('csv'), 'export-snapshot-csv'),
              downloadButton('exports.xlsx', () => exportUrls.snapshot(snap.value, 'xlsx'), () => snapName('xlsx'), 'export-snapshot-xlsx'),
              downloadButton('exports.noticeHtml', () => exportUrls.notice(snap.value, 'html'), () => snapName('html'), 'export-notice-html'),
              downloadButton('exports.noticePdf', () => exportUrls.notice(snap.value, 'pdf'), () => snapName('pdf'), 'export-notice-pdf'),
              can('export.payments') ? downloadButton('exports.payments', () => exportUrls.payments(snap.value, 'xlsx'), () => `payments-${snapName('xlsx')}`, 'export-payments') : null),
            can('export.payments') ? h('p', { class: 'muted' }, t('exports.paymentsNote')) : null,
          ]
        : h('p', { class: 'empty' }, t('common.empty')),
    ),
    !can('export.tides') ? null : h(
      'section',
      { class: 'card', 'aria-labelledby': 'exp-tides-h' },
      h('h2', { id: 'exp-tides-h' }, t('exports.tides')),
      h('p', { class: 'muted' }, t('exports.tidesNote')),
      h('div', { class: 'filters' }, field('audit.from', from), field('audit.to', to)),
      h('div', { class: 'downloads' }, downloadButton('exports.csv', () => exportUrls.tides(from.value, to.value), () => `fare_transactions-${from.value}-${to.value}.csv`, 'export-tides')),
    ),
    h('p', { class: 'muted' }, t('exports.count', { n: formatNumber(snapshots.length) })),
  );
}
