/**
 * ECharts, loaded as a classic script from the server's copy of echarts' dist file (no CDN: the
 * console must work without internet). Only types are imported from the npm package.
 */
import type * as Echarts from 'echarts';
import type { VolumeReport } from './endpoints.js';
import { formatNumber, shanghaiToday } from './format.js';
import { t } from './i18n.js';

declare global {
  interface Window {
    echarts?: typeof Echarts;
  }
}

const charts = new Set<Echarts.ECharts>();
window.addEventListener('resize', () => {
  for (const c of charts) c.resize();
});

/** Monthly boardings as bars, the cumulative total as a line, and the annual target as a marked line. */
export function drawVolumeChart(el: HTMLElement, v: VolumeReport): void {
  const echarts = window.echarts;
  if (!echarts) {
    el.textContent = t('dashboard.chartUnavailable');
    return;
  }
  for (const c of charts) if (!c.getDom().isConnected) { c.dispose(); charts.delete(c); }
  const months = Array.from({ length: 12 }, (_, i) => `${v.year}-${String(i + 1).padStart(2, '0')}`);
  const byMonth = new Map(v.monthly.map((m) => [m.month, m.boardings]));
  // months still to come are gaps, not zeros
  const current = shanghaiToday().date.slice(0, 7);
  const monthly = months.map((m) => (m <= current ? (byMonth.get(m) ?? 0) : null));
  let run = 0;
  const cumulative = monthly.map((v) => {
    if (v === null) return null;
    run += v;
    return run;
  });
  const chart = echarts.init(el, undefined, { renderer: 'canvas' });
  charts.add(chart);
  const axisLabel = { formatter: (v: number) => formatNumber(v) };
  chart.setOption({
    animation: false,
    aria: { enabled: true },
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => formatNumber(typeof v === 'number' ? v : Number(v)) },
    legend: { top: 0 },
    grid: { left: 16, right: 16, bottom: 8, top: 40, containLabel: true },
    xAxis: { type: 'category', data: months.map((m) => m.slice(5)) },
    yAxis: [
      { type: 'value', name: t('dashboard.series.monthly'), axisLabel, minInterval: 1 },
      {
        type: 'value',
        name: t('dashboard.series.cumulative'),
        axisLabel,
        minInterval: 1,
        splitLine: { show: false },
        // keep the target line in view even early in the year
        max: (ext: { max: number }) => niceCeil(Math.max(ext.max, (v.target ?? 0) * 1.05)),
      },
    ],
    series: [
      { name: t('dashboard.series.monthly'), type: 'bar', data: monthly, itemStyle: { color: '#8fb1ea' } },
      {
        name: t('dashboard.series.cumulative'),
        type: 'line',
        yAxisIndex: 1,
        data: cumulative,
        itemStyle: { color: '#d4380d' },
        markLine: v.target
          ? { symbol: 'none', label: { position: 'insideStartTop', formatter: t('dashboard.series.target', { n: formatNumber(v.target) }) }, lineStyle: { type: 'dashed', color: '#389e0d' }, data: [{ yAxis: v.target }] }
          : undefined,
      },
    ],
  });
}

/** Rounds an axis maximum up to a readable figure (1, 2 or 5 × a power of ten steps). */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
