// The conversations list (/chat), live: each listed conversation is
// subscribed (without afterSeq: from now on), so a new message updates its
// last message and unread count and moves it to the top; presence changes
// the "Online" / "Last seen" of direct conversations; a conversation opened
// by someone else (room_added) is added from GET /api/rooms.
import { api, on, connect, command, whenConnected, announce, localTimes } from '/assets/site.js';

const list = document.getElementById('conversations');
const me = list?.dataset.me;
/** At most this many conversations are followed live (the newest). */
const MAX_LIVE = 100;

function lastText(m) {
  const text = m.ciphertext != null && m.body == null ? 'Encrypted message'
    : (m.body ? (m.body.length > 80 ? `${m.body.slice(0, 80)}…` : m.body) : 'Attachment');
  return m.senderId === me ? `You: ${text}` : text;
}

function setUnread(li, n) {
  let badge = li.querySelector('.unread');
  if (!n) { badge?.remove(); return; }
  if (!badge) {
    badge = document.createElement('span');
    badge.className = 'badge unread';
    li.querySelector('a.conversation').append(badge);
  }
  badge.dataset.unread = n;
  badge.textContent = `${n} unread`;
}

function presenceEl(online, lastSeen) {
  const span = document.createElement('span');
  span.className = online ? 'presence online' : 'presence';
  span.dataset.presence = online ? 'online' : 'offline';
  if (online) span.textContent = 'Online';
  else if (lastSeen) {
    const t = document.createElement('time'); t.dateTime = lastSeen; t.dataset.local = '';
    span.append('Last seen ', t);
  } else span.textContent = 'Not seen yet';
  return span;
}

/** A list item for a room of GET /api/rooms (the server renders the same). */
function item(r) {
  const li = document.createElement('li');
  li.dataset.room = r.id;
  const direct = r.kind === 'direct';
  if (direct && r.peer) li.dataset.peer = r.peer.userId;
  const a = document.createElement('a');
  a.href = `/chat/${r.id}`; a.className = 'conversation';
  const name = document.createElement('span'); name.className = 'name';
  name.textContent = direct ? (r.peer?.displayName || '') : (r.name || '');
  a.append(name);
  const meta = document.createElement('p'); meta.className = 'meta';
  if (direct) meta.append(presenceEl(r.peer?.online, r.peer?.lastSeen));
  else meta.textContent = r.visibility === 'public' ? 'Public group room' : 'Private group room';
  const last = document.createElement('p'); last.className = 'last';
  last.textContent = r.lastMessage ? lastText(r.lastMessage) : 'No messages yet';
  li.append(a, meta, last);
  setUnread(li, r.unread);
  localTimes(li);
  return li;
}

const rooms = () => [...list.querySelectorAll('li[data-room]')].slice(0, MAX_LIVE).map((li) => li.dataset.room);

if (list && me) {
  on('message', (m) => {
    const li = list.querySelector(`li[data-room="${m.roomId}"]`);
    if (!li || m.kind !== 'message') return;
    li.querySelector('.last').textContent = lastText(m);
    if (m.senderId !== me) {
      setUnread(li, Number(li.querySelector('.unread')?.dataset.unread || 0) + 1);
      announce(`New message from ${m.senderName || 'someone'}`);
    }
    list.prepend(li);
  });
  on('presence', (f) => {
    list.querySelectorAll(`li[data-peer="${f.userId}"] .meta`).forEach((meta) => {
      meta.replaceChildren(presenceEl(f.online, f.lastSeen));
      localTimes(meta);
    });
  });
  on('room_added', async (f) => {
    if (list.querySelector(`li[data-room="${f.roomId}"]`)) return;
    try {
      const all = await api('GET', '/api/rooms');
      const r = (all.items || []).find((x) => x.id === f.roomId);
      if (!r) return;
      list.prepend(item(r));
      await command('subscribe', { roomId: r.id });
      announce(`New conversation: ${r.kind === 'direct' ? r.peer?.displayName : r.name}`);
    } catch { /* offline: shown on the next visit */ }
  });
  // Subscribed again on every (re)connection; what came while offline is
  // in GET /api/rooms, so the list is refreshed from it first.
  let first = true;
  whenConnected(async () => {
    if (!first) {
      try {
        const all = await api('GET', '/api/rooms');
        list.replaceChildren(...(all.items || []).map(item));
      } catch { /* keep what is shown */ }
    }
    first = false;
    await Promise.all(rooms().map((roomId) => command('subscribe', { roomId }).catch(() => {})));
    list.dataset.live = 'true';
  });
  connect().catch(() => {});
}
