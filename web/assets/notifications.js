// The notifications page: new ones appear at the top as they arrive (unread,
// with their "Mark as read" button), and "Mark as read" / "Mark all as read"
// happen in place through the API, the bell going down at once. Without this
// script the same buttons are forms the server answers.
import { on, api, connect, announce, whenConnected, setUnread } from '/assets/site.js';

const list = document.getElementById('notifications');
const total = document.getElementById('unread-total');
const markAll = document.getElementById('mark-all');
let unread = Number(list?.dataset.unread) || 0;

/** The page's count in words, the bell and the "Mark all as read" button. */
function showUnread(n) {
  unread = Math.max(0, n);
  if (list) list.dataset.unread = String(unread);
  if (total) total.textContent = unread === 0 ? 'No unread notifications.' : unread === 1 ? '1 unread notification.' : `${unread} unread notifications.`;
  if (markAll) markAll.hidden = unread === 0;
  setUnread(unread);
}

/** A notification shown as read: no badge, no button. */
function markedRead(li) {
  li.classList.remove('unread');
  li.querySelector('.badge.unread')?.remove();
  li.querySelector('form.mark-read')?.remove();
}

/** The "Mark as read" form of a notification (as the server renders it). */
function markForm(id, words) {
  const form = document.createElement('form');
  form.method = 'post';
  form.action = `/notifications/${id}/read`;
  form.className = 'inline mark-read';
  const csrf = document.createElement('input');
  csrf.type = 'hidden'; csrf.name = 'csrf';
  csrf.value = document.querySelector('meta[name="csrf-token"]')?.content || '';
  const button = document.createElement('button');
  button.type = 'submit'; button.className = 'secondary';
  const hidden = document.createElement('span');
  hidden.className = 'visually-hidden';
  hidden.textContent = `: ${words}`;
  button.append('Mark as read', hidden);
  form.append(csrf, button);
  return form;
}

list?.addEventListener('submit', async (e) => {
  const form = e.target.closest('form.mark-read');
  const li = form?.closest('li');
  if (!form || !li?.dataset.id) return;
  e.preventDefault();
  try {
    const v = await api('POST', `/api/notifications/${li.dataset.id}/read`);
    // Focus goes on to the next unread one's button, else to the count.
    const buttons = [...list.querySelectorAll('form.mark-read button')];
    const next = buttons[buttons.indexOf(form.querySelector('button')) + 1] || null;
    markedRead(li);
    showUnread(v.unread);
    (next || total)?.focus();
    announce('Marked as read.');
  } catch {
    form.submit(); // the server says what went wrong, in words
  }
});

markAll?.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api('POST', '/api/notifications/read-all');
    list?.querySelectorAll('li.unread').forEach(markedRead);
    showUnread(0);
    total?.focus();
    announce('All your notifications are marked as read.');
  } catch {
    markAll.submit();
  }
});

// Where a mentorship, review or booking notice leads (as the server
// renders it, `notify::booking_link`).
function linkOf(kind, p) {
  if (kind.startsWith('mentorship_')) return '/mentorships';
  if (kind.startsWith('booking_')) {
    if (p.to === 'mentor') return `/calendar/manage/${p.offeringId}`;
    return p.offeringKind === 'group' ? `/sessions/${p.offeringId}` : '/bookings';
  }
  if (kind.startsWith('review_') && p.about === 'mentor' && p.mentorId) return `/mentors/${p.mentorId}`;
  return null;
}

on('notification', (n) => {
  const li = document.createElement('li');
  const p = n.payload || {};
  const by = p.by?.displayName || 'Someone';
  const words = {
    board_reply: `${by} replied in ${p.title}`,
    board_mention: `${by} mentioned you in ${p.title}`,
    board_answer_accepted: `${by} accepted your answer in ${p.title}`,
    board_moderation: `A moderator acted on your post in ${p.title}`,
    direct_message: `${by} sent you a message while you were away`,
  };
  const what = document.createElement('span');
  if (n.kind.startsWith('mentorship_') || n.kind.startsWith('review_') || n.kind.startsWith('booking_')) {
    // Their title says it in words.
    const href = linkOf(n.kind, p);
    const el = document.createElement(href ? 'a' : 'span');
    if (href) el.href = href;
    el.textContent = p.title || '';
    what.append(el);
  } else {
    what.textContent = n.kind === 'reminder' ? `Reminder: ${p.title || ''} starts ${new Date(p.startsAt).toLocaleString()}` : (words[n.kind] || `${n.kind.replace(/_/g, ' ')}${p.title ? `: ${p.title}` : ''}`);
  }
  const text = what.textContent;
  const badge = document.createElement('span');
  badge.className = 'badge unread';
  badge.textContent = 'Unread';
  li.className = 'unread';
  if (n.id != null) { li.id = `n-${n.id}`; li.dataset.id = String(n.id); }
  li.append(badge, ' ', what);
  if (n.id != null) li.append(' ', markForm(n.id, n.kind === 'reminder' ? `Reminder: ${p.title || ''}` : text));
  list?.prepend(li);
  showUnread(unread + 1);
  announce(text);
});
whenConnected(() => { if (list) list.dataset.live = 'true'; });
connect().catch(() => {});
