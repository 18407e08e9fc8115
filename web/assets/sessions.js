// A session's page: when its host starts it, the "Join" link appears without
// a reload and is announced; seats left change live; the end is said too.
import { connect, command, on, whenConnected, announce } from '/assets/site.js';

const slot = document.getElementById('join-slot');
if (slot) {
  const { session, mentor } = slot.dataset;
  on('slot_updated', (ev) => {
    const s = ev.slot;
    if (!s || s.id !== session) return;
    const seats = document.querySelector(`[data-seats="${session}"]`);
    if (seats) seats.textContent = `${s.remainingSeats} of ${s.maxParticipants} seats left`;
    if (s.state === 'live' && !document.getElementById('join')) {
      const a = document.createElement('a');
      a.id = 'join';
      a.className = 'button secondary';
      a.href = `/app/#session=${session}`;
      a.dataset.session = session;
      a.textContent = 'Join the live session';
      const badge = document.createElement('span');
      badge.className = 'badge live';
      badge.textContent = 'Live now';
      slot.replaceChildren(badge, ' ', a);
      announce(`${s.title} is live now. Join the live session.`);
    } else if (s.state === 'completed' || s.state === 'cancelled') {
      slot.textContent = s.state === 'completed' ? 'This session has ended.' : 'This session was cancelled.';
      announce(slot.textContent);
    }
  });
  whenConnected(() => command('watch_calendar', { mentorId: mentor }).then(() => { document.body.dataset.watching = 'true'; }).catch(() => {}));
  connect().catch(() => {});
}
