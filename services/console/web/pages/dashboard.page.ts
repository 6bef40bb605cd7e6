import { endpoints, type DashboardSummary } from '../endpoints.js';
import { h, mount } from '../dom.js';
import { formatNumber, formatPercent } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';
import { drawVolumeChart } from '../charts.js';

function stat(labelKey: Parameters<typeof t>[0], value: string, testId: string, note?: string): HTMLElement {
  return h('div', { class: 'stat', 'data-testid': testId }, h('div', { class: 'stat-label' }, t(labelKey)), h('div', { class: 'stat-value' }, value), note ? h('div', { class: 'stat-note' }, note) : null);
}

export async function renderDashboard({ main }: PageContext): Promise<void> {
  const s: DashboardSummary = await endpoints.dashboard();
  const chart = h('div', { class: 'chart', role: 'img', 'aria-label': t('dashboard.chartLabel', { year: s.year.year }), 'data-testid': 'volume-chart' });
  const completion = s.year.target ? s.year.boardings / s.year.target : null;
  mount(
    main,
    h('h1', {}, t('nav.dashboard')),
    h(
      'section',
      { class: 'stats', 'aria-label': t('dashboard.boardings') },
      stat('dashboard.today', formatNumber(s.today.boardings), 'stat-today', s.today.date),
      stat('dashboard.month', formatNumber(s.month.boardings), 'stat-month', s.month.month),
      stat('dashboard.year', formatNumber(s.year.boardings), 'stat-year', String(s.year.year)),
      stat('dashboard.target', s.year.target ? formatNumber(s.year.target) : t('dashboard.noTarget'), 'stat-target', completion !== null ? t('dashboard.completion', { pct: formatPercent(completion) }) : undefined),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'vol-h' }, h('h2', { id: 'vol-h' }, t('dashboard.volumeTitle', { year: s.year.year })), chart),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'ingest-h' },
      h('h2', { id: 'ingest-h' }, t('dashboard.ingest')),
      h(
        'div',
        { class: 'stats' },
        stat('dashboard.tapsPerSecond', formatNumber(s.ingest.tapsPerSecond, 1), 'stat-tps', t('dashboard.lastHour', { n: formatNumber(s.ingest.tapsLastHour) })),
        stat('dashboard.rejected', formatNumber(s.ingest.rejectedToday), 'stat-rejected'),
        stat('dashboard.activeDevices', formatNumber(s.ingest.activeDevices), 'stat-active'),
        h(
          'div',
          { class: `stat ${s.ingest.silentDevices > 0 ? 'warn' : ''}`, 'data-testid': 'stat-silent' },
          h('div', { class: 'stat-label' }, t('dashboard.silentDevices')),
          h('div', { class: 'stat-value' }, formatNumber(s.ingest.silentDevices)),
          s.ingest.silentDevices > 0 ? h('a', { href: '#/registry/devices', class: 'stat-note' }, t('dashboard.seeDevices')) : null,
        ),
      ),
    ),
  );
  drawVolumeChart(chart, s);
}
