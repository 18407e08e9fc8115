// Lyceum pages: what every page shares. Pages work without this script;
// it makes them live. Other page modules import from here.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';
export const signedIn = () => document.body?.dataset.signedIn === 'true';

/** Says `text` to screen readers (the page's polite live region). */
export function announce(text) {
  const r = document.getElementById('announce');
  if (!r) return;
  r.textContent = '';
  setTimeout(() => { r.textContent = text; }, 50);
}

let tokenCache = null;
/** A token given to the page (a guest's, which has no page sign-in): used instead of POST /web/token. */
let fixedToken = null;
export function useToken(accessToken, expiresIn, who) {
  fixedToken = accessToken;
  tokenCache = { value: accessToken, until: Date.now() + expiresIn * 1000, me: who };
}
/** An access token of this page's sign-in, for the JSON API. */
export async function token() {
  if (fixedToken) {
    if (tokenCache.until > Date.now()) return fixedToken;
    throw Object.assign(new Error('not signed in'), { status: 401 });
  }
  if (tokenCache && tokenCache.until > Date.now()) return tokenCache.value;
  const r = await fetch('/web/token', { method: 'POST', headers: { 'X-CSRF-Token': csrf() }, credentials: 'same-origin' });
  if (!r.ok) throw Object.assign(new Error('not signed in'), { status: r.status });
  const t = await r.json();
  tokenCache = { value: t.accessToken, until: Date.now() + (t.expiresIn - 60) * 1000, me: t };
  return t.accessToken;
}
export const me = () => tokenCache?.me;

/** Calls the JSON API as the page's user; throws {code, message} on an error. */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${await token()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const v = text ? JSON.parse(text) : null;
  if (!r.ok) throw Object.assign(new Error(v?.message || r.statusText), { code: v?.error, status: r.status });
  return v;
}

/** One WebSocket per page, reconnecting; `on(type, fn)` for events. */
const handlers = new Map();
let ws = null; let wsReady = null; let nextId = 1; const pending = new Map(); const onOpen = [];
const statusFns = []; let retryMs = 1000; let retryTimer = null; let stopped = false;
export function on(type, fn) { if (!handlers.has(type)) handlers.set(type, []); handlers.get(type).push(fn); }
/** Runs `fn` on every (re)connection: the place to (re)watch. */
export function whenConnected(fn) { onOpen.push(fn); if (ws?.readyState === 1 && ws.helloSeen) fn(); }
/** `fn(status)` on every change: 'online' (hello received), 'offline' (dropped; a reconnect is scheduled), 'ended' (the sign-in is gone: no more tries). */
export function onConnection(fn) { statusFns.push(fn); }
const setStatus = (st) => { document.body.dataset.live = st; statusFns.forEach((fn) => fn(st)); };
function retry() {
  if (stopped || retryTimer) return;
  retryTimer = setTimeout(() => { retryTimer = null; connect().catch(() => {}); }, retryMs);
  retryMs = Math.min(retryMs * 2, 8000);
}
/** The WebSocket, once the server said hello. Drops and failures retry by themselves (1 s, 2 s, … 8 s). */
export function connect() {
  if (wsReady) return wsReady;
  wsReady = (async () => {
    if (!signedIn() && !fixedToken) { stopped = true; throw new Error('not signed in'); }
    let auth;
    try { auth = await api('POST', '/api/ws/ticket'); } catch (e) {
      if (e.status === 401) { stopped = true; setStatus('ended'); }
      throw e;
    }
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const sock = new WebSocket(`${proto}://${location.host}/ws?ticket=${encodeURIComponent(auth.ticket)}`);
    ws = sock;
    return new Promise((resolve, reject) => {
      sock.onmessage = (m) => {
        const f = JSON.parse(m.data);
        if (f.id != null && pending.has(String(f.id))) {
          const p = pending.get(String(f.id)); pending.delete(String(f.id));
          f.type === 'error' ? p.reject(Object.assign(new Error(f.message), { code: f.code })) : p.resolve(f);
        }
        if (f.type === 'hello') { sock.helloSeen = true; retryMs = 1000; resolve(sock); setStatus('online'); onOpen.forEach((fn) => fn()); }
        (handlers.get(f.type) || []).forEach((fn) => fn(f));
      };
      sock.onclose = () => {
        if (ws === sock) { ws = null; wsReady = null; }
        for (const [id, p] of pending) { if (p.sock === sock) { pending.delete(id); p.reject(Object.assign(new Error('the connection dropped'), { code: 'closed' })); } }
        reject(new Error('the connection dropped'));
        setStatus('offline');
        retry();
      };
    });
  })();
  wsReady.catch(() => { wsReady = null; if (!stopped) { setStatus('offline'); retry(); } });
  return wsReady;
}
/** The open socket (for tests and diagnostics). */
export const socket = () => ws;
/** Sends a command and waits for its ack; rejects with code 'closed' if the connection drops first. */
export async function command(type, fields = {}) {
  const sock = await connect();
  const id = String(nextId++);
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, sock });
    sock.send(JSON.stringify({ type, id, ...fields }));
  });
}

