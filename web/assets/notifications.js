// The notifications page: opening it marks everything seen (the bell's
// count), and new ones appear at the top as they arrive.
import { on, connect, announce, whenConnected } from '/assets/site.js';

localStorage.setItem('lyceum.notifications.seen', new Date().toISOString());
const list = document.getElementById('notifications');

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
  if (n.kind.startsWith('mentorship_') || n.kind.startsWith('review_') || n.kind.startsWith('booking_')) {
    // Their title says it in words.
    const href = linkOf(n.kind, p);
    const el = document.createElement(href ? 'a' : 'span');
    if (href) el.href = href;
    el.textContent = p.title || '';
    li.append(el);
  } else {
    li.textContent = n.kind === 'reminder' ? `Reminder: ${p.title || ''} starts ${new Date(p.startsAt).toLocaleString()}` : (words[n.kind] || `${n.kind.replace(/_/g, ' ')}${p.title ? `: ${p.title}` : ''}`);
  }
  list?.prepend(li);
  announce(li.textContent);
});
whenConnected(() => { if (list) list.dataset.live = 'true'; });
connect().catch(() => {});
