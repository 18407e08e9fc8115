// A mentor's page: remaining seats change live as people book and cancel
// (watch_calendar), and the change is announced.
import { signedIn, connect, command, on, whenConnected, announce } from '/assets/site.js';

const list = document.getElementById('slots');
if (list && signedIn()) {
  const mentorId = list.dataset.mentor;
  const update = (ev) => {
    const slot = ev.slot;
    if (!slot) return;
    const el = document.querySelector(`[data-seats="${slot.id}"]`);
    if (!el) return;
    // As rendered ("2 of 2 seats left") until the first live change.
    const before = el.dataset.remaining ?? el.textContent.trim().match(/^\d+/)?.[0];
    el.textContent = `${slot.remainingSeats} of ${slot.maxParticipants} seats left`;
    el.dataset.remaining = String(slot.remainingSeats);
    if (before !== undefined && before !== String(slot.remainingSeats)) {
      announce(`${slot.title || 'A slot'}: ${slot.remainingSeats} seats left`);
    }
    if (ev.type === 'slot_deleted' || slot.state === 'cancelled') el.textContent = 'This slot was cancelled';
  };
  ['slot_created', 'slot_updated', 'slot_deleted'].forEach((t) => on(t, (ev) => { if (ev.mentorId === mentorId) update(ev); }));
  whenConnected(() => command('watch_calendar', { mentorId }).then(() => { document.body.dataset.watching = 'true'; }).catch(() => {}));
  connect().catch(() => {});
}
