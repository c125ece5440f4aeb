// The dashboard shell: sign-in, who is signed in, and the hash router over the pages.

import { api, ApiError, credential, forgetCredential, saveCredential } from './api.js';
import { message, replace } from './dom.js';
import * as overview from './overview.js';
import * as keys from './keys.js';
import * as users from './users.js';
import * as logs from './logs.js';
import * as live from './live.js';
import * as sites from './sites.js';
import * as orgs from './orgs.js';

const PAGES = { overview, keys, users, orgs, logs, live, sites };
/** Pages only admins may open (others fall back to the overview). */
const ADMIN_PAGES = new Set(['users', 'orgs']);
const $ = (id) => document.getElementById(id);

/** Reads a JWT's claims (not verified here: the server checks it on every call). */
function claims(token) {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** Who the credential is, asked of the API: {admin, name, userId}. */
async function whoIs(cred) {
  if (cred.kind === 'admin') {
    await api('GET', '/v1/users', undefined, cred);
    return { admin: true, adminKey: true, name: 'Admin key', userId: null };
  }
  const sub = claims(cred.secret)?.sub;
  if (!sub) throw new ApiError(400, 'That is not a user token (a JWT from POST /v1/users/{id}/tokens).');
  const user = await api('GET', `/v1/users/${encodeURIComponent(sub)}`, undefined, cred);
  return { admin: user.role === 'admin', adminKey: false, name: user.username, userId: user.id };
}

let me = null;

function showSignIn(text) {
  for (const page of Object.values(PAGES)) page.leave?.();
  me = null;
  shown = null;
  $('nav').hidden = true;
  $('whoami').hidden = true;
  replace($('page'));
  $('sign-in').hidden = false;
  const status = $('sign-in-status');
  status.className = text ? 'message error' : 'message';
  status.textContent = text || '';
  $('secret').focus();
}

function showApp() {
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('whoami').hidden = false;
  $('whoami-name').textContent = me.admin ? `${me.name} (admin)` : me.name;
  for (const li of document.querySelectorAll('[data-admin]')) li.hidden = !me.admin;
  for (const li of document.querySelectorAll('[data-admin-key]')) li.hidden = !me.adminKey;
  route();
}

let shown = null;

async function route() {
  if (!me) return;
  let name = location.hash.replace(/^#\//, '') || 'overview';
  if (!PAGES[name] || (ADMIN_PAGES.has(name) && !me.admin)) name = 'overview';
  // A page with live parts (the Live page's stream) stops them when another page is shown.
  for (const page of Object.values(PAGES)) page.leave?.();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = $('page');
  replace(root, message('loading', 'Loading…'));
  document.title = `${PAGES[name].title} · Tally dashboard`;
  try {
    await PAGES[name].render(root, me);
    if (shown !== null && shown !== name) {
      // A new page: move keyboard and screen-reader focus to its heading.
      const heading = root.querySelector('h2');
      heading?.setAttribute('tabindex', '-1');
      heading?.focus();
    }
    shown = name;
  } catch (e) {
    // After a 401 the tab is already back at sign-in; otherwise the page says what failed.
    if (me) replace(root, message('error', e instanceof ApiError ? e.message : `Unexpected error: ${e}`));
  }
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const cred = { kind: form.kind.value, secret: form.secret.value.trim() };
  const button = form.querySelector('button');
  const status = $('sign-in-status');
  button.disabled = true;
  status.className = 'message loading';
  status.textContent = 'Checking…';
  try {
    me = await whoIs(cred);
    saveCredential(cred.kind, cred.secret);
    form.reset();
    showApp();
  } catch (e) {
    status.className = 'message error';
    status.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

async function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => {
    forgetCredential();
    showSignIn();
  });
  window.addEventListener('hashchange', route);
  window.addEventListener('tally:unauthorized', (e) => {
    forgetCredential();
    showSignIn(e.detail);
  });
  const cred = credential();
  if (!cred) return showSignIn();
  try {
    me = await whoIs(cred);
    showApp();
  } catch (e) {
    if (e.status === 401 || e.status === 403 || e.status === 400) forgetCredential();
    showSignIn(e.message);
  }
}

start();
