// The notifications page: opening it marks everything seen (the bell's
// count), and new ones appear at the top as they arrive.
import { on, connect, announce } from '/assets/site.js';

localStorage.setItem('lyceum.notifications.seen', new Date().toISOString());
const list = document.getElementById('notifications');
on('notification', (n) => {
  const li = document.createElement('li');
  const p = n.payload || {};
  li.textContent = n.kind === 'reminder' ? `Reminder: ${p.title || ''} starts ${new Date(p.startsAt).toLocaleString()}` : `${n.kind.replace(/_/g, ' ')}${p.title ? `: ${p.title}` : ''}`;
  list?.prepend(li);
  announce(li.textContent);
});
connect().catch(() => {});
