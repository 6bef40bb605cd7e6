import { ApiError } from '../api.js';
import { h, field, mount } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n.js';
import type { PageContext } from '../page.js';
import { signIn } from '../session.js';

export function renderSignIn({ main, navigate, query }: PageContext): void {
  // only a path inside the console, never another origin
  const next = query.get('next') ?? '';
  const target = /^\/[a-z]/.test(next) && !next.startsWith('/sign-in') ? `#${next}` : '#/dashboard';
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'username' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'password' });
  const error = h('p', { class: 'error-text', role: 'alert', 'data-testid': 'signin-error' });
  const button = h('button', { type: 'submit', 'data-testid': 'signin-submit' }, t('signin.submit'));
  const form = h(
    'form',
    {
      class: 'card signin',
      'aria-labelledby': 'signin-title',
      onsubmit: (e: Event) => {
        e.preventDefault();
        button.disabled = true;
        error.textContent = '';
        signIn(username.value.trim(), password.value)
          .then(() => navigate(target))
          .catch((err: unknown) => {
            // the server says only "wrong username or password" or "locked until …": say it in the UI's language
            error.textContent =
              err instanceof ApiError && err.status === 401 ? (/locked/i.test(err.message) ? t('signin.locked') : t('signin.failed')) : describeError(err);
            password.value = '';
            password.focus();
          })
          .finally(() => {
            button.disabled = false;
          });
      },
    },
    h('h1', { id: 'signin-title' }, t('signin.title')),
    h('p', { class: 'muted' }, t('signin.intro')),
    field('signin.username', username),
    field('signin.password', password),
    error,
    h('div', { class: 'actions' }, button),
  );
  mount(main, form);
  username.focus();
}
