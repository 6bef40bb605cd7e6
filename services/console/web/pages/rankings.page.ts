import { endpoints, type Employer, type Ranking, type RankingRow, type TiePolicy } from '../endpoints.js';
import { field, h, mount, pagedTable, select } from '../dom.js';
import { describeError } from '../errors.js';
import { formatCny, formatNumber, periodChoices } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';
import { describeTie } from '../reasons.js';

/**
 * Live rankings (R7): the server ranks the whole period; the employer search filters the ranked
 * list here, so each person keeps the rank they hold in the whole city.
 */
export function renderRankings({ main, query }: PageContext): void {
  const kind = select('kind', [
    { value: 'quarter', label: t('period.quarter') },
    { value: 'year', label: t('period.year') },
  ], query.get('kind') ?? 'quarter');
  const period = h('select', { name: 'period', 'data-testid': 'ranking-period' });
  const fillPeriods = (): void => {
    period.replaceChildren(...periodChoices(kind.value === 'year' ? 'year' : 'quarter').map((p) => h('option', { value: p }, p)));
  };
  fillPeriods();
  const wanted = query.get('period');
  if (wanted) {
    if (!wanted.includes('Q')) {
      kind.value = 'year';
      fillPeriods();
    }
    period.value = wanted;
  }
  const tie = select('tiePolicy', [
    { value: 'shared', label: t('tie.shared') },
    { value: 'first-reached', label: t('tie.first-reached') },
  ]);
  const employer = h('input', { type: 'search', name: 'employer', placeholder: t('rankings.employerPlaceholder'), 'data-testid': 'ranking-employer' });
  const result = h('div');
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'ranking-status' });
  let ranking: Ranking | null = null;
  let employers = new Map<string, string>();
  endpoints
    .employers()
    .then((list: Employer[]) => {
      employers = new Map(list.map((e) => [e.code, e.name]));
      show();
    })
    .catch(() => undefined);

  const show = (): void => {
    if (!ranking) return;
    const needle = employer.value.trim().toLowerCase();
    const rows = needle
      ? ranking.rows.filter((r) => (r.employerCode ?? '').toLowerCase().includes(needle) || (employers.get(r.employerCode ?? '') ?? '').toLowerCase().includes(needle))
      : ranking.rows;
    const isYear = ranking.kind === 'annual' || !ranking.period.includes('Q');
    status.textContent = needle
      ? t('rankings.countFiltered', { n: formatNumber(rows.length), all: formatNumber(ranking.rows.length) })
      : t('rankings.count', { n: formatNumber(ranking.rows.length) });
    mount(
      result,
      pagedTable<RankingRow>(
        'rankings.caption',
        [
          { key: 'col.rank', cell: (x) => formatNumber(x.rank), numeric: true },
          { key: 'col.name', cell: (x) => x.nameMasked },
          { key: 'col.employer', cell: (x) => (x.employerCode ? (employers.get(x.employerCode) ?? x.employerCode) : '—') },
          { key: 'col.rides', cell: (x) => formatNumber(x.rides), numeric: true },
          ...(isYear ? [{ key: 'col.award' as const, cell: (x: RankingRow) => formatCny(x.awardCny), numeric: true }] : []),
          { key: 'col.tieNote', cell: (x) => describeTie(x.tie, x.tieNote) },
        ],
        rows,
        { testId: 'rankings-table', format: (n) => formatNumber(n) },
      ),
    );
  };

  const load = async (): Promise<void> => {
    status.textContent = t('common.loading');
    mount(result);
    try {
      ranking = await endpoints.rankings({ period: period.value, tiePolicy: tie.value as TiePolicy });
      show();
    } catch (err) {
      ranking = null;
      status.textContent = '';
      mount(result, h('p', { role: 'alert', class: 'error-text' }, describeError(err)));
    }
  };
  kind.addEventListener('change', () => {
    fillPeriods();
    void load();
  });
  period.addEventListener('change', () => void load());
  tie.addEventListener('change', () => void load());
  employer.addEventListener('input', show);

  mount(
    main,
    h('h1', {}, t('nav.rankings')),
    h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': t('common.filters'), onsubmit: (e: Event) => { e.preventDefault(); show(); } },
      field('period.kind', kind),
      field('period.period', period),
      field('tie.label', tie),
      field('rankings.employer', employer),
    ),
    status,
    result,
  );
  void load();
}
