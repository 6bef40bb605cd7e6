import { endpoints, type Device, type Employer, type RouteRow } from '../endpoints.js';
import { h, mount, table } from '../dom.js';
import { formatDateTime } from '../format.js';
import { t, type MessageKey } from '../i18n.js';
import type { PageContext } from '../page.js';

const TABS = ['employers', 'routes', 'devices'] as const;
type Tab = (typeof TABS)[number];
const SILENT_MS = 24 * 3600 * 1000;

export async function renderRegistry({ main, params, query, navigate }: PageContext): Promise<void> {
  const tab: Tab = (TABS as readonly string[]).includes(params.tab ?? '') ? (params.tab as Tab) : 'employers';
  // plain links between three views (each its own URL), marked like the main navigation
  const tabs = h(
    'nav',
    { class: 'tabs', 'aria-label': t('nav.registry') },
    TABS.map((x) => h('a', { href: `#/registry/${x}`, 'aria-current': x === tab ? 'page' : null, 'data-testid': `tab-${x}` }, t(`registry.${x}` as MessageKey))),
  );
  const panel = h('div');
  mount(main, h('h1', {}, t('nav.registry')), tabs, panel);

  if (tab === 'employers') {
    const q = query.get('q') ?? '';
    const search = h('input', { type: 'search', name: 'q', id: 'emp-q', value: q });
    const needle = q.toLowerCase();
    const list = (await endpoints.employers()).filter((e) => !needle || e.code.toLowerCase().includes(needle) || e.name.toLowerCase().includes(needle));
    mount(
      panel,
      h('form', { class: 'filters', onsubmit: (e: Event) => { e.preventDefault(); navigate(`#/registry/employers?q=${encodeURIComponent(search.value.trim())}`); } },
        h('div', { class: 'field' }, h('label', { for: 'emp-q' }, t('registry.searchEmployer')), search),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('common.search')))),
      table<Employer>('registry.employers', [
        { key: 'registry.code', cell: (e) => e.code },
        { key: 'registry.name', cell: (e) => e.name },
        { key: 'registry.type', cell: (e) => t(`employer.type.${e.type}` as MessageKey) },
        { key: 'registry.cityArea', cell: (e) => (e.cityArea ? t('common.yes') : t('common.no')) },
      ], list, { testId: 'employers-table' }),
    );
  } else if (tab === 'routes') {
    const list = await endpoints.routes();
    mount(panel, table<RouteRow>('registry.routes', [
      { key: 'registry.routeId', cell: (r) => r.routeId },
      { key: 'registry.name', cell: (r) => [r.shortName ?? '', r.longName ? ` ${r.longName}` : ''] },
      { key: 'registry.cityRoute', cell: (r) => (r.isCity ? t('common.yes') : t('common.no')) },
    ], list, { testId: 'routes-table' }));
  } else {
    const list = await endpoints.devices();
    const now = Date.now();
    const silent = (d: Device): boolean => d.status === 'active' && (!d.lastSeenAt || now - new Date(d.lastSeenAt).getTime() > SILENT_MS);
    mount(panel, table<Device>('registry.devices', [
      { key: 'registry.deviceId', cell: (d) => d.deviceId },
      { key: 'registry.vehicle', cell: (d) => d.vehicleId ?? '—' },
      { key: 'col.status', cell: (d) => t(`device.status.${d.status}` as MessageKey) },
      { key: 'registry.lastSeen', cell: (d) => [formatDateTime(d.lastSeenAt), silent(d) ? h('span', { class: 'badge warn' }, t('registry.silent')) : null] },
    ], list, { testId: 'devices-table', rowAttrs: (d) => ({ class: silent(d) ? 'row-warn' : null }) }));
  }
}
