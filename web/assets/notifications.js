// The notifications page: opening it marks everything seen (the bell's
// count), and new ones appear at the top as they arrive.
import { on, connect, announce } from '/assets/site.js';

localStorage.setItem('lyceum.notifications.seen', new Date().toISOString());
const list = document.getElementById('notifications');
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
  li.textContent = n.kind === 'reminder' ? `Reminder: ${p.title || ''} starts ${new Date(p.startsAt).toLocaleString()}` : (words[n.kind] || `${n.kind.replace(/_/g, ' ')}${p.title ? `: ${p.title}` : ''}`);
  list?.prepend(li);
  announce(li.textContent);
});
connect().catch(() => {});
