// End-to-end encrypted direct messages (docs/web.md, "Encryption").
//
// Each browser is a device with its own ECDH P-256 key pair, made here and
// kept in IndexedDB: the private key is created non-extractable, so even
// this page's scripts cannot read its bytes, only use it. The public key is
// published (PUT /api/me/devices/{deviceId}/key) as the 65-byte uncompressed
// point in base64.
//
// A message is encrypted once, under a fresh AES-GCM key; that key is then
// wrapped for every device of the conversation (the other person's and the
// sender's own, this one included) under a key derived from ECDH between the
// sender's device and that device (HKDF-SHA-256). The envelope, a JSON text
// sent as the message's `ciphertext`:
//
//   {"v":1, "from":"<sender device id>", "iv":"<b64, 12 bytes>",
//    "ct":"<b64 AES-GCM ciphertext of the UTF-8 text, tag included>",
//    "keys":{"<device id>":"<b64: 12-byte iv ‖ wrapped 32-byte key ‖ tag>", …}}
//
// The message's AES-GCM additional data binds it to the room and to the
// sending device ("lyceum-e2ee/1|<roomId>|<from>"); each wrapped key's binds
// it to the pair ("lyceum-e2ee/1|<roomId>|<from>|<to>"), so the server cannot
// move a ciphertext to another room or claim another sender device.

const VERSION = 1;
const DB_NAME = 'lyceum-e2ee';
const STORE = 'devices';
const enc = new TextEncoder();
const dec = new TextDecoder();

