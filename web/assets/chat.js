// A conversation (/chat/{room}): the server rendered the newest messages;
// this makes the page live over the WebSocket (docs/protocol.md): new
// messages, edits and deletions, typing, read receipts, presence, earlier
// history, attachments, and a resume after a dropped connection (subscribe
// with afterSeq = the highest seq shown: nothing missing, nothing twice).
//
// Seams for an encryption layer: `codec.decode(msg)` gives the text to show
// (null: "Encrypted message"), `codec.encode(text)` the fields to send
// (`{body}` or `{ciphertext}`); `renderMessage(msg)` draws one message and
// `sendText(text, attachments)` sends one.
import { api, token, useToken, on, connect, command, whenConnected, onConnection, announce, localTimes, socket } from '/assets/site.js';

const data = JSON.parse(document.getElementById('chat-data').textContent);
const roomId = data.roomId;
const list = document.getElementById('messages');
/** The scrolling log around the list. */
const scroller = document.getElementById('log');
const typingEl = document.getElementById('typing');
const connEl = document.getElementById('conn');
const form = document.getElementById('composer');
const textEl = document.getElementById('text');
const fileEl = document.getElementById('file');
const errorEl = document.getElementById('composer-error');
const sendBtn = document.getElementById('send');

/** The highest stream seq applied: every event at or below it is already on the page. */
let lastSeq = data.lastSeq || 0;
/** The oldest seq loaded (history pages back from it). */
let firstSeq = data.firstSeq || 0;
const names = new Map(Object.entries(data.members).map(([id, m]) => [id, m.name]));
const reads = new Map(Object.entries(data.members).map(([id, m]) => [id, m.lastReadSeq || 0]));
/** Sends not yet acknowledged, by clientMsgId: sent again after a reconnect (idempotent). */
const outbox = new Map();
const nameOf = (id) => names.get(id) || 'Someone';

/** How text is read from and written into a message; an encryption layer replaces both. */
export const codec = {
  async decode(msg) { return msg.ciphertext != null && msg.body == null ? null : (msg.body ?? ''); },
  async encode(text) {
    if (data.e2ee) throw Object.assign(new Error('e2ee'), { code: 'e2ee_unavailable' });
    return { body: text };
  },
};

/** The page's room as the server rendered it: roomId, kind, e2ee, me, peer, members, lastSeq. */
export const room = data;

/**
 * Installs an encryption layer (`decode(msg)` → text or null, `encode(text)`
 * → `{ciphertext}`) and reads again the messages already shown as
 * "Encrypted message" (those the server rendered keep their ciphertext in
 * `data-ciphertext`).
 */
