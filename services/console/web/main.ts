/**
 * The console's shell: header, navigation, language switch and a hash router. Each page is a
 * function that fills <main>; navigation moves focus to the page heading for keyboard and
 * screen-reader users.
 */
import { setToken, setUnauthorizedHandler } from './api.js';
import { describeError } from './errors.js';
import { h, mount, notify } from './dom.js';
import { getLocale, LOCALES, setLocale, t, type Locale, type MessageKey } from './i18n.js';
import { can, currentUser, restoreSession, setCurrentUser, signOut, type Permission } from './session.js';
import type { Page } from './page.js';
import { renderSignIn } from './pages/sign-in.page.js';
import { renderDashboard } from './pages/dashboard.page.js';
import { renderRankings } from './pages/rankings.page.js';
import { renderSnapshots } from './pages/snapshots.page.js';
import { renderSnapshotDetail } from './pages/snapshot-detail.page.js';
import { renderAnomalies } from './pages/anomalies.page.js';
import { renderAssessment } from './pages/assessment.page.js';
import { renderRegistry } from './pages/registry.page.js';
import { renderAudit } from './pages/audit.page.js';
import { renderExports } from './pages/exports.page.js';

interface Route {
  pattern: RegExp;
  page: Page;
  nav?: { key: MessageKey; href: string; permission: Permission };
}

const ROUTES: Route[] = [
  { pattern: /^\/dashboard$/, page: renderDashboard, nav: { key: 'nav.dashboard', href: '#/dashboard', permission: 'page.dashboard' } },
  { pattern: /^\/rankings$/, page: renderRankings, nav: { key: 'nav.rankings', href: '#/rankings', permission: 'page.rankings' } },
  { pattern: /^\/snapshots$/, page: renderSnapshots, nav: { key: 'nav.snapshots', href: '#/snapshots', permission: 'page.snapshots' } },
  { pattern: /^\/snapshots\/(?<id>[^/]+)$/, page: renderSnapshotDetail },
  { pattern: /^\/anomalies$/, page: renderAnomalies, nav: { key: 'nav.anomalies', href: '#/anomalies', permission: 'page.anomalies' } },
  { pattern: /^\/assessment$/, page: renderAssessment, nav: { key: 'nav.assessment', href: '#/assessment', permission: 'page.assessment' } },
  { pattern: /^\/registry(?:\/(?<tab>employers|routes|devices))?$/, page: renderRegistry, nav: { key: 'nav.registry', href: '#/registry', permission: 'page.registry' } },
  { pattern: /^\/audit$/, page: renderAudit, nav: { key: 'nav.audit', href: '#/audit', permission: 'page.audit' } },
  { pattern: /^\/exports$/, page: renderExports, nav: { key: 'nav.exports', href: '#/exports', permission: 'page.exports' } },
];

const LOCALE_KEY = 'ridetally.console.locale';

function currentPath(): { path: string; query: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '') || '/dashboard';
  const [path = '/dashboard', qs = ''] = raw.split('?');
  return { path, query: new URLSearchParams(qs) };
}

export function navigate(href: string): void {
  if (location.hash === href) void render();
  else location.hash = href;
}

function renderHeader(): HTMLElement {
  const user = currentUser();
  const other: Locale = getLocale() === 'zh-CN' ? 'en' : 'zh-CN';
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => { e.preventDefault(); document.getElementById('main')?.focus(); } }, t('shell.skip')),
    h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '吕'), h('span', {}, t('shell.title'))),
    h(
      'div',
      { class: 'topbar-actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          lang: other === 'zh-CN' ? 'zh-CN' : 'en',
          'data-testid': 'lang-switch',
          onclick: () => {
            setLocale(other);
            localStorage.setItem(LOCALE_KEY, other);
            void render();
          },
        },
        t('shell.switchLanguage'),
      ),
      user
        ? [
            h('span', { class: 'user', 'data-testid': 'current-user' }, user.displayName ?? user.username, ' · ', user.roles.map((r) => t(`role.${r}`)).join('、')),
            h('button', { type: 'button', class: 'link', 'data-testid': 'sign-out', onclick: () => void signOut().then(() => navigate('#/sign-in')) }, t('shell.signOut')),
          ]
        : null,
    ),
  );
}

function renderNav(path: string): HTMLElement {
  return h(
    'nav',
    { class: 'sidenav', 'aria-label': t('shell.navigation') },
    h(
      'ul',
      {},
      ROUTES.filter((r) => r.nav && can(r.nav.permission)).map((r) => {
        const nav = r.nav!;
        const active = path.startsWith(nav.href.slice(1));
        return h('li', {}, h('a', { href: nav.href, 'aria-current': active ? 'page' : null, 'data-testid': `nav-${nav.href.slice(2)}` }, t(nav.key)));
      }),
    ),
  );
}

let renderSeq = 0;

async function render(): Promise<void> {
  const seq = ++renderSeq;
  const app = document.getElementById('app');
  if (!app) return;
  document.documentElement.lang = getLocale();
  document.title = t('shell.title');
  const { path, query } = currentPath();
  const main = h('main', { id: 'main', tabindex: -1 });

  if (path === '/sign-in' || !currentUser()) {
    mount(app, renderHeader(), h('div', { class: 'signin-layout' }, main), h('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' }));
    renderSignIn({ main, params: {}, query, navigate });
    return;
  }

  mount(app, renderHeader(), h('div', { class: 'layout' }, renderNav(path), main), h('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' }));
  const route = ROUTES.find((r) => r.pattern.test(path));
  if (!route || (route.nav && !can(route.nav.permission))) {
    mount(main, h('h1', {}, t('shell.notFound')));
    return;
  }
  const params = route.pattern.exec(path)?.groups ?? {};
  const navKey = (route.nav ?? ROUTES.find((r) => r.nav && path.startsWith(r.nav.href.slice(1)))?.nav)?.key;
  document.title = navKey ? `${t(navKey)} · ${t('shell.title')}` : t('shell.title');
  mount(main, h('p', { class: 'loading', role: 'status' }, t('common.loading')));
  try {
    await route.page({ main, params: { ...params }, query, navigate });
  } catch (err) {
    if (seq !== renderSeq) return;
    mount(main, h('h1', {}, t('common.error')), h('p', { role: 'alert', class: 'error-text' }, describeError(err)));
  }
  if (seq === renderSeq) main.querySelector('h1')?.setAttribute('tabindex', '-1');
}

window.addEventListener('unhandledrejection', (e) => notify(describeError(e.reason), 'error'));
window.addEventListener('hashchange', () => {
  void render().then(() => document.querySelector<HTMLElement>('main h1')?.focus());
});
setUnauthorizedHandler(() => {
  // the session ended (expired or signed out elsewhere): come back here after signing in again
  setCurrentUser(null);
  setToken(null);
  const { path } = currentPath();
  if (path !== '/sign-in') navigate(`#/sign-in?next=${encodeURIComponent(location.hash.slice(1))}`);
});

async function start(): Promise<void> {
  const saved = localStorage.getItem(LOCALE_KEY);
  if (saved && (LOCALES as readonly string[]).includes(saved)) setLocale(saved as Locale);
  await restoreSession();
  if (!currentUser() && currentPath().path !== '/sign-in') {
    location.hash = `#/sign-in?next=${encodeURIComponent(location.hash.slice(1) || '/dashboard')}`;
  }
  await render();
  document.body.dataset.ready = 'true';
}

void start();