/** `<time datetime data-local>` in the reader's own zone. */
function localTimes(root = document) {
  const fmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  const today = new Date().toDateString();
  root.querySelectorAll('time[data-local]').forEach((t) => {
    const d = new Date(t.getAttribute('datetime'));
    if (Number.isNaN(d.getTime())) return;
    // "short": the time today, else the day and time (messages).
    if (t.dataset.local === 'short') t.textContent = d.toDateString() === today ? time.format(d) : day.format(d);
    else t.textContent = fmt.format(d);
  });
}

/** `[data-countdown=<instant>]`: "starts in 2 d 4 h", updated every second. */
function countdowns() {
  const els = document.querySelectorAll('[data-countdown]');
  if (!els.length) return;
  const tick = () => els.forEach((el) => {
    const ms = new Date(el.dataset.countdown).getTime() - Date.now();
    if (ms <= 0) { el.textContent = 'starting now'; return; }
    const s = Math.floor(ms / 1000); const d = Math.floor(s / 86400); const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60); const sec = s % 60;
    el.textContent = `starts in ${d ? `${d} d ` : ''}${d || h ? `${h} h ` : ''}${m} min${d ? '' : ` ${sec} s`}`;
  });
  tick();
  setInterval(tick, 1000);
}
export { localTimes };

/** The bell: the server's unread count, rendered into the page and kept live. */
let unread = 0;
/** Shows `n` unread on the bell (`notifications.js` calls it after marking read). */
export function setUnread(n) {
  const el = document.getElementById('unread-count');
  if (!el) return;
  unread = Math.max(0, Number(n) || 0);
  el.dataset.unread = String(unread);
  el.textContent = unread > 0 ? String(unread) : '';
  el.parentElement.setAttribute('aria-label', unread > 0 ? `Notifications, ${unread} unread` : 'Notifications');
}
/** The server's count again (`GET /api/notifications/unread-count`). */
export async function refreshUnread() {
  try { setUnread((await api('GET', '/api/notifications/unread-count')).unread); } catch { /* signed out or offline */ }
}
function bell() {
  const el = document.getElementById('unread-count');
  if (!el || !signedIn()) return;
  unread = Number(el.dataset.unread) || 0;
  // One more at once, then the server's word (another tab may have read some).
  on('notification', () => { setUnread(unread + 1); announce('New notification'); refreshUnread(); });
  // Back to this tab: what was read in another one meanwhile.
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refreshUnread(); });
  // A reconnection may have missed events; the first connection is as fresh as the page.
  let connections = 0;
  whenConnected(() => { connections += 1; if (connections > 1) refreshUnread(); });
  connect().catch(() => {});
}

/** The header's Messages link: unread messages over all conversations. */
export async function chatUnread() {
  const el = document.getElementById('chat-unread');
  if (!el || !signedIn()) return;
  try {
    const rooms = await api('GET', '/api/rooms');
    const n = (rooms.items || []).reduce((a, r) => a + (r.unread || 0), 0);
    el.textContent = n > 0 ? String(n) : '';
    el.parentElement.setAttribute('aria-label', n > 0 ? `Messages, ${n} unread` : 'Messages');
  } catch { /* signed out or offline */ }
}

function start() { localTimes(); countdowns(); bell(); chatUnread(); }
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
