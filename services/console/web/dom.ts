/**
 * A few DOM helpers instead of a framework: elements are built with `h()`, text always goes in as
 * text nodes (never innerHTML), so data from the API cannot inject markup.
 */
import { t, type MessageKey } from './i18n.js';

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** Creates an element; `on*` attributes become listeners, booleans toggle attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces the children of an element. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
/** A unique id for label/field pairs. */
export function uid(prefix = 'f'): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field; the control gets the id the label points at. */
export function field(labelKey: MessageKey, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLDivElement {
  if (!control.id) control.id = uid();
  const hintEl = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, t(labelKey)), control, hintEl);
}

/** A select with translated options. */
export function select(name: string, options: { value: string; label: string }[], value?: string): HTMLSelectElement {
  const s = h('select', { name });
  for (const o of options) {
    const opt = h('option', { value: o.value }, o.label);
    if (o.value === value) opt.selected = true;
    s.appendChild(opt);
  }
  return s;
}

export interface Column<T> {
  key: MessageKey;
  cell: (row: T) => Child;
  numeric?: boolean;
}

/** A data table with a caption; an empty list says so instead of showing an empty grid. */
export function table<T>(captionKey: MessageKey, columns: Column<T>[], rows: T[], opts: { testId?: string; rowAttrs?: (row: T) => Attrs } = {}): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty', 'data-testid': opts.testId }, t('common.empty'));
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t(captionKey) },
    h(
      'table',
      { 'data-testid': opts.testId },
      h('caption', { class: 'visually-hidden' }, t(captionKey)),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : null }, t(c.key))))),
      h(
        'tbody',
        {},
        rows.map((r) => h('tr', opts.rowAttrs?.(r) ?? {}, columns.map((c) => h('td', { class: c.numeric ? 'num' : null }, c.cell(r))))),
      ),
    ),
  );
}

/** A polite live region for status messages; errors use role=alert. */
export function notify(message: string, kind: 'info' | 'error' = 'info'): void {
  const region = document.getElementById('toasts');
  if (!region) return;
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  region.appendChild(el);
  window.setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

/**
 * A modal dialog asking for input (a reason, an objection text); resolves with the form's values or
 * null when cancelled. Uses the native <dialog>, which traps focus and closes on Escape.
 */
export function askForm(titleKey: MessageKey, fields: { name: string; labelKey: MessageKey; type?: 'text' | 'textarea' | 'number' | 'date'; required?: boolean; value?: string }[], confirmKey: MessageKey = 'common.confirm', intro?: string): Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'dialog-form' });
    const title = h('h2', { id: uid('dlg') }, t(titleKey));
    const dialog = h('dialog', { 'aria-labelledby': title.id }, form);
    form.append(
      title,
      intro ? h('p', { 'data-testid': 'dialog-intro' }, intro) : '',
      ...fields.map((f) => {
        const control =
          f.type === 'textarea'
            ? h('textarea', { name: f.name, rows: 3, required: f.required ?? true })
            : h('input', { name: f.name, type: f.type ?? 'text', required: f.required ?? true, step: f.type === 'number' ? 'any' : null });
        if (f.value !== undefined) control.value = f.value;
        return field(f.labelKey, control);
      }),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', value: 'cancel', onclick: () => dialog.close('cancel') }, t('common.cancel')),
        h('button', { type: 'submit', value: 'ok' }, t(confirmKey)),
      ),
    );
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      const values: Record<string, string> = {};
      if (ok) for (const [k, v] of new FormData(form).entries()) values[k] = typeof v === 'string' ? v : '';
      dialog.remove();
      resolve(ok ? values : null);
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      dialog.close('ok');
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/** A progress bar for long work; `value` undefined means indeterminate. */
export function progress(labelKey: MessageKey): { el: HTMLElement; set: (value?: number, max?: number, note?: string) => void; done: () => void } {
  const bar = h('progress', { 'aria-label': t(labelKey) });
  const text = h('span', { class: 'progress-text' }, t(labelKey));
  const el = h('div', { class: 'progress', role: 'status', 'data-testid': 'progress' }, text, bar);
  return {
    el,
    set(value, max, note) {
      text.textContent = note ? `${t(labelKey)} ${note}` : t(labelKey);
      if (value === undefined) {
        bar.removeAttribute('value');
        return;
      }
      bar.max = max ?? 1;
      bar.value = value;
    },
    done() {
      el.remove();
    },
  };
}

/** A table showing `pageSize` rows at a time with previous/next buttons (lists run to 2,000 rows). */
export function pagedTable<T>(captionKey: MessageKey, columns: Column<T>[], rows: T[], opts: { testId?: string; pageSize?: number; format?: (n: number) => string } = {}): HTMLElement {
  const size = opts.pageSize ?? 100;
  const fmt = opts.format ?? String;
  const box = h('div');
  const show = (offset: number): void => {
    const page = rows.slice(offset, offset + size);
    mount(
      box,
      table(captionKey, columns, page, { testId: opts.testId }),
      rows.length > size
        ? h(
            'div',
            { class: 'pager' },
            h('button', { type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => show(Math.max(0, offset - size)) }, t('common.previous')),
            h('span', { role: 'status' }, t('common.range', { from: fmt(offset + 1), to: fmt(offset + page.length), total: fmt(rows.length) })),
            h('button', { type: 'button', class: 'secondary', disabled: offset + size >= rows.length, onclick: () => show(offset + size) }, t('common.next')),
          )
        : null,
    );
  };
  show(0);
  return box;
}
