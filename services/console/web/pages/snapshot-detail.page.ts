import { endpoints, type Drift, type Objection, type Payment, type SnapshotDetail, type SnapshotRow, type TierTotal, type Transition } from '../endpoints.js';
import { askForm, h, mount, notify, table } from '../dom.js';
import { describeError } from '../errors.js';
import { formatCny, formatDate, formatDateTime, formatNumber, shanghaiToday } from '../format.js';
import { t, type MessageKey } from '../i18n.js';
import type { PageContext } from '../page.js';
import { describeTie } from '../reasons.js';
import { can, type Permission } from '../session.js';
import { statusBadge } from './snapshots.page.js';

type Action = 'submit' | 'return' | 'approve' | 'publish' | 'objection' | 'finalise' | 'correct';

/** Which workflow buttons a snapshot in this status offers (R11), and the permission each needs. */
const ACTIONS: { action: Action; permission: Permission; label: MessageKey; when: (s: SnapshotDetail) => boolean }[] = [
  { action: 'submit', permission: 'snapshot.submit', label: 'workflow.submit', when: (s) => s.status === 'draft' || s.status === 'returned' },
  { action: 'return', permission: 'snapshot.return', label: 'workflow.return', when: (s) => s.status === 'submitted' },
  { action: 'approve', permission: 'snapshot.approve', label: 'workflow.approve', when: (s) => s.status === 'submitted' },
  { action: 'publish', permission: 'snapshot.publish', label: 'workflow.publish', when: (s) => s.status === 'approved' },
  { action: 'objection', permission: 'snapshot.objection', label: 'workflow.objection', when: (s) => s.status === 'in_notice' },
  { action: 'finalise', permission: 'snapshot.finalise', label: 'workflow.finalise', when: (s) => s.status === 'in_notice' },
  // R10: a correction is a new version from live counts; the returned list is the usual case
  { action: 'correct', permission: 'snapshot.correct', label: 'workflow.correct', when: (s) => s.status === 'returned' },
];

/** R11: finalising waits for the day after the notice ends (Shanghai). */
function noticeOver(s: SnapshotDetail): boolean {
  return !!s.noticeEnd && shanghaiToday().date > s.noticeEnd;
}

const PAGE = 100;

/** Statuses in which a list may still be corrected (the reward service's CORRECTABLE). */
export const CORRECTABLE: readonly string[] = ['draft', 'submitted', 'returned', 'approved', 'in_notice'];

