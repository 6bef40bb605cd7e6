import { ApiError } from '../api.js';
import { ASSESSMENT_ITEMS, endpoints, type AssessmentItem, type OperatorScore, type Reason, type VolumeReport } from '../endpoints.js';
import { askForm, h, mount, notify, select } from '../dom.js';
import { describeError } from '../errors.js';
import { formatCny, formatNumber, periodChoices, shanghaiToday } from '../format.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';
import { describeReason } from '../reasons.js';
import { can } from '../session.js';

/** The plan's maxima for the five non-volume items (R16); the server's figures win when it sends them. */
const MAXIMA: Record<AssessmentItem, number> = { safety: 15, service: 6, operations: 8, public_response: 15, social_responsibility: 6 };

function signedCny(n: number): string {
  return n === 0 ? formatCny(0) : `${n > 0 ? '+' : '−'}${formatCny(Math.abs(n))}`;
}

export async function renderAssessment({ main, query, navigate }: PageContext): Promise<void> {
  const year = Number(query.get('year') ?? shanghaiToday().year - 1);
  const yearSel = select('year', periodChoices('year').map((y) => ({ value: y, label: y })), String(year));
  yearSel.id = 'assess-year';
  yearSel.addEventListener('change', () => navigate(`#/assessment?year=${yearSel.value}`));
  const reload = (): void => navigate(`#/assessment?year=${year}&t=${Date.now()}`);

  const volume: VolumeReport = await endpoints.volume(year);
  let score: OperatorScore | null = null;
  let scoreProblem: string | null = null;
  try {
    score = await endpoints.operatorScore(year);
  } catch (err) {
    // 409 until the office has set the year's target: the page still shows what exists
    if (!(err instanceof ApiError) || err.status !== 409) throw err;
    scoreProblem = describeReason((err.details as { reason?: Reason } | undefined)?.reason, err.message);
  }

  const editable = can('assessment.enter');
  const inputs = new Map<AssessmentItem, { score: HTMLInputElement; note: HTMLInputElement }>();
  const rows = ASSESSMENT_ITEMS.map((item) => {
    const existing = score?.items.find((i) => i.item === item);
    const max = existing?.max ?? MAXIMA[item];
    // the score endpoint reports a missing item as 0 "not entered yet": show it empty, not as a 0
    const entered = existing && (existing.reason ? existing.reason.code !== 'item.notEntered' : !/not entered/.test(existing.explanation));
    const input = h('input', { type: 'number', name: item, min: 0, max, step: 0.01, id: `item-${item}`, value: entered ? existing.score : '', placeholder: t('assessment.notEntered'), disabled: !editable, 'data-testid': `assess-${item}`, 'aria-describedby': `item-${item}-max` });
    const note = h('input', { type: 'text', name: `${item}-note`, id: `item-${item}-note`, disabled: !editable, 'aria-label': t('assessment.noteFor', { item: t(`assessment.item.${item}`) }) });
    inputs.set(item, { score: input, note });
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('label', { for: input.id }, t(`assessment.item.${item}`))),
      h('td', { class: 'num', id: `item-${item}-max` }, formatNumber(max)),
      h('td', {}, input),
      editable ? h('td', {}, note) : null,
    );
  });

  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'items-h',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const entries = ASSESSMENT_ITEMS.flatMap((i) => {
          const x = inputs.get(i);
          return x && x.score.value !== '' ? [{ item: i, score: Number(x.score.value), note: x.note.value.trim() || null }] : [];
        });
        // one PUT per item: each is its own audited entry on the server
        Promise.all(entries.map((x) => endpoints.enterItem(year, x.item, { score: x.score, note: x.note })))
          .then(() => {
            notify(t('assessment.saved'));
            reload();
          })
          .catch((err: unknown) => notify(describeError(err), 'error'));
      },
    },
    h('h2', { id: 'items-h' }, t('assessment.items')),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'assessment' },
        h('caption', { class: 'visually-hidden' }, t('assessment.items')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('assessment.item')), h('th', { scope: 'col', class: 'num' }, t('assessment.max')), h('th', { scope: 'col' }, t('assessment.score')), editable ? h('th', { scope: 'col' }, t('assessment.note')) : null)),
        h('tbody', {}, rows),
      ),
    ),
    editable ? h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'assess-save' }, t('common.save'))) : null,
  );

  const officeTools = can('assessment.target')
    ? h(
        'div',
        { class: 'actions' },
        h('button', {
          type: 'button',
          class: 'secondary',
          'data-testid': 'set-target',
          onclick: () =>
            void askForm('assessment.setTarget', [{ name: 'target', labelKey: 'dashboard.target', type: 'number', value: volume.target ? String(volume.target) : '' }, { name: 'reason', labelKey: 'workflow.note', type: 'textarea', required: false }], 'common.save').then(async (v) => {
              if (!v) return;
              try {
                await endpoints.setTarget(year, { target: Number(v.target), ...(v.reason ? { reason: v.reason } : {}) });
                reload();
              } catch (err) {
                notify(describeError(err), 'error');
              }
            }),
        }, t('assessment.setTarget')),
        h('button', {
          type: 'button',
          class: 'secondary',
          'data-testid': 'set-budget',
          onclick: () =>
            void askForm('assessment.setBudget', [
              { name: 'operating', labelKey: 'assessment.operatingSubsidy', type: 'number' },
              { name: 'pre', labelKey: 'assessment.preProgrammeSubsidy', type: 'number' },
              { name: 'reason', labelKey: 'workflow.note', type: 'textarea', required: false },
            ], 'common.save').then(async (v) => {
              if (!v) return;
              try {
                await endpoints.setBudget(year, { operatingSubsidyCny: Number(v.operating), preProgrammeSubsidyCny: Number(v.pre), ...(v.reason ? { reason: v.reason } : {}) });
                reload();
              } catch (err) {
                notify(describeError(err), 'error');
              }
            }),
        }, t('assessment.setBudget')),
      )
    : null;

  const sub = score?.subsidy ?? null;
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
        h('dt', {}, t('assessment.boardings')), h('dd', { 'data-testid': 'volume-boardings' }, formatNumber(volume.boardings)),
        h('dt', {}, t('dashboard.target')), h('dd', {}, volume.target ? formatNumber(volume.target) : t('dashboard.noTarget'), h('div', { class: 'muted' }, describeReason(volume.targetSourceReason, volume.targetSource))),
        h('dt', {}, t('assessment.completion')), h('dd', {}, volume.completionPercent !== null ? `${formatNumber(volume.completionPercent, 2)} %` : '—'),
        h('dt', {}, t('assessment.volumeScore')), h('dd', { 'data-testid': 'volume-score' }, volume.volumeScore !== null ? formatNumber(volume.volumeScore) : '—', h('div', { class: 'muted', 'data-testid': 'volume-explanation' }, describeReason(volume.reason, volume.explanation))),
      ),
      officeTools,
    ),
    form,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'res-h', 'aria-live': 'polite' },
      h('h2', { id: 'res-h' }, t('assessment.result')),
      score
        ? h(
            'dl',
            { class: 'facts' },
            h('dt', {}, t('assessment.total')),
            h('dd', { 'data-testid': 'assess-total' }, formatNumber(score.total, 1), score.complete ? null : h('span', { class: 'badge warn' }, t('assessment.incomplete')), h('div', { class: 'muted' }, describeReason(score.reason, score.explanation))),
            h('dt', {}, t('assessment.subsidy')),
            sub
              ? h('dd', { 'data-testid': 'assess-subsidy' }, signedCny(sub.adjustmentCny), ' · ', t(`assessment.band.${sub.band}`), sub.explanations.map((x, i) => h('div', { class: 'muted' }, describeReason(sub.reasons?.[i], x))))
              : h('dd', { 'data-testid': 'assess-subsidy' }, t('assessment.noBudget')),
            sub ? [h('dt', {}, t('assessment.linkedBase')), h('dd', {}, formatCny(sub.linkedBaseCny))] : null,
            sub ? [h('dt', {}, t('assessment.settled')), h('dd', {}, formatCny(sub.settledCny))] : null,
            sub ? [h('dt', {}, t('assessment.cityShare')), h('dd', {}, formatCny(sub.cityCny))] : null,
            sub ? [h('dt', {}, t('assessment.districtShare')), h('dd', {}, formatCny(sub.districtCny))] : null,
          )
        : h('p', { class: 'muted', 'data-testid': 'assess-total' }, scoreProblem ?? ''),
    ),
  );
}