export async function setCodec({ decode, encode } = {}) {
  if (decode) codec.decode = decode;
  if (encode) codec.encode = encode;
  for (const p of document.querySelectorAll('#messages .body.encrypted[data-ciphertext]')) {
    const li = p.closest('li.msg');
    const text = await codec.decode({ roomId, seq: Number(li.dataset.seq), senderId: li.dataset.sender || null, body: null, ciphertext: p.dataset.ciphertext });
    if (text !== null) { p.textContent = text; p.classList.remove('encrypted'); }
  }
}

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};
const newId = () => (crypto.randomUUID ? crypto.randomUUID()
  : [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join(''));

function sizeWords(n) {
  if (n >= 1048576) { const mb = n / 1048576; return `${mb % 1 < 0.05 ? mb.toFixed(0) : mb.toFixed(1)} MB`; }
  return n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} bytes`;
}
const TYPES = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WebP', 'application/pdf': 'PDF', 'text/plain': 'plain text' };
const limitsText = () => document.getElementById('file-limits')?.textContent || '';

const WORDS = {
  muted: 'A moderator has muted you in this room for now, so your message was not sent.',
  rate_limited: 'You are sending messages very fast. Wait a few seconds and send again.',
  message_too_large: 'That message is too long. Shorten it and send again.',
  not_a_member: 'You are no longer a member of this conversation.',
  forbidden: 'You may not do that in this conversation.',
  e2ee_mismatch: 'This conversation is end-to-end encrypted, and this page cannot write encrypted messages yet.',
  e2ee_unavailable: 'This conversation is end-to-end encrypted, and this page cannot write encrypted messages yet.',
  attachment_too_large: 'The file is larger than the limit, so it was not sent.',
  unsupported_attachment_type: 'That kind of file cannot be sent.',
  invalid_attachment: 'The file could not be read. Choose it again.',
  message_not_found: 'That message is gone already.',
  invalid_command: 'That cannot be sent as it is: write a message or choose a file.',
  overloaded: 'The conversation is busy. Try again in a moment.',
  database_unavailable: 'The service is briefly unavailable. Try again in a moment.',
  closed: 'The connection dropped. It will be sent when the connection is back.',
};
function words(e) {
  if (WORDS[e.code]) return WORDS[e.code] + (e.code === 'unsupported_attachment_type' ? ` ${limitsText()}` : '');
  const m = String(e.message || 'That did not work. Try again.');
  return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');
}
function showError(text) { if (errorEl) errorEl.textContent = text || ''; }

/** A guest has no page sign-in for /chat/files: the file is fetched with its token and shown from memory. */
async function guestFile(a, set) {
  try {
    const r = await fetch(`/api/attachments/${a.id}`, { headers: { Authorization: `Bearer ${await token()}` } });
    if (!r.ok) return;
    const blob = await r.blob();
    const reader = new FileReader();
    reader.onload = () => set(reader.result);
    reader.readAsDataURL(blob);
  } catch { /* the link stays without a target */ }
}

function attachmentEl(a) {
  const url = `/chat/files/${a.id}`;
  if (data.guest) {
    const el2 = attachmentElAt(a, '#');
    guestFile(a, (dataUrl) => el2.querySelectorAll('a, img').forEach((x) => { if (x.tagName === 'IMG') x.src = dataUrl; else x.href = dataUrl; }));
    return el2;
  }
  return attachmentElAt(a, url);
}

function attachmentElAt(a, url) {
  const what = `${TYPES[a.contentType] || a.contentType}, ${sizeWords(a.size || 0)}`;
  if ((a.contentType || '').startsWith('image/')) {
    const fig = el('figure', 'attachment image');
    const link = el('a'); link.href = url;
    const img = el('img'); if (url !== '#') img.src = url; img.alt = `Image: ${a.fileName}`; img.loading = 'lazy';
    link.append(img);
    fig.append(link, el('figcaption', '', `${a.fileName} (${what})`));
    return fig;
  }
  const p = el('p', 'attachment file');
  const link = el('a', '', a.fileName); link.href = url; link.download = a.fileName;
  p.append(link, ` (${what})`);
  return p;
}

function actionsEl(mine, encrypted) {
  const d = el('div', 'msg-actions');
  if (mine && !encrypted) { const b = el('button', 'link', 'Edit'); b.type = 'button'; b.dataset.action = 'edit'; d.append(b); }
  const b = el('button', 'link', 'Delete'); b.type = 'button'; b.dataset.action = 'delete'; d.append(b);
  return d;
}

/** One message as a list item (the server renders the same markup: src/web/chat.rs `message_item`). */
export async function renderMessage(msg) {
  const mine = msg.senderId === data.me;
  const li = el('li', mine ? 'msg mine' : 'msg');
  li.id = `m-${msg.seq}`;
  li.dataset.seq = msg.seq;
  li.dataset.sender = msg.senderId || '';
  li.dataset.clientMsgId = msg.clientMsgId || '';
  const from = el('p', 'from');
  const t = el('time'); t.dateTime = msg.createdAt; t.dataset.local = 'short';
  from.append(el('strong', '', mine ? 'You' : (msg.senderName || nameOf(msg.senderId))), ' ', t);
  if (msg.editedAt && !msg.deletedAt) from.append(' ', el('span', 'edited', '(edited)'));
  li.append(from);
  if (msg.deletedAt) {
    li.dataset.deleted = 'true';
    li.append(el('p', 'body deleted', 'This message was deleted.'));
  } else {
    const text = await codec.decode(msg);
    if (text === null) {
      const p = el('p', 'body encrypted', 'Encrypted message');
      p.dataset.ciphertext = msg.ciphertext;
      li.append(p);
    } else if (text) li.append(el('p', 'body', text));
    for (const a of msg.attachments || []) li.append(attachmentEl(a));
    if (data.member && (mine || data.canModerate)) li.append(actionsEl(mine, text === null));
  }
  localTimes(li);
  return li;
}

const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
function append(li) {
  const stick = nearBottom();
  const firstPending = list.querySelector('li.pending');
  if (firstPending && !li.classList.contains('pending')) list.insertBefore(li, firstPending); else list.append(li);
  document.getElementById('empty')?.remove();
  if (stick || li.classList.contains('mine')) scroller.scrollTop = scroller.scrollHeight;
}

// Events are applied one at a time, in seq order.
let chain = Promise.resolve();
const enqueue = (fn) => { chain = chain.then(fn).catch((e) => console.error('chat:', e)); return chain; };

async function apply(m) {
  if (m.seq <= lastSeq) return; // shown already (a resume replays nothing twice)
  lastSeq = m.seq;
  if (m.kind === 'message') {
    if (m.clientMsgId && m.senderId === data.me) {
      list.querySelector(`li.pending[data-client-msg-id="${CSS.escape(m.clientMsgId)}"]`)?.remove();
    }
    if (!document.getElementById(`m-${m.seq}`)) append(await renderMessage(m));
    if (m.senderId !== data.me) { typers.delete(m.senderId); showTyping(); markRead(); }
  } else if (m.kind === 'edit') {
    await applyEdit(m);
  } else if (m.kind === 'delete') {
    applyDelete(m.targetSeq);
  }
  updateReceipt();
  caughtUp();
}

async function applyEdit(m) {
  const li = document.getElementById(`m-${m.targetSeq}`);
  if (!li || li.dataset.deleted) return;
  li.querySelector('form.edit')?.remove();
  const text = await codec.decode(m);
  let body = li.querySelector('.body');
  if (!body) { body = el('p', 'body'); li.querySelector('.from').after(body); }
  body.hidden = false;
  body.textContent = text === null ? 'Encrypted message' : text;
  if (!li.querySelector('.edited')) li.querySelector('.from').append(' ', el('span', 'edited', '(edited)'));
}

function applyDelete(seq) {
  const li = document.getElementById(`m-${seq}`);
  if (!li) return;
  li.dataset.deleted = 'true';
  li.querySelectorAll('.body, .attachment, .msg-actions, form.edit, .edited').forEach((e) => e.remove());
  li.querySelector('.from').after(el('p', 'body deleted', 'This message was deleted.'));
}

on('message', (m) => { if (m.roomId === roomId) enqueue(() => apply(m)); });

// Read receipts: "Seen" under your newest message once the other person
// has read it ("Seen by Ada, Bob" in a group).
function updateReceipt() {
  list.querySelectorAll('.receipt').forEach((e) => e.remove());
  const last = [...list.querySelectorAll('li.msg.mine:not(.pending):not([data-deleted])')].at(-1);
  if (!last) return;
  const seq = Number(last.dataset.seq);
  const who = [...reads].filter(([id, s]) => id !== data.me && s >= seq).map(([id]) => nameOf(id));
  if (!who.length) return;
  last.append(el('p', 'receipt', data.kind === 'direct' ? 'Seen' : `Seen by ${who.join(', ')}`));
}
on('read', (f) => {
  if (f.roomId !== roomId) return;
  reads.set(f.userId, Math.max(reads.get(f.userId) || 0, f.seq));
  updateReceipt();
});
let readSent = data.myLastRead || 0;
function markRead() {
  if (!data.member || document.visibilityState !== 'visible' || lastSeq <= readSent) return;
  const seq = lastSeq;
  readSent = seq;
  command('read', { roomId, seq }).catch(() => { readSent = 0; });
}
document.addEventListener('visibilitychange', markRead);

// Typing: "Sam is typing…", gone 6.5 s after the last signal.
const typers = new Map();
function showTyping() {
  const ns = [...typers.keys()].map(nameOf);
  typingEl.textContent = !ns.length ? '' : ns.length === 1 ? `${ns[0]} is typing…`
    : `${ns.slice(0, -1).join(', ')} and ${ns.at(-1)} are typing…`;
}
on('typing', (f) => {
  if (f.roomId !== roomId || f.userId === data.me) return;
  clearTimeout(typers.get(f.userId));
  if (f.typing) typers.set(f.userId, setTimeout(() => { typers.delete(f.userId); showTyping(); }, 6500));
  else typers.delete(f.userId);
  showTyping();
});
let typingSentAt = 0;
textEl?.addEventListener('input', () => {
  if (!textEl.value.trim()) {
    if (typingSentAt) { typingSentAt = 0; command('typing', { roomId, typing: false }).catch(() => {}); }
    return;
  }
  if (Date.now() - typingSentAt > 3000) {
    typingSentAt = Date.now();
    command('typing', { roomId, typing: true }).catch(() => {});
  }
});

// Presence of the other person in a direct conversation.
on('presence', (f) => {
  const p = document.getElementById('presence');
  if (!p || p.dataset.user !== f.userId) return;
  const span = el('span', f.online ? 'presence online' : 'presence');
  span.dataset.presence = f.online ? 'online' : 'offline';
  if (f.online) span.textContent = 'Online';
  else if (f.lastSeen) { const t = el('time'); t.dateTime = f.lastSeen; t.dataset.local = 'short'; span.append('Last seen ', t); localTimes(span); } else span.textContent = 'Offline';
  p.replaceChildren(span);
});
on('member_joined', (f) => {
  if (f.roomId !== roomId) return;
  api('GET', `/api/rooms/${roomId}`).then((r) => r.members.forEach((m) => { names.set(m.userId, m.displayName); if (!reads.has(m.userId)) reads.set(m.userId, m.lastReadSeq); })).catch(() => {});
});
on('removed', (f) => {
  if (f.roomId !== roomId) return;
  data.member = false;
  form?.remove();
  connEl.dataset.conn = 'removed';
  connEl.textContent = 'You were removed from this room: you can no longer write here.';
});

// Sending: shown at once as "Sending…", kept in the outbox until acked and
// sent again with the same clientMsgId after a reconnect (stored once).
function pendingEl(id) { return list.querySelector(`li.pending[data-client-msg-id="${CSS.escape(id)}"]`); }
function showPending(id, text, attachments) {
  const li = el('li', 'msg mine pending');
  li.dataset.clientMsgId = id;
  const from = el('p', 'from'); from.append(el('strong', '', 'You'));
  li.append(from);
  if (text) li.append(el('p', 'body', text));
  for (const a of attachments) li.append(attachmentEl(a));
  li.append(el('p', 'status', 'Sending…'));
  append(li);
}
async function trySend(id) {
  const out = outbox.get(id);
  if (!out) return;
  try {
    const ack = await command('send', out);
    outbox.delete(id);
    if (document.getElementById(`m-${ack.seq}`)) pendingEl(id)?.remove();
  } catch (e) {
    const p = pendingEl(id);
    if (!e.code || e.code === 'closed' || ['overloaded', 'unavailable', 'database_unavailable', 'internal_error'].includes(e.code)) {
      // Kept: sent again (same clientMsgId) once the connection is back.
      if (p) p.querySelector('.status').textContent = 'Waiting for the connection…';
      if (e.code && e.code !== 'closed') setTimeout(() => trySend(id), 2000);
      return;
    }
    outbox.delete(id);
    if (p) { p.classList.add('failed'); p.querySelector('.status').textContent = `Not sent: ${words(e)}`; }
    showError(words(e));
  }
}
/** Sends `text` (and uploaded `attachments`); resolves once it is queued, not when it is stored. */
export async function sendText(text, attachments = []) {
  const fields = await codec.encode(text);
  const id = newId();
  const out = { roomId, clientMsgId: id, ...fields };
  if (attachments.length) out.attachments = attachments.map((a) => a.id);
  showPending(id, text, attachments);
  outbox.set(id, out);
  typingSentAt = 0;
  trySend(id);
}

function checkFile(f) {
  if (!data.types.includes(f.type)) return `“${f.name}” cannot be sent: that kind of file is not allowed. ${limitsText()}`;
  if (f.size > data.maxBytes) return `“${f.name}” is ${sizeWords(f.size)}, larger than the ${sizeWords(data.maxBytes)} allowed.`;
  if (f.size === 0) return `“${f.name}” is empty.`;
  return null;
}
async function upload(f) {
  // A header holds Latin-1 only: other characters of the name become "_".
  const name = f.name.replace(/[^\x20-\x7e]/g, '_').replace(/"/g, "'");
  const r = await fetch(`/api/rooms/${roomId}/attachments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${await token()}`, 'Content-Type': f.type, 'X-File-Name': name },
    body: f,
  });
  const v = await r.json().catch(() => null);
  if (!r.ok) throw Object.assign(new Error(v?.message || r.statusText), { code: v?.error });
  return v;
}
fileEl?.addEventListener('change', () => {
  const f = fileEl.files[0];
  showError(f ? checkFile(f) || '' : '');
});
form?.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = textEl.value.trim();
  const f = fileEl.files[0];
  if (!text && !f) { showError('Write a message or choose a file first.'); return; }
  if (f) { const err = checkFile(f); if (err) { showError(err); return; } }
  showError('');
  sendBtn.setAttribute('aria-busy', 'true');
  try {
    let atts = [];
    if (f) {
      try { atts = [await upload(f)]; } catch (e) { showError(`The file was not sent: ${words(e)}`); return; }
    }
    await sendText(text, atts);
    textEl.value = '';
    fileEl.value = '';
  } catch (e) {
    showError(words(e));
  } finally {
    sendBtn.removeAttribute('aria-busy');
    textEl.focus();
  }
});
textEl?.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
});

// Edit and delete, on the author's (and moderators') messages.
list.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const li = b.closest('li.msg');
  const seq = Number(li.dataset.seq);
  if (b.dataset.action === 'delete') {
    if (b.dataset.confirm !== 'yes') {
      b.dataset.confirm = 'yes';
      b.textContent = 'Delete for everyone?';
      setTimeout(() => { b.dataset.confirm = ''; b.textContent = 'Delete'; }, 5000);
      return;
    }
    try { await command('delete', { roomId, seq }); } catch (e) { showError(words(e)); }
    return;
  }
  if (li.querySelector('form.edit')) return;
  const body = li.querySelector('.body');
  const f = el('form', 'edit');
  const id = `edit-${seq}`;
  const label = el('label', '', 'Edit your message'); label.htmlFor = id;
  const ta = el('textarea'); ta.id = id; ta.rows = 2; ta.value = body ? body.textContent : '';
  const save = el('button', '', 'Save'); save.type = 'submit';
  const cancel = el('button', 'secondary', 'Cancel'); cancel.type = 'button';
  const err = el('p', 'error-text'); err.setAttribute('role', 'alert');
  f.append(label, ta, save, ' ', cancel, err);
  if (body) body.hidden = true;
  li.querySelector('.from').after(f);
  ta.focus();
  const close = () => { f.remove(); if (body) body.hidden = false; b.focus(); };
  cancel.addEventListener('click', close);
  f.addEventListener('submit', async (e2) => {
    e2.preventDefault();
    const text = ta.value.trim();
    if (!text) { err.textContent = 'A message cannot be empty: delete it instead.'; return; }
    try { await command('edit', { roomId, seq, ...(await codec.encode(text)) }); close(); } catch (e) { err.textContent = words(e); }
  });
});

// Earlier messages: the button, or scrolling to the top of the list.
let loadingEarlier = false;
async function loadEarlier() {
  const btn = document.getElementById('earlier');
  if (!btn || loadingEarlier || firstSeq <= 1) return;
  loadingEarlier = true;
  btn.setAttribute('aria-busy', 'true');
  try {
    const ack = await command('history', { roomId, before: firstSeq, limit: 50 });
    const msgs = ack.messages || [];
    const before = scroller.scrollHeight;
    const top = scroller.scrollTop;
    const frag = document.createDocumentFragment();
    let n = 0;
    for (const m of msgs) {
      if (m.kind === 'message' && !document.getElementById(`m-${m.seq}`)) { frag.append(await renderMessage(m)); n += 1; }
    }
    list.prepend(frag);
    scroller.scrollTop = top + (scroller.scrollHeight - before);
    if (msgs.length) firstSeq = msgs[0].seq;
    if (!msgs.length || firstSeq <= 1) btn.replaceWith(el('p', 'hint', 'This is the start of the conversation.'));
    announce(n === 1 ? '1 earlier message loaded' : `${n} earlier messages loaded`);
    updateReceipt();
  } catch (e) {
    showError(`Earlier messages could not be loaded: ${words(e)}`);
  } finally {
    btn.removeAttribute('aria-busy');
    loadingEarlier = false;
  }
}
document.getElementById('earlier')?.addEventListener('click', loadEarlier);
scroller.addEventListener('scroll', () => { if (scroller.scrollTop < 40) loadEarlier(); });

// The connection: subscribe (and resume) on every (re)connect, say so while it is down.
let wasDown = false;
/** While catching up after a subscribe: the room's newest seq at that moment. */
let catchUpTo = null;
function setConn(state, text) { connEl.dataset.conn = state; connEl.textContent = text; }
function caughtUp() {
  if (catchUpTo === null || lastSeq < catchUpTo) return;
  catchUpTo = null;
  setConn('online', wasDown ? 'Reconnected: the conversation is up to date.' : '');
  if (wasDown) setTimeout(() => { if (connEl.dataset.conn === 'online') connEl.textContent = ''; }, 4000);
  wasDown = false;
}
onConnection((st) => {
  if (st === 'ended') {
    setConn('ended', data.guest ? 'Your time as a guest is over (15 minutes). Reload the page to join again as a new guest.'
      : 'You are signed out. Sign in again to go on.');
    return;
  }
  if (st === 'offline' && connEl.dataset.conn !== 'removed' && connEl.dataset.conn !== 'ended') {
    wasDown = true;
    catchUpTo = null;
    setConn('reconnecting', 'The connection dropped. Reconnecting… Messages you send now go out when it is back.');
  }
});
/** A guest's page has no server-rendered history: the newest 50 first, then live from there. */
let historyLoaded = !data.guest;
async function loadLatest() {
  const ack = await command('history', { roomId, limit: 50 });
  const msgs = ack.messages || [];
  for (const m of msgs) {
    if (m.kind === 'message' && !document.getElementById(`m-${m.seq}`)) append(await renderMessage(m));
  }
  lastSeq = Math.max(lastSeq, msgs.length ? msgs[msgs.length - 1].seq : 0);
  firstSeq = msgs.length ? msgs[0].seq : 0;
  const start = document.querySelector('.history-start');
  if (firstSeq > 1) {
    const b = el('button', 'secondary', 'Load earlier messages'); b.type = 'button'; b.id = 'earlier';
    b.addEventListener('click', loadEarlier);
    start.replaceChildren(b);
  } else start.replaceChildren(el('p', 'hint', 'This is the start of the conversation.'));
  scroller.scrollTop = scroller.scrollHeight;
  historyLoaded = true;
}
whenConnected(async () => {
  try {
    if (!historyLoaded) await loadLatest();
    const ack = await command('subscribe', { roomId, afterSeq: lastSeq });
    // The events after `afterSeq` follow the ack, in order; up to date once lastSeq reaches the room's.
    catchUpTo = ack.lastSeq;
    enqueue(caughtUp);
    for (const id of outbox.keys()) trySend(id);
    markRead();
  } catch (e) {
    if (e.code !== 'closed') setConn('error', `This conversation could not be opened live: ${words(e)}`);
  }
});

scroller.scrollTop = scroller.scrollHeight;
updateReceipt();
if (!data.guest) connect().catch(() => {});

// A guest joins with a click: POST /api/rooms/{id}/guests gives a name and
// a 15-minute token for this room only; the page then goes live with it.
const joinBtn = document.getElementById('guest-join');
joinBtn?.addEventListener('click', async () => {
  const err = document.getElementById('guest-error');
  joinBtn.setAttribute('aria-busy', 'true');
  try {
    const r = await fetch(`/api/rooms/${roomId}/guests`, { method: 'POST' });
    const v = await r.json().catch(() => null);
    if (!r.ok) {
      err.textContent = r.status === 429 ? 'Many guests joined from here just now. Wait a minute and try again.'
        : r.status === 403 ? 'This room no longer takes guests.' : words({ code: v?.error, message: v?.message || 'Joining did not work. Try again.' });
      return;
    }
    useToken(v.accessToken, v.expiresIn, v.user);
    data.me = v.user.id;
    names.set(v.user.id, v.user.displayName);
    document.getElementById('guest-join-box').hidden = true;
    document.getElementById('guest-room').hidden = false;
    document.getElementById('guest-name').textContent = `You are ${v.user.displayName}, a guest in this room for 15 minutes.`;
    announce(`You joined as ${v.user.displayName}.`);
    textEl.focus();
    connect().catch(() => {});
  } catch {
    err.textContent = 'The server could not be reached. Check your connection and try again.';
  } finally {
    joinBtn.removeAttribute('aria-busy');
  }
});

/** For tests and diagnostics: the seqs on the page, and the open WebSocket. */
window.lyceumChat = {
  seqs: () => [...list.querySelectorAll('li.msg[data-seq]')].map((li) => Number(li.dataset.seq)),
  lastSeq: () => lastSeq,
  socket,
};
