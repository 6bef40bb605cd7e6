import { endpoints, type DashboardSummary, type VolumeReport } from '../endpoints.js';
import { h, mount, select } from '../dom.js';
import { describeError } from '../errors.js';
import { formatNumber, formatPercent, shanghaiToday } from '../format.js';
import { t, type MessageKey } from '../i18n.js';
import type { PageContext } from '../page.js';
import { drawVolumeChart } from '../charts.js';
import { describeReason } from '../reasons.js';

function stat(labelKey: MessageKey, value: string, testId: string, note?: string | Node | null, warn = false): HTMLElement {
  return h(
    'div',
    { class: `stat${warn ? ' warn' : ''}`, 'data-testid': testId },
    h('div', { class: 'stat-label' }, t(labelKey)),
    h('div', { class: 'stat-value' }, value),
    note ? h('div', { class: 'stat-note' }, note) : null,
  );
}

function unavailable(err: unknown): HTMLElement {
  return h('p', { class: 'muted' }, t('dashboard.unavailable'), ' ', h('span', { class: 'error-text' }, describeError(err)));
}

/**
 * Two sources, loaded side by side so one failing does not blank the page: the console summary
 * (today, this month, ingest health) and the year's city-area volume report (target, chart).
 */
export async function renderDashboard({ main, query, navigate }: PageContext): Promise<void> {
  const [summary] = await Promise.allSettled([endpoints.dashboard()]);
  const s: DashboardSummary | null = summary.status === 'fulfilled' ? summary.value : null;
  // the server's calendar year when it says so (its clock is the one that counts)
  const thisYear = s?.year ?? shanghaiToday().year;
  const asked = Number(query.get('year'));
  const year = asked >= 2022 && asked <= thisYear ? asked : thisYear;
  const yearSel = select('year', Array.from({ length: thisYear - 2021 }, (_, i) => String(thisYear - i)).map((y) => ({ value: y, label: y })), String(year));
  yearSel.id = 'dash-year';
  yearSel.addEventListener('change', () => navigate(`#/dashboard?year=${yearSel.value}`));
  const [volume] = await Promise.allSettled([endpoints.volume(year)]);
  const v: VolumeReport | null = volume.status === 'fulfilled' ? volume.value : null;
  const chart = h('div', { class: 'chart', role: 'img', 'aria-label': t('dashboard.chartLabel', { year }), 'data-testid': 'volume-chart' });
  const completion = v?.target ? v.boardings / v.target : null;

  mount(
    main,
    h('h1', {}, t('nav.dashboard')),
    h(
      'section',
      { class: 'stats', 'aria-label': t('dashboard.boardings') },
      stat('dashboard.today', s ? formatNumber(s.today.boardings) : '—', 'stat-today', s?.today.date),
      stat('dashboard.month', s ? formatNumber(s.month.boardings) : '—', 'stat-month', s?.month.month),
      stat('dashboard.year', v ? formatNumber(v.boardings) : '—', 'stat-year', t('dashboard.cityOnly', { year })),
      stat('dashboard.target', v?.target ? formatNumber(v.target) : v ? t('dashboard.noTarget') : '—', 'stat-target', completion !== null ? t('dashboard.completion', { pct: formatPercent(completion) }) : null),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'vol-h' },
      h('div', { class: 'card-head' }, h('h2', { id: 'vol-h' }, t('dashboard.volumeTitle', { year })), h('div', { class: 'field inline' }, h('label', { for: yearSel.id }, t('period.year')), yearSel)),
      v ? chart : unavailable(volume.status === 'rejected' ? volume.reason : null),
      v ? h('p', { class: 'muted', 'data-testid': 'volume-explanation' }, describeReason(v.reason, v.explanation)) : null,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'ingest-h' },
      h('h2', { id: 'ingest-h' }, t('dashboard.ingest')),
      s
        ? h(
            'div',
            { class: 'stats' },
            stat('dashboard.tapsPerSecond', formatNumber(s.ingest.tapsPerSecond, 1), 'stat-tps', t('dashboard.lastHour', { n: formatNumber(s.ingest.tapsLastHour) })),
            stat('dashboard.rejected', formatNumber(s.ingest.rejectedToday), 'stat-rejected'),
            stat('dashboard.activeDevices', formatNumber(s.ingest.activeDevices), 'stat-active'),
            stat(
              'dashboard.silentDevices',
              formatNumber(s.ingest.silentDevices),
              'stat-silent',
              s.ingest.silentDevices > 0 ? h('a', { href: '#/registry/devices' }, t('dashboard.seeDevices')) : null,
              s.ingest.silentDevices > 0,
            ),
          )
        : unavailable(summary.status === 'rejected' ? summary.reason : null),
    ),
  );
  if (v) drawVolumeChart(chart, v);
}