export async function renderSnapshotDetail({ main, params, navigate }: PageContext): Promise<void> {
  const id = params.id ?? '';
  const s = await endpoints.snapshot(id);
  const isPayable = s.kind === 'annual' && (s.status === 'final' || s.status === 'paid');
  const [objections, payments] = await Promise.all([
    ['in_notice', 'final', 'paid'].includes(s.status) ? endpoints.objections(id).catch(() => [] as Objection[]) : Promise.resolve([] as Objection[]),
    isPayable ? endpoints.payments(id).catch(() => [] as Payment[]) : Promise.resolve([] as Payment[]),
  ]);
  const reload = (): void => navigate(`#/snapshots/${id}`);

  const run = async (action: Action): Promise<void> => {
    try {
      if (action === 'return') {
        const v = await askForm('workflow.returnTitle', [{ name: 'reason', labelKey: 'workflow.reason', type: 'textarea' }], 'workflow.return');
        if (!v) return;
        await endpoints.transition(id, 'return', { reason: v.reason });
      } else if (action === 'objection') {
        const v = await askForm('workflow.objectionTitle', [
          { name: 'text', labelKey: 'workflow.objectionText', type: 'textarea' },
          { name: 'personId', labelKey: 'workflow.objectionPerson', required: false },
        ], 'workflow.objection');
        if (!v) return;
        await endpoints.recordObjection(id, { text: v.text ?? '', ...(v.personId ? { personId: v.personId } : {}) });
      } else if (action === 'correct') {
        const v = await askForm('workflow.correctTitle', [{ name: 'reason', labelKey: 'workflow.reason', type: 'textarea' }], 'workflow.correct');
        if (!v) return;
        const next = await endpoints.correct(id, { reason: v.reason ?? '' });
        notify(t('workflow.corrected', { version: next.version }));
        navigate(`#/snapshots/${next.snapshotId}`);
        return;
      } else {
        const v = await askForm(`workflow.${action}Confirm`, [{ name: 'reason', labelKey: 'workflow.note', type: 'textarea', required: false }], `workflow.${action}`);
        if (!v) return;
        await endpoints.transition(id, action === 'finalise' ? 'finalize' : action, v.reason ? { reason: v.reason } : {});
      }
      notify(t('workflow.done'));
      reload();
    } catch (err) {
      notify(describeError(err), 'error');
    }
  };

  const buttons = ACTIONS.filter((a) => a.when(s) && can(a.permission)).map((a) => {
    const waiting = a.action === 'finalise' && !noticeOver(s);
    return h(
      'button',
      {
        type: 'button',
        class: a.action === 'return' || a.action === 'correct' ? 'secondary' : null,
        'data-testid': `action-${a.action}`,
        'aria-disabled': waiting ? 'true' : null,
        'aria-describedby': waiting ? 'finalise-wait' : null,
        onclick: () => (waiting ? notify(t('workflow.finaliseWait', { date: formatDate(s.noticeEnd) })) : void run(a.action)),
      },
      t(a.label),
    );
  });
  const finaliseWaits = buttons.some((b) => b.getAttribute('aria-disabled') === 'true');

  const rows = s.rows ?? [];
  const totals = s.totals;
  const tiers = totals.tiers ?? [];
  // One line per tie group (its rows share the frozen note), said in the current language.
  const tieNotes = [...new Map(rows.filter((r) => r.tieNote).map((r) => [r.tieNote, r])).values()].map((r) => [describeTie(r.tie, r.tieNote), r.rank] as const);
  const paidBy = new Map(payments.map((p) => [p.personId, p]));
  const canPay = s.kind === 'annual' && s.status === 'final' && can('snapshot.payment');
  const driftBox = h('div', { 'data-testid': 'drift' }, h('p', { class: 'muted' }, t('common.loading')));
  const rowsBox = h('div');

  mount(
    main,
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/snapshots' }, t('nav.snapshots'))),
    h('h1', {}, t('snapshot.title', { period: s.period, kind: t(`snapshot.kind.${s.kind}`), version: s.version })),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'facts-h' },
      h('h2', { id: 'facts-h', class: 'visually-hidden' }, t('snapshot.facts')),
      h(
        'dl',
        { class: 'facts' },
        fact('col.status', statusBadge(s.status), 'snapshot-status'),
        fact('tie.label', t(`tie.${s.tiePolicy}`)),
        fact('snapshot.rulesVersion', s.rulesVersion),
        fact('snapshot.dataCutoff', formatDateTime(s.dataCutoff)),
        fact('snapshot.notice', s.noticeStart ? `${formatDate(s.noticeStart)} – ${formatDate(s.noticeEnd)}` : '—', 'notice-dates'),
        fact('snapshot.supersedes', s.supersedes ? h('a', { href: `#/snapshots/${s.supersedes}` }, s.supersedes.slice(0, 8)) : '—'),
        fact('snapshot.createdBy', `${s.createdBy ?? ''} · ${formatDateTime(s.createdAt)}`),
        fact('snapshot.sha256', h('code', { class: 'hash' }, s.contentSha256)),
      ),
      buttons.length
        ? h('div', { class: 'actions workflow', role: 'group', 'aria-label': t('workflow.actions') }, buttons,
            finaliseWaits ? h('span', { id: 'finalise-wait', class: 'muted' }, t('workflow.finaliseWait', { date: formatDate(s.noticeEnd) })) : null)
        : h('p', { class: 'muted workflow', 'data-testid': 'no-actions' }, t('workflow.none')),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'tiers-h' },
      h('h2', { id: 'tiers-h' }, s.kind === 'annual' ? t('snapshot.tiers') : t('snapshot.summary')),
      tiers.length
        ? table<TierTotal>('snapshot.tiers', [
            { key: 'col.tier', cell: (x) => `${formatNumber(x.fromRank)}–${formatNumber(x.toRank)}` },
            { key: 'col.amount', cell: (x) => formatCny(x.amountCny), numeric: true },
            { key: 'col.persons', cell: (x) => formatNumber(x.persons), numeric: true },
            { key: 'col.total', cell: (x) => formatCny(x.totalCny), numeric: true },
          ], tiers, { testId: 'tier-table' })
        : null,
      h(
        'dl',
        { class: 'facts' },
        fact('snapshot.persons', formatNumber(totals.persons)),
        fact('snapshot.rides', formatNumber(totals.rides)),
        totals.totalCny !== undefined ? fact('snapshot.awardTotal', h('span', { class: totals.exceedsNominalBudget ? 'over' : null }, formatCny(totals.totalCny)), 'award-total') : null,
        totals.nominalBudgetCny !== undefined ? fact('snapshot.budget', formatCny(totals.nominalBudgetCny)) : null,
      ),
      totals.exceedsNominalBudget ? h('p', { class: 'over', role: 'note' }, t('snapshot.overBudget')) : null,
      h('h3', {}, t('snapshot.tieNotes')),
      tieNotes.length
        ? h('ul', { 'data-testid': 'tie-notes' }, tieNotes.map(([note, rank]) => h('li', {}, t('snapshot.tieAtRank', { rank: formatNumber(rank) }), ' ', note)))
        : h('p', { class: 'muted' }, t('snapshot.noTies')),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'drift-h' }, h('h2', { id: 'drift-h' }, t('snapshot.drift')), driftBox),
    ['in_notice', 'final', 'paid'].includes(s.status) ? objectionsSection(id, objections, s.status === 'in_notice' && can('snapshot.resolve'), reload) : null,
    s.transitions?.length ? historySection(s.transitions) : null,
    h('section', { class: 'card', 'aria-labelledby': 'rows-h' }, h('h2', { id: 'rows-h' }, t('snapshot.rows')), rowsBox),
  );

  endpoints
    .drift(id)
    .then((d) => mount(driftBox, driftView(d, rows)))
    .catch((err: unknown) => mount(driftBox, h('p', { class: 'error-text' }, describeError(err))));

  const canExclude = can('snapshot.exclude') && CORRECTABLE.includes(s.status);
  showRows(rowsBox, rows, 0, { canPay, showPaid: isPayable, paidBy, snapshotId: id, reload, canExclude, navigate });
}

