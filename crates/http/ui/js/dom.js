// Small DOM helpers. Data never goes through innerHTML: every value is a text node.

/** Creates an element: h('td', {class: 'num'}, 'text', child, …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A status line: kind is 'loading', 'error', 'empty' or 'ok'. */
export function message(kind, text) {
  return h('p', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** Replaces the contents of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A table with headers and rows of cells (strings, nodes or {value, class}). */
export function table(caption, headers, rows, attrs = {}) {
  const cell = (tag, c) =>
    c !== null && typeof c === 'object' && !(c instanceof Node)
      ? h(tag, { class: c.class, scope: tag === 'th' ? 'col' : null }, c.value)
      : h(tag, { scope: tag === 'th' ? 'col' : null }, c);
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, headers.map((c) => cell('th', c)))),
      h('tbody', {}, rows.map((r) => h('tr', r.attrs || {}, r.cells.map((c) => cell('td', c)))))));
}

/** A labelled form field. */
export function field(label, input) {
  return h('label', { class: 'field' }, label, input);
}

/** Formats a number for people (the API's exact value is kept in data-value). */
export function fmt(n, digits = 0) {
  if (n === null || n === undefined) return '—';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Formats dollars exactly (the API keeps nano-dollars: 9 decimals). */
export function usd(n) {
  return `$${Number(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 9 })}`;
}

/** Asks for confirmation in the page's <dialog>; resolves true when confirmed. */
export function confirmDialog(title, body, okLabel) {
  const dialog = document.getElementById('confirm');
  replace(document.getElementById('confirm-title'), title);
  replace(document.getElementById('confirm-body'), body);
  replace(document.getElementById('confirm-ok'), okLabel);
  dialog.returnValue = '';
  dialog.showModal();
  document.getElementById('confirm-cancel').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

/** A box showing a secret once, with a copy button. */
export function secretBox(label, secret, id) {
  const code = h('code', { id }, secret);
  const status = h('span', { role: 'status' });
  const copy = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        status.textContent = 'Copied.';
      } catch {
        window.getSelection().selectAllChildren(code);
        status.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
      }
    },
  }, 'Copy');
  return h('div', { class: 'secret', role: 'region', 'aria-label': label },
    h('strong', {}, `${label} (shown once, store it now):`), code, copy, status);
}
