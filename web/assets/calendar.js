// The mentor's calendar: seats and the waitlist change live as mentees book
// and cancel (watch_calendar on the mentor's own calendar), each change is
// announced, and a slot added elsewhere (another tab, the API) is offered
// as a refresh.
import { connect, command, on, whenConnected, announce } from '/assets/site.js';

const live = document.getElementById('calendar-live');
if (live) {
  const mentorId = live.dataset.mentor;
  const text = (s) => `${s.bookedCount} of ${s.maxParticipants} booked${s.waitlistCount > 0 ? `, ${s.waitlistCount} waiting` : ''}`;
  const update = (ev) => {
    const s = ev.slot;
    if (!s || ev.mentorId !== mentorId) return;
    const els = document.querySelectorAll(`[data-seats="${s.id}"]`);
    if (els.length === 0) {
      if (ev.type === 'slot_created') {
        live.innerHTML = '';
        const p = document.createElement('p');
        p.className = 'notice ok';
        p.setAttribute('role', 'status');
        const a = document.createElement('a');
        a.href = location.pathname + location.search;
        a.textContent = 'Refresh to see it';
        p.append(`New in your calendar: ${s.title || 'a slot'} on ${s.date} at ${s.startTime}. `, a);
        live.append(p);
      }
      return;
    }
    const changed = [...els].some((el) => el.textContent !== text(s));
    els.forEach((el) => {
      el.textContent = ev.type === 'slot_deleted' || s.state === 'cancelled' ? 'Cancelled' : text(s);
      el.dataset.remaining = String(s.remainingSeats);
    });
    if (changed) announce(`${s.title || `Slot at ${s.startTime}`} on ${s.date}: ${text(s)}`);
  };
  ['slot_created', 'slot_updated', 'slot_deleted'].forEach((t) => on(t, update));
  whenConnected(() => command('watch_calendar', { mentorId }).then(() => { document.body.dataset.watching = 'true'; }).catch(() => {}));
  connect().catch(() => {});
}