function fact(key: MessageKey, value: Node | string, testId?: string): HTMLElement[] {
  return [h('dt', {}, t(key)), h('dd', { 'data-testid': testId }, value)];
}

function driftView(d: Drift, rows: SnapshotRow[]): HTMLElement {
  const names = new Map(rows.map((r) => [r.personId, r.nameMasked]));
  type Line = { who: string; snap: string; live: string };
  const lines: Line[] = [
    ...d.changedRows.map((c) => ({ who: names.get(c.personId) ?? c.personId, snap: `${formatNumber(c.snapshotRides)} (#${c.snapshotRank})`, live: `${formatNumber(c.liveRides)}${c.liveRank ? ` (#${c.liveRank})` : ''}` })),
    ...d.entrants.map((c) => ({ who: c.personId.slice(0, 8), snap: '—', live: `${formatNumber(c.liveRides)} (#${c.liveRank})` })),
    ...d.leavers.map((c) => ({ who: names.get(c.personId) ?? c.personId, snap: `${formatNumber(c.snapshotRides)} (#${c.snapshotRank})`, live: '—' })),
  ];
  return h(
    'div',
    {},
    h('p', { 'data-testid': 'drift-summary' }, d.drifted ? t('snapshot.driftCount', { changed: formatNumber(d.changedRows.length), entrants: formatNumber(d.entrants.length), leavers: formatNumber(d.leavers.length) }) : t('snapshot.noDrift')),
    lines.length
      ? table<Line>('snapshot.drift', [
          { key: 'col.name', cell: (x) => x.who },
          { key: 'snapshot.snapshotRides', cell: (x) => x.snap, numeric: true },
          { key: 'snapshot.liveRides', cell: (x) => x.live, numeric: true },
        ], lines.slice(0, 50))
      : null,
  );
}

interface RowOptions {
  canPay: boolean;
  canExclude: boolean;
  navigate: (href: string) => void;
  showPaid: boolean;
  paidBy: Map<string, Payment>;
  snapshotId: string;
  reload: () => void;
}

function showRows(box: HTMLElement, all: SnapshotRow[], offset: number, o: RowOptions): void {
  const rows = all.slice(offset, offset + PAGE);
  const pay = async (r: SnapshotRow): Promise<void> => {
    const v = await askForm('payment.title', [
      { name: 'reference', labelKey: 'payment.reference', required: false },
      { name: 'paidAt', labelKey: 'payment.paidAt', type: 'date', value: shanghaiToday().date },
    ], 'payment.record', t('payment.confirmAmount', { name: r.nameMasked, amount: formatCny(r.awardCny) }));
    if (!v) return;
    try {
      await endpoints.recordPayment(o.snapshotId, {
        personId: r.personId,
        amountCny: r.awardCny ?? 0,
        ...(v.reference ? { reference: v.reference } : {}),
        // a Shanghai calendar date, recorded as that day's local midnight
        ...(v.paidAt ? { paidAt: `${v.paidAt}T00:00:00+08:00` } : {}),
      });
      notify(t('payment.recorded'));
      o.reload();
    } catch (err) {
      notify(describeError(err), 'error');
    }
  };
  const exclude = async (r: SnapshotRow): Promise<void> => {
    const v = await askForm('anomaly.excludeTitle', [{ name: 'reason', labelKey: 'workflow.reason', type: 'textarea' }], 'anomaly.exclude', t('snapshot.excludeIntro', { name: r.nameMasked, rank: r.rank }));
    if (!v) return;
    try {
      const res = await endpoints.exclude(o.snapshotId, { personId: r.personId, reason: v.reason ?? '' });
      if (res.newVersion) {
        notify(t('anomaly.excludedVersion', { version: res.newVersion.version }));
        o.navigate(`#/snapshots/${res.newVersion.snapshotId}`);
      } else {
        notify(t('anomaly.excluded'));
        o.reload();
      }
    } catch (err) {
      notify(describeError(err), 'error');
    }
  };
  mount(
    box,
    table<SnapshotRow>(
      'snapshot.rows',
      [
        { key: 'col.rank', cell: (r) => formatNumber(r.rank), numeric: true },
        { key: 'col.name', cell: (r) => r.nameMasked },
        { key: 'col.employer', cell: (r) => r.employerCode ?? '—' },
        { key: 'col.rides', cell: (r) => formatNumber(r.rides), numeric: true },
        { key: 'col.award', cell: (r) => formatCny(r.awardCny), numeric: true },
        { key: 'col.tieNote', cell: (r) => describeTie(r.tie, r.tieNote) },
        ...(o.showPaid
          ? [{
              key: 'payment.column' as const,
              cell: (r: SnapshotRow) => {
                const p = o.paidBy.get(r.personId);
                if (p) return h('span', { class: 'badge status-paid', 'data-testid': `paid-${r.position}` }, t('payment.paidOn', { date: formatDate(p.paidAt) }));
                if (o.canPay && r.awardCny)
                  return h('button', { type: 'button', class: 'small', 'data-testid': `pay-${r.position}`, 'aria-label': t('payment.recordFor', { rank: r.rank, name: r.nameMasked }), onclick: () => void pay(r) }, t('payment.record'));
                return t('payment.unpaid');
              },
            }]
          : []),
        ...(o.canExclude
          ? [{
              key: 'common.actions' as const,
              cell: (r: SnapshotRow) =>
                h('button', { type: 'button', class: 'small secondary', 'data-testid': `exclude-${r.position}`, 'aria-label': t('snapshot.excludeFor', { rank: r.rank, name: r.nameMasked }), onclick: () => void exclude(r) }, t('anomaly.exclude')),
            }]
          : []),
      ],
      rows,
      { testId: 'snapshot-rows' },
    ),
    all.length > PAGE
      ? h(
          'div',
          { class: 'pager' },
          h('button', { type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => showRows(box, all, Math.max(0, offset - PAGE), o) }, t('common.previous')),
          h('span', {}, t('common.range', { from: formatNumber(offset + 1), to: formatNumber(offset + rows.length), total: formatNumber(all.length) })),
          h('button', { type: 'button', class: 'secondary', disabled: offset + PAGE >= all.length, onclick: () => showRows(box, all, offset + PAGE, o) }, t('common.next')),
        )
      : null,
  );
}

function objectionsSection(id: string, list: Objection[], canResolve: boolean, reload: () => void): HTMLElement {
  const resolve = async (o: Objection): Promise<void> => {
    const v = await askForm('objection.resolveTitle', [{ name: 'resolution', labelKey: 'objection.resolution', type: 'textarea' }], 'objection.resolve');
    if (!v) return;
    try {
      await endpoints.resolveObjection(o.id, { resolution: v.resolution ?? '' });
      reload();
    } catch (err) {
      notify(describeError(err), 'error');
    }
  };
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'obj-h' },
    h('h2', { id: 'obj-h' }, t('objection.title')),
    table<Objection>('objection.title', [
      { key: 'col.at', cell: (o) => formatDateTime(o.recordedAt) },
      { key: 'col.actor', cell: (o) => o.recordedBy },
      { key: 'objection.text', cell: (o) => o.text },
      {
        key: 'objection.resolution',
        cell: (o) =>
          o.resolution ?? (canResolve ? h('button', { type: 'button', class: 'small', 'data-testid': `resolve-${o.id}`, onclick: () => void resolve(o) }, t('objection.resolve')) : t('objection.open')),
      },
    ], list, { testId: 'objections' }),
  );
}

function historySection(list: Transition[]): HTMLElement {
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'hist-h' },
    h('h2', { id: 'hist-h' }, t('snapshot.history')),
    table<Transition>('snapshot.history', [
      { key: 'col.at', cell: (x) => formatDateTime(x.at) },
      { key: 'col.actor', cell: (x) => x.actor },
      { key: 'col.status', cell: (x) => [x.from ? statusBadge(x.from) : '', x.from ? ' → ' : '', statusBadge(x.to)] },
      { key: 'workflow.reason', cell: (x) => x.reason ?? '' },
    ], list, { testId: 'history' }),
  );
}