export function toB64(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromB64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The fingerprint of a public key (its 65 bytes, base64): SHA-256, its first
 * 30 bytes read as six 5-byte big-endian numbers, each shown as five digits
 * (mod 100,000). The server lists the same; the page shows what it computes.
 */
export async function fingerprint(publicKeyB64) {
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', fromB64(publicKeyB64)));
  const groups = [];
  for (let g = 0; g < 6; g++) {
    let n = 0;
    for (let i = 0; i < 5; i++) n = n * 256 + hash[g * 5 + i];
    groups.push(String(n % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function dbGet(key) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const req = db.transaction(STORE).objectStore(STORE).get(key);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function dbPut(key, value) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return 'web-' + toB64(b).replace(/\+/g, '-').replace(/\//g, '_');
}

async function importPublic(rawB64) {
  return crypto.subtle.importKey('raw', fromB64(rawB64), { name: 'ECDH', namedCurve: 'P-256' }, false, []);
}

/**
 * The encryption of one signed-in user in this browser.
 * `api(method, path, body)` calls the API and resolves to the parsed JSON
 * (throwing an error with `.code` on a refusal); `userId` is the user.
 */
export class E2ee {
  constructor({ api, userId }) {
    this.api = api;
    this.userId = userId;
    this.device = null; // { deviceId, privateKey, publicRaw, fingerprint }
    this.deviceP = null; // the promise of it (one load or creation at a time)
    this.devices = new Map(); // user id -> Promise<[{deviceId, publicKey, fingerprint, createdAt}]>
    this.pairKeys = new Map(); // "<deviceId>|<publicKey>" -> Promise<CryptoKey>
  }

  /**
   * This browser's device for the user: loaded from IndexedDB, or made and
   * stored; published on the server if the server does not have it.
   */
  ensureDevice() {
    if (!this.deviceP) {
      this.deviceP = this.loadDevice();
      this.deviceP.catch(() => { this.deviceP = null; });
    }
    return this.deviceP;
  }

  async loadDevice() {
    const key = `user:${this.userId}`;
    let d = await dbGet(key);
    if (!d) {
      const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
      const raw = toB64(await crypto.subtle.exportKey('raw', pair.publicKey));
      d = { deviceId: randomId(), privateKey: pair.privateKey, publicRaw: raw };
      await dbPut(key, d);
    }
    const mine = await this.devicesOf(this.userId, true);
    if (!mine.some((x) => x.deviceId === d.deviceId && x.publicKey === d.publicRaw)) {
      await this.api('PUT', `/api/me/devices/${encodeURIComponent(d.deviceId)}/key`, { publicKey: d.publicRaw });
      this.devices.delete(this.userId);
    }
    this.device = { ...d, fingerprint: await fingerprint(d.publicRaw) };
    return this.device;
  }

  /** A user's devices as the server lists them, each with the fingerprint computed here. */
  devicesOf(userId, fresh = false) {
    if (fresh || !this.devices.has(userId)) {
      const p = this.api('GET', `/api/users/${encodeURIComponent(userId)}/devices`).then(async (r) =>
        Promise.all(r.devices.map(async (d) => ({ ...d, fingerprint: await fingerprint(d.publicKey) }))),
      );
      this.devices.set(userId, p);
      p.catch(() => this.devices.delete(userId));
    }
    return this.devices.get(userId);
  }

  /** Forget what is known of a user's devices (after `device_added`). */
  forget(userId) {
    this.devices.delete(userId);
  }

  /** The AES-GCM key this device shares with another device (ECDH, then HKDF-SHA-256). */
  pairKey(deviceId, publicKey) {
    const k = `${deviceId}|${publicKey}`;
    if (!this.pairKeys.has(k)) {
      const p = (async () => {
        const peer = await importPublic(publicKey);
        const bits = await crypto.subtle.deriveBits({ name: 'ECDH', public: peer }, this.device.privateKey, 256);
        const hkdf = await crypto.subtle.importKey('raw', bits, 'HKDF', false, ['deriveKey']);
        return crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: enc.encode('lyceum-e2ee/1 pair') },
          hkdf,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        );
      })();
      this.pairKeys.set(k, p);
      p.catch(() => this.pairKeys.delete(k));
    }
    return this.pairKeys.get(k);
  }

  /**
   * Encrypts `text` for every device of `userIds` (the sender's own are
   * always added): the envelope as a string, for `ciphertext`. Throws an
   * error with `.code = "message_too_large"` past `maxBytes`, and
   * `"no_devices"` when the other person has no device yet.
   */
  async encrypt(roomId, userIds, text, maxBytes = 8192) {
    const me = await this.ensureDevice();
    const users = [...new Set([this.userId, ...userIds])];
    const lists = await Promise.all(users.map((u) => this.devicesOf(u)));
    const others = lists.slice(1).flat();
    if (users.length > 1 && others.length === 0) {
      throw Object.assign(new Error('The other person has not opened an encrypted conversation on any device yet.'), { code: 'no_devices' });
    }
    const targets = lists.flat();
    if (!targets.some((d) => d.deviceId === me.deviceId)) targets.push({ deviceId: me.deviceId, publicKey: me.publicRaw });
    const messageKey = crypto.getRandomValues(new Uint8Array(32));
    const aesKey = await crypto.subtle.importKey('raw', messageKey, 'AES-GCM', false, ['encrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: enc.encode(`lyceum-e2ee/1|${roomId}|${me.deviceId}`) },
      aesKey,
      enc.encode(text),
    );
    const keys = {};
    for (const d of targets) {
      const pk = await this.pairKey(d.deviceId, d.publicKey);
      const wiv = crypto.getRandomValues(new Uint8Array(12));
      const wrapped = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: 'AES-GCM', iv: wiv, additionalData: enc.encode(`lyceum-e2ee/1|${roomId}|${me.deviceId}|${d.deviceId}`) },
          pk,
          messageKey,
        ),
      );
      const both = new Uint8Array(12 + wrapped.length);
      both.set(wiv);
      both.set(wrapped, 12);
      keys[d.deviceId] = toB64(both);
    }
    const envelope = JSON.stringify({ v: VERSION, from: me.deviceId, iv: toB64(iv), ct: toB64(ct), keys });
    if (enc.encode(envelope).length > maxBytes) {
      throw Object.assign(new Error('This message is too long to send encrypted; shorten it.'), { code: 'message_too_large' });
    }
    return envelope;
  }

  /**
   * Decrypts an envelope `senderId` sent in `roomId`: the text, or throws
   * (`.code`: "not_for_this_device" when it was sent before this device
   * existed, "unknown_device" when the sender's device is not listed,
   * "undecryptable" when it was altered or is not an envelope).
   */
  async decrypt(roomId, senderId, ciphertext) {
    const me = await this.ensureDevice();
    let e;
    try {
      e = JSON.parse(ciphertext);
    } catch {
      throw Object.assign(new Error('not an envelope'), { code: 'undecryptable' });
    }
    if (!e || e.v !== VERSION || typeof e.from !== 'string' || !e.keys || typeof e.keys !== 'object') {
      throw Object.assign(new Error('not an envelope'), { code: 'undecryptable' });
    }
    const wrapped = e.keys[me.deviceId];
    if (!wrapped) throw Object.assign(new Error('sent before this device was added'), { code: 'not_for_this_device' });
    let sender = (await this.devicesOf(senderId)).find((d) => d.deviceId === e.from);
    if (!sender) sender = (await this.devicesOf(senderId, true)).find((d) => d.deviceId === e.from);
    if (!sender) throw Object.assign(new Error('the sending device is not listed'), { code: 'unknown_device' });
    try {
      const pk = await this.pairKey(sender.deviceId, sender.publicKey);
      const w = fromB64(wrapped);
      const messageKey = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: w.subarray(0, 12), additionalData: enc.encode(`lyceum-e2ee/1|${roomId}|${e.from}|${me.deviceId}`) },
        pk,
        w.subarray(12),
      );
      const aesKey = await crypto.subtle.importKey('raw', messageKey, 'AES-GCM', false, ['decrypt']);
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: fromB64(e.iv), additionalData: enc.encode(`lyceum-e2ee/1|${roomId}|${e.from}`) },
        aesKey,
        fromB64(e.ct),
      );
      return dec.decode(plain);
    } catch {
      throw Object.assign(new Error('the message could not be decrypted'), { code: 'undecryptable' });
    }
  }
}
