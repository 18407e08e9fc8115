// An end-to-end encrypted direct conversation (/chat/{room} of a room with
// `e2ee`): plugs web/assets/e2ee.js into chat.js's codec seam, so messages
// are encrypted on send and decrypted as they are shown; shows this device's
// fingerprint and the other person's devices' fingerprints to compare; says
// when the other person (or you, elsewhere) adds a device. docs/web.md,
// "Encryption".
import { setCodec } from '/assets/chat.js';
import { api, on } from '/assets/site.js';
import { E2ee } from '/assets/e2ee.js';

const data = JSON.parse(document.getElementById('chat-data').textContent);
const e2 = new E2ee({ api, userId: data.me });
const peer = data.peer;
const names = new Map(Object.entries(data.members || {}).map(([id, m]) => [id, m.name]));
const peerName = (peer && names.get(peer)) || 'The other person';
const statusEl = document.getElementById('e2ee-status');
const list = document.getElementById('messages');
/** Why a message could not be read, by its ciphertext (shown instead of the placeholder). */
const failures = new Map();

const REASONS = {
  not_for_this_device: 'Encrypted for your other devices: this device was added after it was sent.',
  unknown_device: 'This message could not be decrypted: it comes from a device that is not listed.',
  undecryptable: 'This message could not be decrypted.',
};
const NOT_SENT = {
  no_devices: `${peerName} has not opened an encrypted conversation on any device yet, so there is no key to encrypt to. Try again once they have.`,
};

async function decode(msg) {
  if (msg.ciphertext == null) return msg.body ?? '';
  try {
    return await e2.decrypt(msg.roomId || data.roomId, msg.senderId, msg.ciphertext);
  } catch (e) {
    failures.set(msg.ciphertext, REASONS[e.code] || REASONS.undecryptable);
    return null;
  }
}

async function encode(text) {
  try {
    // Every member's devices (a direct conversation: the other person).
    const members = Object.keys(data.members || {}).filter((id) => id !== data.me);
    return { ciphertext: await e2.encrypt(data.roomId, members, text, data.maxMessageBytes || 8192) };
  } catch (e) {
    if (NOT_SENT[e.code]) e.message = NOT_SENT[e.code];
    throw e;
  }
}

/** The placeholders chat.js leaves ("Encrypted message") say why they stay so. */
function explainPlaceholders(root) {
  for (const p of root.querySelectorAll('.body.encrypted')) {
    const why = failures.get(p.dataset.ciphertext);
    if (why && p.textContent !== why) p.textContent = why;
  }
}


function fingerprintItem(label, fp, when) {
  const li = document.createElement('li');
  const l = document.createElement('span');
  l.textContent = `${label}: `;
  const code = document.createElement('code');
  code.className = 'fingerprint';
  code.textContent = fp;
  li.append(l, code);
  if (when) {
    const t = document.createElement('span');
    t.className = 'hint';
    t.textContent = ` (added ${new Date(when).toLocaleDateString()})`;
    li.append(t);
  }
  return li;
}

/** Both sides' fingerprints, computed here from the keys. */
async function showFingerprints() {
  const mine = await e2.ensureDevice();
  document.getElementById('my-fingerprint').replaceChildren(fingerprintItem('This device', mine.fingerprint));
  const others = (await e2.devicesOf(data.me)).filter((d) => d.deviceId !== mine.deviceId);
  const myList = document.getElementById('my-other-devices');
  myList.replaceChildren(...others.map((d, i) => fingerprintItem(`Your other device ${i + 1}`, d.fingerprint, d.createdAt)));
  const theirs = peer ? await e2.devicesOf(peer) : [];
  const ul = document.getElementById('peer-fingerprints');
  if (!theirs.length) {
    const li = document.createElement('li');
    li.textContent = `${peerName} has no device with a key yet: messages can be sent once they open this conversation.`;
    ul.replaceChildren(li);
  } else {
    ul.replaceChildren(...theirs.map((d, i) => fingerprintItem(theirs.length === 1 ? `${peerName}'s device` : `${peerName}'s device ${i + 1}`, d.fingerprint, d.createdAt)));
  }
}

function say(text) {
  // Cleared first, so that the same words are announced again.
  statusEl.textContent = '';
  setTimeout(() => { statusEl.textContent = text; }, 50);
}

on('device_added', (f) => {
  if (f.userId !== peer && f.userId !== data.me) return;
  e2.forget(f.userId);
  if (f.userId === data.me && e2.device && f.deviceId === e2.device.deviceId) return;
  const who = f.userId === data.me ? 'You' : peerName;
  say(`${who} added a new device. Its fingerprint is ${f.fingerprint}; compare it with the one on ${f.userId === data.me ? 'that device' : `${peerName}'s screen`}.`);
  showFingerprints().catch((e) => console.error('e2ee:', e));
});

const observer = new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) explainPlaceholders(n);
});
observer.observe(list, { childList: true });

// chat.js's seam, installed before any event can arrive (events come after
// this module has run); it also decrypts what the server rendered.
const installed = setCodec({ decode, encode }).then(() => explainPlaceholders(list));

(async () => {
  try {
    await e2.ensureDevice();
    await showFingerprints();
    await installed;
  } catch (e) {
    say(`Encryption is not available on this device: ${e.message || e}`);
  }
})();

/** For tests: this device and the decrypted texts on the page. */
window.lyceumE2ee = {
  device: () => e2.ensureDevice().then((d) => ({ deviceId: d.deviceId, fingerprint: d.fingerprint })),
  e2,
};
