// My bookings: statuses and waitlist numbers change live. A holder of a
// booking gets its slot's events without watching (slot_updated), and
// booking_promoted / booking_cancelled personally; on any of them for a
// booking on this page the page reads /api/slots/my-bookings again and
// rewrites the status cells, announcing what changed.
import { on, connect, api, announce, signedIn, whenConnected } from '/assets/site.js';

const text = (b) => {
  if (b.status === 'confirmed') return 'Confirmed';
  if (b.status === 'waitlisted') return `Waitlist, number ${b.waitlistPosition ?? 0}`;
  if (b.status === 'cancelled') return 'Cancelled';
  return b.status;
};
const offerings = () => new Set([...document.querySelectorAll('tr[data-booking] input[name="offeringId"]')].map((i) => i.value));

let again = false; let busy = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const v = await api('GET', '/api/slots/my-bookings');
    for (const b of v.items || []) {
      const cell = document.querySelector(`tr[data-booking="${b.id}"] [data-status]`);
      const node = cell?.firstChild;
      if (!node || node.nodeType !== Node.TEXT_NODE) continue;
      const now = text(b);
      if (node.nodeValue.trim() === now) continue;
      const title = (b.slot && (b.slot.title || `Slot with ${b.slot.mentorName}`)) || 'A booking';
      node.nodeValue = now;
      cell.dataset.status = b.status;
      announce(b.status === 'confirmed' ? `${title}: your seat is confirmed` : `${title}: ${now}`);
    }
    document.body.dataset.bookingsChecked = String(Date.now());
  } catch { /* offline or signed out: the page stays as rendered */ }
  busy = false;
  if (again) { again = false; refresh(); }
}

if (signedIn() && document.querySelector('tr[data-booking]')) {
  on('booking_promoted', refresh);
  on('booking_cancelled', refresh);
  on('slot_updated', (ev) => { if (ev.slot && offerings().has(ev.slot.id)) refresh(); });
  // After a reconnection, whatever was missed meanwhile.
  let first = true;
  whenConnected(() => { if (first) { first = false; return; } refresh(); });
  connect().catch(() => {});
}
