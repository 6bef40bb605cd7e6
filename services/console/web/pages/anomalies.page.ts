import { endpoints, type Anomaly } from '../endpoints.js';
import { askForm, field, h, mount, notify, select, table } from '../dom.js';
import { describeError } from '../errors.js';
import { formatDateTime } from '../format.js';
import { t, type MessageKey } from '../i18n.js';
import type { PageContext } from '../page.js';
import { describeAnomalyDetails } from '../reasons.js';
import { can } from '../session.js';

const KINDS = ['rides_per_day', 'two_vehicles', 'rating_without_ride', 'late_rating_forward'] as const;

export async function renderAnomalies({ main, query, navigate }: PageContext): Promise<void> {
  const status = query.get('status') ?? 'open';
  const kind = query.get('kind') ?? '';
  const list = await endpoints.anomalies({ status: status || undefined, kind: kind || undefined });
  const statusSel = select('status', [{ value: '', label: t('common.all') }, ...(['open', 'dismissed', 'excluded'] as const).map((s) => ({ value: s, label: t(`anomaly.status.${s}`) }))], status);
  const kindSel = select('kind', [{ value: '', label: t('common.all') }, ...KINDS.map((k) => ({ value: k, label: t(`anomaly.kind.${k}`) }))], kind);
  const apply = (): void => navigate(`#/anomalies?status=${statusSel.value}&kind=${kindSel.value}`);
  statusSel.addEventListener('change', apply);
  kindSel.addEventListener('change', apply);
  const mayReview = can('anomaly.review');

  /**
   * R13: the reward service excludes the anomaly's person from its period; when the period has a
   * current list it freezes a new version without them, and the page opens it.
   */
  const review = async (a: Anomaly, what: 'exclude' | 'dismiss'): Promise<void> => {
    const v = await askForm(what === 'exclude' ? 'anomaly.excludeTitle' : 'anomaly.dismissTitle', [{ name: 'reason', labelKey: 'workflow.reason', type: 'textarea' }], what === 'exclude' ? 'anomaly.exclude' : 'anomaly.dismiss', what === 'exclude' ? t('anomaly.excludeIntro', { name: a.nameMasked ?? '', period: a.period ?? '' }) : undefined);
    if (!v) return;
    try {
      if (what === 'exclude') {
        const r = await endpoints.excludeAnomaly(a.id, { reason: v.reason ?? '' });
        if (r.newVersion) {
          notify(t('anomaly.excludedVersion', { version: r.newVersion.version }));
          navigate(`#/snapshots/${r.newVersion.snapshotId}`);
          return;
        }
        notify(t('anomaly.excluded'));
      } else {
        await endpoints.dismissAnomaly(a.id, { reason: v.reason ?? '' });
        notify(t('anomaly.dismissed'));
      }
      navigate(`#/anomalies?status=${statusSel.value}&kind=${kindSel.value}&t=${Date.now()}`);
    } catch (err) {
      notify(describeError(err), 'error');
    }
  };

  mount(
    main,
    h('h1', {}, t('nav.anomalies')),
    h('p', { class: 'muted' }, t('anomaly.intro')),
    h('div', { class: 'filters' }, field('col.status', statusSel), field('anomaly.kind', kindSel)),
    table<Anomaly>(
      'nav.anomalies',
      [
        { key: 'col.at', cell: (a) => formatDateTime(a.detectedAt) },
        { key: 'anomaly.kind', cell: (a) => t(`anomaly.kind.${a.kind}` as MessageKey) },
        { key: 'col.name', cell: (a) => a.nameMasked ?? a.personId ?? '—' },
        { key: 'col.period', cell: (a) => a.period ?? '—' },
        { key: 'anomaly.details', cell: (a) => describeAnomalyDetails(a.details) },
        { key: 'col.status', cell: (a) => [t(`anomaly.status.${a.status}`), a.reviewReason ? h('div', { class: 'muted' }, `${a.reviewedBy ?? ''}：${a.reviewReason}`) : null] },
        ...(mayReview
          ? [{
              key: 'common.actions' as const,
              cell: (a: Anomaly) =>
                a.status === 'open' && a.personId
                  ? h('div', { class: 'actions inline' },
                      h('button', { type: 'button', class: 'small', 'data-testid': `exclude-${a.id}`, onclick: () => void review(a, 'exclude') }, t('anomaly.exclude')),
                      h('button', { type: 'button', class: 'small secondary', onclick: () => void review(a, 'dismiss') }, t('anomaly.dismiss')))
                  : '',
            }]
          : []),
      ],
      list,
      { testId: 'anomalies-table' },
    ),
  );
}
