import { ASSESSMENT_ITEMS, endpoints, type AssessmentItem, type OperatorScore } from '../endpoints.js';
import { h, mount, notify, select } from '../dom.js';
import { describeError } from '../errors.js';
import { formatCny, formatNumber } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';
import { can } from '../session.js';
import { shanghaiToday, periodChoices } from '../format.js';

/** The plan's maxima for the five non-volume items (R16); the server's figures win when it sends them. */
const MAXIMA: Record<AssessmentItem, number> = { safety: 15, service: 6, operations: 8, public_response: 15, social_responsibility: 6 };

export async function renderAssessment({ main, query, navigate }: PageContext): Promise<void> {
  const year = Number(query.get('year') ?? shanghaiToday().year - 1);
  const yearSel = select('year', periodChoices('year').map((y) => ({ value: y, label: y })), String(year));
  yearSel.id = 'assess-year';
  yearSel.addEventListener('change', () => navigate(`#/assessment?year=${yearSel.value}`));
  const score: OperatorScore = await endpoints.operatorScore(year);
  const editable = can('assessment.enter');
  const inputs = new Map<AssessmentItem, { score: HTMLInputElement; note: HTMLInputElement }>();
  const resultBox = h('div', { 'aria-live': 'polite' });

  const rows = ASSESSMENT_ITEMS.map((item) => {
    const existing = score.items.find((i) => i.item === item);
    const max = existing?.max ?? MAXIMA[item];
    const input = h('input', { type: 'number', name: item, min: 0, max, step: 0.5, id: `item-${item}`, value: existing?.score ?? '', disabled: !editable, 'data-testid': `assess-${item}`, 'aria-describedby': `item-${item}-max` });
    const note = h('input', { type: 'text', name: `${item}-note`, id: `item-${item}-note`, value: existing?.note ?? '', disabled: !editable, 'aria-label': t('assessment.noteFor', { item: t(`assessment.item.${item}`) }) });
    inputs.set(item, { score: input, note });
    return h('tr', {}, h('th', { scope: 'row' }, h('label', { for: input.id }, t(`assessment.item.${item}`))), h('td', { class: 'num', id: `item-${item}-max` }, formatNumber(max)), h('td', {}, input), h('td', {}, note));
  });

  const showResult = (s: OperatorScore): void => {
    mount(
      resultBox,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, t('assessment.total')),
        h('dd', { 'data-testid': 'assess-total' }, formatNumber(s.total, 1)),
        s.subsidy
          ? [
              h('dt', {}, t('assessment.subsidy')),
              h('dd', { 'data-testid': 'assess-subsidy' }, `${s.subsidy.adjustmentCny >= 0 ? '+' : '−'}${formatCny(Math.abs(s.subsidy.adjustmentCny))}`, h('div', { class: 'muted' }, s.subsidy.explanation)),
              s.subsidy.cityShareCny !== undefined ? [h('dt', {}, t('assessment.cityShare')), h('dd', {}, formatCny(s.subsidy.cityShareCny))] : null,
              s.subsidy.districtShareCny !== undefined ? [h('dt', {}, t('assessment.districtShare')), h('dd', {}, formatCny(s.subsidy.districtShareCny))] : null,
            ]
          : [h('dt', {}, t('assessment.subsidy')), h('dd', {}, t('assessment.noBudget'))],
      ),
    );
  };

  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'items-h',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const body = ASSESSMENT_ITEMS.filter((i) => inputs.get(i)?.score.value !== '').map((i) => {
          const x = inputs.get(i)!;
          return { item: i, score: Number(x.score.value), ...(x.note.value.trim() ? { note: x.note.value.trim() } : {}) };
        });
        endpoints
          .saveAssessment(year, { items: body })
          .then((s) => {
            notify(t('assessment.saved'));
            showResult(s);
          })
          .catch((err: unknown) => notify(describeError(err), 'error'));
      },
    },
    h('h2', { id: 'items-h' }, t('assessment.items')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'assessment' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('assessment.item')), h('th', { scope: 'col', class: 'num' }, t('assessment.max')), h('th', { scope: 'col' }, t('assessment.score')), h('th', { scope: 'col' }, t('assessment.note')))), h('tbody', {}, rows))),
    editable ? h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'assess-save' }, t('common.save'))) : null,
  );

  const v = score.volume;
  mount(
    main,
    h('h1', {}, t('nav.assessment')),
    h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: yearSel.id }, t('period.year')), yearSel)),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'vol-h' },
      h('h2', { id: 'vol-h' }, t('assessment.volume')),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, t('assessment.boardings')), h('dd', {}, formatNumber(v.boardings)),
        h('dt', {}, t('dashboard.target')), h('dd', {}, formatNumber(v.target)),
        h('dt', {}, t('assessment.completion')), h('dd', {}, `${formatNumber(v.completionPercent, 2)} %`),
        h('dt', {}, t('assessment.volumeScore')), h('dd', { 'data-testid': 'volume-score' }, formatNumber(v.points), h('div', { class: 'muted' }, v.explanation)),
      ),
    ),
    form,
    h('section', { class: 'card', 'aria-labelledby': 'res-h' }, h('h2', { id: 'res-h' }, t('assessment.result')), resultBox),
  );
  showResult(score);
}
