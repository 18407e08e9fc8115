// Lyceum live: group sessions and one-on-one calls over the SFU.
// Plain ES module, no build step. Signalling: docs/live.md over the
// WebSocket of docs/protocol.md.

const $ = (sel) => document.querySelector(sel);
const PUBLISHERS = new Set(['host', 'speaker']);
const CMD_TIMEOUT_MS = 20000;
// The camera: 1280x720, three simulcast layers listed high to low. Chromium
// encodes only as many layers as the input size allows (three from 960x540
// up, two below) and drops the ones listed last, so the top layer goes
// first: it is always encoded, at the full 1280x720.
const CAMERA = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
const SIMULCAST = [
  { rid: 'h', maxBitrate: 1500000 },
  { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150000 },
];
// The layer widths (at 1280x720) the subscriber's quality hint chooses by.
const LAYER_WIDTHS = { low: 320, medium: 640 };

const state = {
  token: null, refreshToken: null, me: null,
  ws: null, online: false, nextId: 1, pending: new Map(),
  sessionId: null, kind: null, role: null, roomState: null,
  participants: new Map(), // userId -> participant
  tracks: new Map(),       // subscribe mid -> {userId, kind, source, trackId}
  pubPc: null, subPc: null, gen: 0,
  localStream: null, screenStream: null,
  camTx: null, micTx: null, screenTx: null, sources: new Map(), // transceiver -> source
  audioOn: true, videoOn: true, handRaised: false,
  activeSpeaker: null,
  quality: null,       // the last rtc_quality sent (the SFU starts at high)
  call: null,          // {callId, direction: 'outgoing'|'incoming', status, from, video}
  lastCallEnded: null, // the last call_ended event
  lastSessionEnded: null,
  sessionInfo: new Map(), // session id -> GET /api/sessions/{id} (title, mentorName)
  handsAt: new Map(),
  calls: new Map(),    // callId -> {direction, peerName}: kept for its call_ended, which may come after the room is gone  // userId -> when their hand went up (the host's queue)
  chat: null,          // the session's chat: {sessionId, roomId, lastSeq, items: Map seq -> element}
  rejoining: null,     // session id being rejoined after the WebSocket dropped
  autoJoin: null,      // session id to join once connected (and retry while not live)
  events: [],          // every event and error received, for tests (no SDP)
};

// ---------------------------------------------------------------- log

function log(...parts) {
  const line = `${new Date().toISOString().slice(11, 23)} ${parts.map((p) => (typeof p === 'string' ? p : brief(p))).join(' ')}`;
  const el = $('#log');
  el.textContent += line + '\n';
  if (el.textContent.length > 60000) el.textContent = el.textContent.slice(-40000);
  el.scrollTop = el.scrollHeight;
  console.log(line);
}

function brief(obj) {
  return JSON.stringify(obj, (k, v) => (k === 'sdp' && typeof v === 'string' ? `<sdp ${v.length}B>` : v));
}

function showError(msg) {
  msg = msg || '';
  // The same sentence again (a retry) is not announced again.
  if ($('#error').textContent !== msg) $('#error').textContent = msg;
  if (msg) log('!', msg);
}

/** Shows `e` (a server error with a `code`, a media error, or a message) as
 *  a sentence in the alert region. */
function fail(e, what) {
  log('!', what || '', e?.code || e?.name || '', e?.message || String(e));
  showError(explain(e, what));
}

// The protocol's error codes (docs/live.md, docs/protocol.md) in words.
const ERRORS = {
  session_not_found: 'There is no such session or call. Check the link you followed.',
  slot_not_found: 'There is no such session. Check the link you followed.',
  session_not_live: 'The host has not started this session yet.',
  not_registered: 'You are not registered for this session. Register on the session\'s page first.',
  not_in_session: 'You are not in this room any more. Join it again.',
  invalid_sdp: 'Your browser and the media server could not agree on how to send video. Reload the page and try again.',
  call_not_found: 'That call is over.',
  call_not_allowed: 'You cannot call this person.',
  busy: 'They are in another call. Try again later.',
  sfu_unavailable: 'The media server is not available right now. Try again in a minute.',
  overloaded: 'The server is busy right now. Try again in a moment.',
  unavailable: 'The room closed just as you asked. Join it again.',
  rate_limited: 'Too many requests at once. Wait a moment and try again.',
  invalid_frame: 'The page sent something the server could not read. Reload the page and try again.',
  invalid_command: 'The server did not accept that. Reload the page and try again.',
  user_not_found: 'There is no such person.',
  token_revoked: 'You were signed out. Sign in again.',
  token_expired: 'Your sign-in expired. Sign in again.',
  closed: 'You are offline. The page reconnects by itself; try again in a moment.',
  timeout: 'The server did not answer in time. Try again.',
  internal_error: 'Something went wrong on our side. Try again.',
  database_unavailable: 'Something went wrong on our side. Try again in a minute.',
};

function explain(e, what) {
  if (!e) return '';
  if (typeof e === 'string') return e;
  const code = e.code;
  if (code === 'forbidden') {
    if (what === 'join') return 'You may not join this session: the host removed you from it, or your account cannot join live rooms.';
    if (what === 'call') return 'You may not call this person.';
    return 'Your role in this room does not allow that.';
  }
  if (code === 'invalid_frame' && what === 'call') return 'That is not a user id. Paste the id of the person you want to call.';
  if (code && ERRORS[code]) return ERRORS[code];
  switch (e.name) {
    case 'NotAllowedError': return 'The page may not use your camera or microphone. Allow them in the browser\'s site settings, then reload.';
    case 'NotFoundError': return 'No camera or microphone was found. Connect one and try again.';
    case 'NotReadableError': return 'Your camera or microphone is in use by another program.';
    case 'OverconstrainedError': return 'Your camera cannot send the picture size the room needs.';
    default: break;
  }
  // A server error we have no sentence for: its message, without the code.
  return e.serverMessage ? `That did not work: ${e.serverMessage}.` : `That did not work: ${e.message || e}.`;
}

/** A notice that stays until dismissed (the session ended, you were removed). */
function showNotice(text) {
  $('#notice-text').textContent = text || '';
  $('#notice').hidden = !text;
  if (text) log('notice:', text);
}

function announce(text) {
  // Cleared first so that the same words are announced again.
  const el = $('#announce');
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 50);
}

function setState(s) {
  document.body.dataset.state = s;
  // While joining the room is shown only when rejoining it (after a drop):
  // an attendee's retries while the host has not started do not flash it.
  const inRoom = s === 'joined' || s === 'in-call' || (s === 'joining' && !!state.rejoining);
  $('#login').hidden = s !== 'signed-out';
  $('#lobby').hidden = s === 'signed-out' || s === 'loading';
  // In a room the lobby keeps only what a call needs (an incoming call, its status).
  $('#join-form').hidden = $('#call-form').hidden = inRoom;
  $('#room').hidden = !inRoom;
}

function idleState() {
  if (state.sessionId) return state.kind === 'call' ? 'in-call' : 'joined';
  if (state.rejoining) return 'joining';
  if (state.call) return state.call.direction === 'incoming' ? 'ringing' : 'calling';
  return state.online ? 'idle' : 'connecting';
}

const refreshState = () => setState(idleState());

// ---------------------------------------------------------------- HTTP

async function api(method, path, body, token = state.token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw Object.assign(new Error(data?.message || res.statusText), { code: data?.error, status: res.status });
  return data;
}

/** An access token of the page sign-in (docs/web.md): `POST /web/token`
 *  with this page's CSRF token. It rotates nothing, so every tab shares the
 *  sign-in; signing out on the pages ends it here too. */
async function pageToken() {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || '';
  const res = await fetch('/web/token', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(data?.message || res.statusText), { code: data?.error, status: res.status });
  return data;
}

async function signIn(email, password) {
  const s = await api('POST', '/api/auth/login', { email, password }, null);
  await useToken(s.accessToken, s.refreshToken, s.user);
}

async function useToken(token, refreshToken = null, user = null) {
  state.token = token;
  state.refreshToken = refreshToken;
  sessionStorage.setItem('lyceum.token', token);
  if (refreshToken) sessionStorage.setItem('lyceum.refresh', refreshToken);
  state.me = user || (await api('GET', '/api/me'));
  $('#me').textContent = `Signed in as ${state.me.displayName} (${state.me.role})`;
  $('#signout').hidden = false;
  connect();
  const callee = $('#call-user').value.trim();
  if (callee) {
    api('GET', `/api/users/${encodeURIComponent(callee)}`)
      .then((u) => { if (u?.displayName && $('#call-user').value.trim() === callee) $('#call').textContent = `Call ${u.displayName}`; })
      .catch((e) => log('! the person to call:', e.message));
  }
}

// Access tokens live 15 minutes: refresh and `reauth` the socket before.
setInterval(async () => {
  if (!(state.refreshToken || state.cookieSession) || !state.ws) return;
  try {
    const s = state.cookieSession ? await pageToken() : await api('POST', '/api/auth/refresh', { refreshToken: state.refreshToken }, null);
    state.token = s.accessToken;
    sessionStorage.setItem('lyceum.token', s.accessToken);
    if (!state.cookieSession) {
      state.refreshToken = s.refreshToken;
      sessionStorage.setItem('lyceum.refresh', s.refreshToken);
    }
    await cmd('reauth', { token: s.accessToken });
  } catch (e) { log('! refresh failed', e.message); }
}, 12 * 60 * 1000);

// ---------------------------------------------------------------- WebSocket

async function connect() {
  if (state.ws) return;
  setConn('connecting');
  try {
    const { ticket } = await api('POST', '/api/ws/ticket');
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    state.ws = ws;
    ws.onmessage = (m) => onFrame(JSON.parse(m.data));
    ws.onclose = (e) => onClose(ws, e);
  } catch (e) {
    log('! connect failed', e.message);
    if (e.status === 401) return signOut();
    setTimeout(connect, 2000);
  }
}

function onClose(ws, e) {
  if (state.ws !== ws) return;
  log(`socket closed ${e.code} ${e.reason || ''}`);
  state.ws = null;
  state.online = false;
  setConn('offline');
  for (const [, p] of state.pending) p.reject(Object.assign(new Error('connection closed'), { code: 'closed' }));
  state.pending.clear();
  if (state.sessionId && state.kind === 'session') {
    // Back into the same room as soon as the connection is back.
    state.autoJoin = state.sessionId;
    state.rejoining = state.sessionId;
    showNotice('The connection dropped. Reconnecting and rejoining the room…');
  } else if (state.sessionId || state.call) {
    showNotice('The connection dropped, and the call ended with it.');
  }
  if (state.sessionId) teardown('connection_lost');
  state.call = null;
  // 4004: the token was revoked (signed out, role changed): sign in again.
  if (e.code === 4004) return signOut();
  if (state.token) setTimeout(connect, 1500);
}

const CONN_WORDS = { connecting: 'Connecting…', online: 'Online', offline: 'Offline, reconnecting…' };
function setConn(s) {
  $('#conn').textContent = CONN_WORDS[s] || s;
  $('#conn').dataset.conn = s;
  if (!state.sessionId && !state.call && !state.rejoining) setState(s === 'online' ? 'idle' : 'connecting');
}

function cmd(type, fields = {}) {
  return new Promise((resolve, reject) => {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return reject(Object.assign(new Error('not connected'), { code: 'closed' }));
    const id = `c${state.nextId++}`;
    const timer = setTimeout(() => {
      state.pending.delete(id);
      reject(Object.assign(new Error(`${type}: no answer`), { code: 'timeout' }));
    }, CMD_TIMEOUT_MS);
    state.pending.set(id, {
      resolve: (v) => { clearTimeout(timer); resolve(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    const frame = { id, type, ...fields };
    log('→', frame);
    ws.send(JSON.stringify(frame));
  });
}

function onFrame(f) {
  if ((f.type === 'ack' || f.type === 'error') && f.id != null && state.pending.has(f.id)) {
    const p = state.pending.get(f.id);
    state.pending.delete(f.id);
    log('←', f);
    if (f.type === 'ack') p.resolve(f);
    else p.reject(Object.assign(new Error(`${f.code}: ${f.message}`), { code: f.code, serverMessage: f.message }));
    return;
  }
  log('←', f);
  const { sdp, ...rest } = f;
  state.events.push(rest);
  if (state.events.length > 500) state.events.splice(0, 100);
  const h = handlers[f.type];
  if (h) Promise.resolve(h(f)).catch((e) => fail(e, f.type));
}

const inRoom = (f) => f.sessionId != null && f.sessionId === state.sessionId;

const handlers = {
  hello(f) {
    state.online = true;
    setConn('online');
    if (state.autoJoin && !state.sessionId) join(state.autoJoin).catch(() => {});
  },
  participant_joined(f) { if (inRoom(f)) { state.participants.set(f.participant.userId, f.participant); noteHand(f.participant); renderPeople(); syncTiles(); } },
  participant_updated(f) { if (inRoom(f)) onParticipantUpdated(f.participant); },
  participant_left(f) {
    if (!inRoom(f)) return;
    state.participants.delete(f.userId);
    state.handsAt.delete(f.userId);
    for (const [mid, t] of state.tracks) if (t.userId === f.userId) state.tracks.delete(mid);
    renderPeople();
    syncTiles();
  },
  rtc_offer(f) { if (inRoom(f)) return subQueue(() => applyServerOffer(f.sdp, f.tracks)); },
  active_speaker(f) {
    if (!inRoom(f)) return;
    state.activeSpeaker = f.userId;
    for (const t of document.querySelectorAll('.tile')) t.classList.toggle('speaking', t.dataset.userId === f.userId);
  },
  muted(f) {
    if (!inRoom(f)) return;
    if (f.kind === 'audio') setMic(false, false);
    else setCamera(false, false);
    showNotice(f.kind === 'audio'
      ? 'The host muted your microphone. Unmute it when you want to speak.'
      : 'The host turned off your camera. Turn it back on when you are ready.');
  },
  session_state(f) {
    if (inRoom(f)) { state.roomState = f.state; renderRoomHeader(); }
  },
  session_ended(f) {
    state.lastSessionEnded = f;
    if (state.autoJoin === f.sessionId) state.autoJoin = null;
    if (state.rejoining === f.sessionId) state.rejoining = null;
    if (!inRoom(f)) return;
    const text = endedText(f.reason, state.role, titleOf(f.sessionId));
    teardown(f.reason);
    showNotice(text);
  },
  call_incoming(f) {
    if (state.call || state.sessionId) { log('busy: another call or room is open'); }
    if (state.call) return;
    state.call = { callId: f.callId, direction: 'incoming', status: 'ringing', from: f.from, video: f.video, peerName: f.from?.displayName };
    rememberCall(state.call);
    renderCall();
    announce(`${f.from?.displayName || 'Someone'} is calling you${f.video ? ' (video call)' : ''}. Accept or decline.`);
  },
  message(f) { chatEvent(f, true); },
  removed(f) {
    if (state.chat?.roomId !== f.roomId) return;
    $('#chat-form').hidden = true;
    $('#chat-note').hidden = false;
    $('#chat-note').textContent = 'You are no longer registered for this session, so you cannot write in its chat.';
  },
  call_ringing(f) { if (state.call?.callId === f.callId) { state.call.status = 'ringing'; renderCall(); } },
  call_accepted(f) {
    if (state.call?.callId !== f.callId) return;
    state.call.status = 'accepted';
    renderCall();
    return join(f.sessionId);
  },
  call_ended(f) {
    state.lastCallEnded = f;
    const mine = state.call?.callId === f.callId ? state.call : null;
    const known = state.calls.get(f.callId);
    const other = mine?.peerName || known?.peerName || (state.sessionId === f.callId ? otherName() : null) || 'The other person';
    const text = callEndedText(f.reason, mine?.direction || known?.direction, other);
    state.calls.delete(f.callId);
    if (mine) state.call = null;
    if (state.sessionId === f.callId) teardown(f.reason);
    renderCall();
    if (!state.call) $('#call-status').textContent = text;
  },
};

// ---------------------------------------------------------------- ICE servers

// The TURN relay for networks that block UDP to the SFU (docs/live.md
// "TURN"): `GET /api/live/ice-servers` gives this user a credential that
// expires; it is fetched when joining a room and again before it runs out.
// `?relay=1` on the page's address (e.g. /app/?relay=1#session=…) forces
// every peer connection through the relay (iceTransportPolicy "relay").
const FORCE_RELAY = new URLSearchParams(location.search).get('relay') === '1';
const DEBUG = new URLSearchParams(location.search).get('debug') === '1';
let ice = null; // {user, iceServers, expiresAt (ms or null), timer}

function rtcConfig() {
  return { bundlePolicy: 'max-bundle', iceServers: ice?.iceServers || [], iceTransportPolicy: FORCE_RELAY ? 'relay' : 'all' };
}

async function ensureIce() {
  const user = state.me?.id;
  if (ice && ice.user === user && (ice.expiresAt === null || ice.expiresAt - Date.now() > 120000)) return;
  try {
    const r = await api('GET', '/api/live/ice-servers');
    clearTimeout(ice?.timer);
    const expiresAt = r.expiresAt ? Date.parse(r.expiresAt) : null;
    ice = { user, iceServers: r.iceServers || [], expiresAt, timer: null };
    // Refresh ahead of expiry; open connections take the new credential
    // at their next ICE restart.
    if (expiresAt !== null) ice.timer = setTimeout(() => ensureIce().catch(() => {}), Math.max(30000, expiresAt - Date.now() - 300000));
    for (const pc of [state.pubPc, state.subPc]) {
      if (pc && pc.signalingState !== 'closed') pc.setConfiguration({ ...pc.getConfiguration(), ...rtcConfig() });
    }
    if (ice.iceServers.length || FORCE_RELAY) log(`ICE servers: ${ice.iceServers.flatMap((x) => x.urls).join(' ') || 'none'}${FORCE_RELAY ? ' (relay only)' : ''}`);
  } catch (e) {
    log('! ICE servers:', e.message);
  }
}

// ---------------------------------------------------------------- rooms

function makeQueue() {
  let tail = Promise.resolve();
  return (fn) => {
    const p = tail.then(fn);
    tail = p.catch((e) => log('! negotiation failed:', e.message));
    return p;
  };
}
let pubQueue = makeQueue();
let subQueue = makeQueue();

async function join(sessionId) {
  sessionId = String(sessionId).trim();
  if (!sessionId) return;
  if (state.sessionId === sessionId) return;
  if (state.sessionId) await leave();
  setState('joining');
  sessionInfo(sessionId);
  let ack;
  try {
    ack = await cmd('session_join', { sessionId });
  } catch (e) {
    if (e.code === 'session_not_live' && state.autoJoin === sessionId) {
      const title = titleOf(sessionId);
      showError(`The host has not started this session yet. You will join ${title ? `“${title}” ` : ''}as soon as they start it.`);
      setTimeout(() => { if (state.autoJoin === sessionId && !state.sessionId) join(sessionId).catch(() => {}); }, 2000);
    } else {
      if (state.rejoining === sessionId) { state.rejoining = null; showNotice(''); }
      fail(e, 'join');
    }
    refreshState();
    throw e;
  }
  showError('');
  if (state.rejoining === sessionId) showNotice('');
  state.rejoining = null;
  if (state.autoJoin === sessionId) state.autoJoin = null;
  const gen = ++state.gen;
  state.sessionId = ack.sessionId;
  state.kind = ack.kind;
  state.role = ack.role;
  state.roomState = ack.state;
  state.activeSpeaker = ack.activeSpeaker ?? null;
  state.participants = new Map((ack.participants || []).map((p) => [p.userId, p]));
  state.handsAt = new Map();
  for (const p of state.participants.values()) noteHand(p);
  state.tracks = new Map();
  state.handRaised = false;
  state.audioOn = true;
  state.videoOn = true;
  pubQueue = makeQueue();
  subQueue = makeQueue();
  refreshState();
  renderRoomHeader();
  renderPeople();
  if (state.kind === 'session') openChat(state.sessionId).catch((e) => log('! chat:', e.message));
  else closeChat();
  await ensureIce();
  if (PUBLISHERS.has(state.role)) {
    try { await startPublishing(gen); } catch (e) { fail(e, 'publish'); }
  }
  if (gen === state.gen) await startSubscribing(gen);
}

async function leave() {
  const sessionId = state.sessionId;
  if (!sessionId) return;
  // Say so before closing the connections, so that the server does not take
  // the closed connections for a lost participant first.
  const said = state.kind === 'call' ? cmd('call_hangup', { callId: sessionId }) : cmd('session_leave', { sessionId });
  teardown('left');
  try { await said; } catch (e) { log('! leave:', e.message); }
}

function teardown(reason) {
  log(`left the room (${reason})`);
  state.gen++;
  stopPublishing();
  if (state.subPc) { state.subPc.close(); state.subPc = null; }
  state.quality = null;
  if (state.kind === 'call' && state.call?.callId === state.sessionId) state.call = null;
  state.sessionId = null;
  state.kind = null;
  state.role = null;
  state.participants = new Map();
  state.handsAt = new Map();
  state.tracks = new Map();
  state.activeSpeaker = null;
  closeChat();
  $('#grid').textContent = '';
  $('#people').textContent = '';
  $('#hands').textContent = '';
  $('#hands-panel').hidden = true;
  document.title = 'Lyceum live';
  renderCall();
  refreshState();
}

// The host's queue of raised hands, in the order they went up.
function noteHand(p) {
  if (p.handRaised && !state.handsAt.has(p.userId)) state.handsAt.set(p.userId, Date.now());
  else if (!p.handRaised) state.handsAt.delete(p.userId);
}

function onParticipantUpdated(p) {
  const old = state.participants.get(p.userId);
  state.participants.set(p.userId, p);
  noteHand(p);
  if (p.userId === state.me.id && typeof p.handRaised === 'boolean' && p.handRaised !== state.handRaised) {
    state.handRaised = p.handRaised;
    renderControls();
  }
  if (p.userId === state.me.id && p.role && p.role !== state.role) {
    const was = state.role;
    state.role = p.role;
    renderRoomHeader();
    const gen = state.gen;
    if (PUBLISHERS.has(p.role) && !state.pubPc) startPublishing(gen).catch((e) => fail(e, 'publish'));
    if (!PUBLISHERS.has(p.role) && PUBLISHERS.has(was)) stopPublishing();
  }
  renderPeople();
  if (!old || old.role !== p.role) syncTiles();
}

// ---------------------------------------------------------------- publishing

async function startPublishing(gen) {
  if (state.pubPc) return;
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: CAMERA });
  if (gen !== state.gen || !PUBLISHERS.has(state.role) || state.pubPc) { stream.getTracks().forEach((t) => t.stop()); return; }
  const pc = new RTCPeerConnection(rtcConfig());
  state.pubPc = pc;
  state.localStream = stream;
  state.sources = new Map();
  const [video] = stream.getVideoTracks();
  const [audio] = stream.getAudioTracks();
  if (video) {
    state.camTx = pc.addTransceiver(video, { direction: 'sendonly', streams: [stream], sendEncodings: SIMULCAST });
    state.sources.set(state.camTx, 'camera');
    // Under CPU load, fewer frames rather than a smaller picture: a
    // smaller input would also cost the top layer (see SIMULCAST).
    const params = state.camTx.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await state.camTx.sender.setParameters(params).catch((e) => log('! degradationPreference:', e.message));
  }
  if (audio) {
    state.micTx = pc.addTransceiver(audio, { direction: 'sendonly', streams: [stream] });
    state.sources.set(state.micTx, 'microphone');
  }
  if (audio) audio.enabled = state.audioOn;
  if (video) video.enabled = state.videoOn;
  watchConnection(pc, 'publish');
  syncTiles();
  await publishNegotiate();
  sendMediaState();
}

function publishNegotiate(iceRestart = false) {
  const gen = state.gen;
  return pubQueue(async () => {
    const pc = state.pubPc;
    if (!pc || gen !== state.gen || pc.signalingState === 'closed') return;
    const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : {});
    await pc.setLocalDescription(offer);
    await gathered(pc, 2000);
    const sources = {};
    for (const [tx, source] of state.sources) if (tx.mid != null && !tx.stopped) sources[tx.mid] = source;
    const ack = await cmd('rtc_publish', { sessionId: state.sessionId, sdp: pc.localDescription.sdp, sources });
    if (pc !== state.pubPc || pc.signalingState === 'closed') return;
    await pc.setRemoteDescription({ type: 'answer', sdp: ack.sdp });
  });
}

function stopPublishing() {
  if (state.pubPc) { state.pubPc.close(); state.pubPc = null; }
  for (const s of [state.localStream, state.screenStream]) s?.getTracks().forEach((t) => t.stop());
  state.localStream = null;
  state.screenStream = null;
  state.camTx = state.micTx = state.screenTx = null;
  state.sources = new Map();
  syncTiles();
  renderControls();
}

function sendMediaState() {
  if (!state.sessionId) return;
  renderControls();
  cmd('media_state', { sessionId: state.sessionId, audio: state.audioOn && !!state.micTx, video: state.videoOn && !!state.camTx, screen: !!state.screenStream })
    .catch((e) => log('! media_state:', e.message));
}

function setMic(on, announce = true) {
  state.audioOn = on;
  state.localStream?.getAudioTracks().forEach((t) => { t.enabled = on; });
  if (announce) sendMediaState(); else renderControls();
}

function setCamera(on, announce = true) {
  state.videoOn = on;
  state.localStream?.getVideoTracks().forEach((t) => { t.enabled = on; });
  if (announce) sendMediaState(); else renderControls();
}

async function toggleScreen() {
  const pc = state.pubPc;
  if (!pc) return showError('Only the host and speakers can share their screen.');
  if (state.screenStream) {
    state.screenStream.getTracks().forEach((t) => t.stop());
    state.screenStream = null;
    if (state.screenTx) {
      await state.screenTx.sender.replaceTrack(null);
      state.screenTx.direction = 'inactive';
    }
  } else {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = s.getVideoTracks();
    if (pc !== state.pubPc) { s.getTracks().forEach((t) => t.stop()); return; }
    track.onended = () => { if (state.screenStream === s) toggleScreen().catch((e) => fail(e)); };
    state.screenStream = s;
    if (state.screenTx && !state.screenTx.stopped) {
      await state.screenTx.sender.replaceTrack(track);
      state.screenTx.direction = 'sendonly';
    } else {
      state.screenTx = pc.addTransceiver(track, { direction: 'sendonly', streams: [s] });
      state.sources.set(state.screenTx, 'screen');
    }
  }
  syncTiles();
  await publishNegotiate();
  sendMediaState();
}

// ---------------------------------------------------------------- subscribing

async function startSubscribing(gen) {
  if (state.subPc) return;
  const pc = new RTCPeerConnection(rtcConfig());
  state.subPc = pc;
  pc.ontrack = (e) => {
    e.track.onended = () => syncTiles();
    e.track.onunmute = () => syncTiles();
    syncTiles();
  };
  watchConnection(pc, 'subscribe');
  await subQueue(async () => {
    if (gen !== state.gen) return;
    const ack = await cmd('rtc_subscribe', { sessionId: state.sessionId });
    await applyServerOffer(ack.sdp, ack.tracks);
  });
}

async function applyServerOffer(sdp, tracks) {
  const pc = state.subPc;
  if (!pc || pc.signalingState === 'closed') return;
  const sessionId = state.sessionId;
  state.tracks = new Map((tracks || []).map((t) => [String(t.mid), t]));
  await pc.setRemoteDescription({ type: 'offer', sdp });
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  await gathered(pc, 1000);
  if (pc !== state.subPc) return;
  await cmd('rtc_answer', { sessionId, sdp: pc.localDescription.sdp });
  syncTiles();
}

function gathered(pc, capMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); clearTimeout(t); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const t = setTimeout(done, capMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function watchConnection(pc, which) {
  let timer = null;
  pc.addEventListener('connectionstatechange', () => {
    const s = pc.connectionState;
    log(`${which} connection: ${s}`);
    clearTimeout(timer);
    if (s === 'failed') restartIce(pc, which);
    else if (s === 'disconnected') timer = setTimeout(() => { if (pc.connectionState === 'disconnected') restartIce(pc, which); }, 3000);
  });
}

function restartIce(pc, which) {
  if (!state.sessionId || !pc) return Promise.resolve();
  log(`ICE restart (${which})`);
  const done = (e) => log('! restart:', e.message);
  if (which === 'publish' && pc === state.pubPc) return publishNegotiate(true).catch(done);
  if (which === 'subscribe' && pc === state.subPc) return cmd('rtc_restart', { sessionId: state.sessionId }).catch(done);
  return Promise.resolve();
}

// ---------------------------------------------------------------- rendering

function tileFor(userId) {
  let tile = document.querySelector(`.tile[data-user-id="${CSS.escape(userId)}"]`);
  if (tile) return tile;
  tile = document.createElement('div');
  tile.className = 'tile';
  tile.dataset.userId = userId;
  const cam = document.createElement('video');
  cam.className = 'camera';
  const screen = document.createElement('video');
  screen.className = 'screen';
  for (const v of [cam, screen]) { v.autoplay = true; v.playsInline = true; v.muted = true; }
  const audios = document.createElement('div');
  audios.className = 'audios';
  const label = document.createElement('div');
  label.className = 'label';
  tile.append(cam, screen, audios, label);
  // A click on someone's video makes their tile span the grid (and back).
  cam.onclick = () => { tile.classList.toggle('big'); updateQuality(); };
  tileSizes.observe(cam);
  $('#grid').append(tile);
  return tile;
}

// The subscriber's quality hint (rtc_quality): the smallest layer at least as
// wide as the widest remote camera tile in device pixels (low up to 320,
// medium up to 640, high above), sent when it changes.
const tileSizes = new ResizeObserver(() => updateQuality());
function updateQuality() {
  if (!state.sessionId || !state.subPc) return;
  let widest = 0;
  for (const v of document.querySelectorAll('.tile video.camera')) {
    if (v.hidden || v.closest('.tile')?.dataset.userId === state.me?.id) continue;
    widest = Math.max(widest, v.clientWidth * (window.devicePixelRatio || 1));
  }
  if (!widest) return;
  const quality = widest <= LAYER_WIDTHS.low ? 'low' : widest <= LAYER_WIDTHS.medium ? 'medium' : 'high';
  if (quality === state.quality) return;
  state.quality = quality;
  cmd('rtc_quality', { sessionId: state.sessionId, quality }).catch((e) => { state.quality = null; log('! rtc_quality:', e.message); });
}

function setSrc(el, track) {
  el.hidden = !track;
  if ((el.srcObject?.getTracks()[0] || null) === track) return;
  el.srcObject = track ? new MediaStream([track]) : null;
  if (track) el.play().catch(() => {});
}

// Puts every live track of the subscribe connection (and the local preview)
// into one tile per user, and removes what went away.
function syncTiles() {
  const media = new Map(); // userId -> {camera, screen, audios: Map(mid -> track)}
  const entry = (u) => media.get(u) || media.set(u, { camera: null, screen: null, audios: new Map() }).get(u);
  const pc = state.subPc;
  if (pc && pc.signalingState !== 'closed') {
    for (const tx of pc.getTransceivers()) {
      const info = tx.mid != null && state.tracks.get(tx.mid);
      const dir = tx.currentDirection || tx.direction;
      if (!info || tx.stopped || !(dir === 'recvonly' || dir === 'sendrecv')) continue;
      const track = tx.receiver.track;
      if (!track || track.readyState === 'ended') continue;
      const e = entry(info.userId);
      if (info.kind === 'audio') e.audios.set(tx.mid, track);
      else if (info.source === 'screen') e.screen = track;
      else e.camera = track;
    }
  }
  if (state.me && state.localStream) {
    const e = entry(state.me.id);
    e.camera = state.localStream.getVideoTracks()[0] || null;
    e.screen = state.screenStream?.getVideoTracks()[0] || null;
  }
  for (const tile of [...document.querySelectorAll('.tile')]) if (!media.has(tile.dataset.userId)) tile.remove();
  for (const [userId, m] of media) {
    const tile = tileFor(userId);
    setSrc(tile.querySelector('video.camera'), m.camera);
    setSrc(tile.querySelector('video.screen'), m.screen);
    const box = tile.querySelector('.audios');
    for (const a of [...box.children]) if (!m.audios.has(a.dataset.mid)) a.remove();
    for (const [mid, track] of m.audios) {
      let a = box.querySelector(`audio[data-mid="${CSS.escape(mid)}"]`);
      if (!a) {
        a = document.createElement('audio');
        a.dataset.mid = mid;
        a.autoplay = true;
        a.hidden = true;
        a.muted = false;
        box.append(a);
      }
      if (a.srcObject?.getTracks()[0] !== track) { a.srcObject = new MediaStream([track]); a.play().catch(() => {}); }
    }
    tile.classList.toggle('speaking', state.activeSpeaker === userId);
    renderLabel(tile.querySelector('.label'), userId);
  }
  updateQuality();
}

function nameOf(userId) {
  if (userId === state.me?.id) return `${state.me.displayName} (you)`;
  return state.participants.get(userId)?.displayName || 'A participant';
}

function rememberCall(c) {
  state.calls.set(c.callId, { direction: c.direction, peerName: c.peerName });
  if (state.calls.size > 20) state.calls.delete(state.calls.keys().next().value);
}

/** The other party's name in a call (or null). */
function otherName() {
  for (const p of state.participants.values()) if (p.userId !== state.me?.id && p.displayName) return p.displayName;
  return state.call?.peerName || null;
}

/** The session's title (GET /api/sessions/{id}), fetched once per session. */
function sessionInfo(id) {
  if (!id || state.sessionInfo.has(id)) return;
  state.sessionInfo.set(id, null);
  api('GET', `/api/sessions/${encodeURIComponent(id)}`)
    .then((info) => {
      state.sessionInfo.set(id, info);
      if (state.sessionId === id) renderRoomHeader();
    })
    .catch((e) => { state.sessionInfo.delete(id); log('! session info:', e.message); });
}
const titleOf = (id) => state.sessionInfo.get(id)?.title || null;

// ---------------------------------------------------------------- the session's chat

// A group session's chat room (docs/live.md "The session's chat"), beside
// the video: its host and registered attendees write there, so attendees
// can ask without a microphone. `GET /api/sessions/{id}` names the room
// (`roomId`, for its members); the last 50 messages come from the history,
// then `subscribe` from the last of them delivers the rest once each.

const CHAT_ERRORS = {
  not_a_member: 'Only the host and registered attendees can write here.',
  muted: 'The host muted you in this chat.',
  message_too_large: 'That message is too long. Shorten it and send it again.',
  rate_limited: 'You are sending messages too fast. Wait a moment.',
  closed: 'You are offline. The message was not sent; send it again once you are back.',
};

async function openChat(sessionId) {
  if (state.chat?.sessionId === sessionId) return;
  closeChat();
  const chat = { sessionId, roomId: null, lastSeq: 0, items: new Map() };
  state.chat = chat;
  $('#chat-log').textContent = '';
  $('#chat-error').textContent = '';
  $('#chat-panel').hidden = false;
  $('.room-body').classList.remove('solo');
  const info = await api('GET', `/api/sessions/${encodeURIComponent(sessionId)}`);
  if (state.chat !== chat) return;
  state.sessionInfo.set(sessionId, info);
  if (!info.roomId) {
    $('#chat-form').hidden = true;
    $('#chat-note').hidden = false;
    $('#chat-note').textContent = 'The chat is for the host and registered attendees.';
    return;
  }
  chat.roomId = info.roomId;
  $('#chat-form').hidden = false;
  $('#chat-note').hidden = true;
  const h = await api('GET', `/api/rooms/${encodeURIComponent(chat.roomId)}/messages?limit=50`);
  if (state.chat !== chat) return;
  for (const m of h.items || []) chatEvent(m, false);
  await cmd('subscribe', { roomId: chat.roomId, afterSeq: chat.lastSeq });
}

function closeChat() {
  const chat = state.chat;
  state.chat = null;
  if (chat?.roomId && state.ws?.readyState === WebSocket.OPEN) cmd('unsubscribe', { roomId: chat.roomId }).catch(() => {});
  $('#chat-panel').hidden = true;
  $('.room-body').classList.add('solo');
  $('#chat-log').textContent = '';
}

function chatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** One event of the room's stream: a message, or an edit or deletion of one. */
function chatEvent(m, live) {
  const chat = state.chat;
  if (!chat || m.roomId !== chat.roomId || m.seq <= chat.lastSeq) return;
  chat.lastSeq = m.seq;
  if (m.kind === 'edit' || m.kind === 'delete') {
    const el = chat.items.get(m.targetSeq);
    if (!el) return;
    const text = el.querySelector('.text');
    if (m.kind === 'delete') { el.classList.add('deleted'); text.textContent = 'Message deleted'; }
    else text.textContent = m.body ?? '';
    return;
  }
  const el = document.createElement('div');
  el.className = 'chat-msg';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = m.senderId === state.me?.id ? 'You' : (m.senderName || 'Someone');
  const sep = document.createElement('span');
  sep.className = 'sr-only';
  sep.textContent = ' said: ';
  const text = document.createElement('span');
  text.className = 'text';
  if (m.deletedAt) { el.classList.add('deleted'); text.textContent = 'Message deleted'; }
  else text.textContent = m.body ?? (m.ciphertext ? 'Encrypted message' : '');
  const time = document.createElement('time');
  time.dateTime = m.createdAt;
  time.textContent = chatTime(m.createdAt);
  el.append(who, sep, text, time);
  chat.items.set(m.seq, el);
  const log = $('#chat-log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(el);
  if (atBottom || !live || m.senderId === state.me?.id) log.scrollTop = log.scrollHeight;
}

async function sendChat(text) {
  const chat = state.chat;
  text = String(text ?? '').trim();
  if (!chat?.roomId || !text) return null;
  $('#chat-error').textContent = '';
  try {
    return await cmd('send', { roomId: chat.roomId, body: text, clientMsgId: crypto.randomUUID() });
  } catch (e) {
    $('#chat-error').textContent = CHAT_ERRORS[e.code] || explain(e);
    throw Object.assign(e, { shown: true });
  }
}

function endedText(reason, role, title) {
  const what = title ? `“${title}”` : 'the session';
  switch (reason) {
    case 'ended': return role === 'host' ? `You ended ${what}.` : `The host ended ${what}. Thank you for joining.`;
    case 'removed': return `The host removed you from ${what}. You cannot join it again.`;
    case 'joined_elsewhere': return `You joined ${what} in another tab or window, so you left it here.`;
    case 'connection_lost': return `You lost your connection to ${what}. Join it again.`;
    default: return `You are no longer in ${what}.`;
  }
}

function callEndedText(reason, direction, other) {
  switch (reason) {
    case 'declined': return `${other} declined the call.`;
    case 'busy': return `${other} is in another call.`;
    case 'cancelled': return direction === 'outgoing' ? 'You cancelled the call.' : `${other} cancelled the call.`;
    case 'timeout': return direction === 'incoming' ? `You missed a call from ${other}.` : `No answer from ${other}.`;
    case 'hangup': return `${other} hung up. The call is over.`;
    case 'answered_elsewhere': return 'You answered this call on another device.';
    case 'offline': return `${other} is not online.`;
    default: return 'The call is over.';
  }
}

// The host's buttons for one person, each named for that person
// ("Mute Sam Student") so that a screen reader tells them apart.
function hostControls(userId) {
  const out = [];
  if (state.role !== 'host' || state.kind !== 'session' || userId === state.me.id) return out;
  const p = state.participants.get(userId);
  const name = p?.displayName || 'this participant';
  const b = (before, hidden, after, fn) => {
    out.push(namedButton(before, hidden, after, () => fn().catch((e) => fail(e))));
  };
  if (p?.role === 'speaker') b('Make', name, 'an attendee', () => setRole(userId, 'attendee'));
  else if (p?.role === 'attendee') b('Make', name, 'a speaker', () => setRole(userId, 'speaker'));
  // Muting what is already off would do nothing (only they turn it on again).
  if (p?.role !== 'attendee' && p?.audio !== false) b('Mute', name, '', () => mute(userId, 'audio'));
  if (p?.role !== 'attendee' && p?.video !== false) b('Stop video', `of ${name}`, '', () => mute(userId, 'video'));
  b('Remove', name, '', () => remove(userId));
  return out;
}

/** A button whose accessible name is "<before> <name> <after>" ("Make Ada a
 *  speaker") while it shows only "<before> <after>": the name is in the
 *  row beside it, and is read out from visually hidden text (so the visible
 *  words are part of the accessible name, as WCAG 2.5.3 asks). */
function namedButton(before, name, after, onclick) {
  const el = document.createElement('button');
  el.type = 'button';
  const hidden = document.createElement('span');
  hidden.className = 'sr-only';
  hidden.textContent = ` ${name}`; // the name, or "of <name>"
  el.append(before, hidden, after ? ` ${after}` : '');
  el.onclick = onclick;
  return el;
}

const ROLE_WORDS = { host: 'host', speaker: 'speaker', attendee: 'attendee' };
function flags(p) {
  if (!p) return '';
  return [ROLE_WORDS[p.role], p.handRaised && 'hand raised', p.audio === false && 'mic off', p.video === false && 'camera off', p.screen && 'sharing their screen']
    .filter(Boolean).join(' · ');
}

function renderLabel(label, userId) {
  label.textContent = '';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = nameOf(userId);
  const f = document.createElement('span');
  f.textContent = flags(userId === state.me?.id ? { ...state.participants.get(userId), role: state.role } : state.participants.get(userId));
  label.append(name, f);
  const cam = label.closest('.tile')?.querySelector('video.camera');
  if (cam) cam.setAttribute('aria-label', `Video of ${nameOf(userId)}`);
}

function renderPeople() {
  const ul = $('#people');
  ul.textContent = '';
  for (const p of state.participants.values()) {
    const li = document.createElement('li');
    li.dataset.userId = p.userId;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = nameOf(p.userId);
    const f = document.createElement('span');
    f.textContent = flags(p);
    li.append(name, f, ...hostControls(p.userId));
    ul.append(li);
  }
  renderHands();
  for (const tile of document.querySelectorAll('.tile')) renderLabel(tile.querySelector('.label'), tile.dataset.userId);
}

// The host's queue: raised hands, first raised first.
function renderHands() {
  const ol = $('#hands');
  ol.textContent = '';
  const queue = [...state.handsAt].filter(([u]) => u !== state.me?.id && state.participants.get(u)?.handRaised).sort((a, b) => a[1] - b[1]);
  $('#hands-panel').hidden = !(state.role === 'host' && state.kind === 'session' && queue.length);
  if (state.role !== 'host') return;
  for (const [userId] of queue) {
    const p = state.participants.get(userId);
    const li = document.createElement('li');
    li.dataset.userId = userId;
    const name = document.createElement('span');
    name.textContent = p.displayName || 'A participant';
    li.append(name);
    if (p.role === 'attendee') {
      li.append(namedButton('Invite', p.displayName || 'them', 'to speak', () => setRole(userId, 'speaker').catch((e) => fail(e))));
    }
    ol.append(li);
  }
}

const STATE_WORDS = { live: 'Live', scheduled: 'Not started yet', completed: 'Ended', cancelled: 'Cancelled' };
const YOU_ARE = { host: 'You are the host', speaker: 'You are a speaker', attendee: 'You are an attendee' };

function renderRoomHeader() {
  const session = state.kind === 'session';
  const other = state.kind === 'call' ? otherName() : null;
  const title = state.kind === 'call' ? (other ? `Call with ${other}` : 'Call') : (titleOf(state.sessionId) || 'Live session');
  $('#room-title').textContent = title;
  if (state.sessionId) document.title = `${title} · Lyceum live`;
  $('#room-status').textContent = session ? (STATE_WORDS[state.roomState] || '') : '';
  $('#room-status').hidden = !session || !state.roomState;
  $('#room-role').textContent = session ? (YOU_ARE[state.role] || '') : '';
  $('#room-role').hidden = !session;
  const host = state.role === 'host' && session;
  $('#start').hidden = !(host && state.roomState === 'scheduled');
  $('#end-session').hidden = !host;
  $('#hangup').hidden = state.kind !== 'call';
  $('#leave').hidden = state.kind === 'call';
  $('#hand').hidden = !session || state.role === 'host';
  for (const id of ['#mic', '#cam', '#screen']) $(id).hidden = !PUBLISHERS.has(state.role);
  renderControls();
  renderHands();
}

function renderControls() {
  const publishing = !!state.pubPc;
  $('#mic').disabled = $('#cam').disabled = $('#screen').disabled = !publishing;
  $('#mic').textContent = state.audioOn ? 'Mute mic' : 'Unmute mic';
  $('#cam').textContent = state.videoOn ? 'Camera off' : 'Camera on';
  $('#screen').textContent = state.screenStream ? 'Stop sharing' : 'Share screen';
  $('#screen').classList.toggle('on', !!state.screenStream);
  $('#hand').textContent = state.handRaised ? 'Lower hand' : 'Raise hand';
  $('#hand').classList.toggle('on', state.handRaised);
  $('#hand').setAttribute('aria-pressed', String(state.handRaised));
}

const CALL_WORDS = { inviting: 'Calling', ringing: 'Ringing', accepted: 'Connecting to' };

// An incoming call rings audibly: two short tones every 2 s (WebAudio, no
// sound file), until it is answered, declined or over.
let ringer = null;
function ring(on) {
  if (on && !ringer) {
    try {
      const ctx = new AudioContext();
      const beep = () => {
        for (const at of [0, 0.5]) {
          const osc = ctx.createOscillator();
          const gain = ctx.createGain();
          osc.frequency.value = 440;
          gain.gain.value = 0.15;
          osc.connect(gain).connect(ctx.destination);
          osc.start(ctx.currentTime + at);
          osc.stop(ctx.currentTime + at + 0.35);
        }
      };
      beep();
      ringer = { ctx, timer: setInterval(beep, 2000) };
    } catch (e) { log('! ring:', e.message); }
  } else if (!on && ringer) {
    clearInterval(ringer.timer);
    ringer.ctx.close().catch(() => {});
    ringer = null;
  }
}

function renderCall() {
  const c = state.call;
  const ringing = !!(c && c.direction === 'incoming' && c.status === 'ringing');
  ring(ringing);
  state.ringing = ringing;
  $('#incoming').hidden = !ringing;
  if (c?.direction === 'incoming') $('#incoming-text').textContent = `${c.from?.displayName || 'Someone'} is calling you${c.video ? ' (video call)' : ''}`;
  $('#cancel-call').hidden = !(c && c.direction === 'outgoing' && c.status !== 'accepted');
  if (c) {
    const who = c.peerName || (c.direction === 'incoming' ? c.from?.displayName : null) || 'them';
    $('#call-status').textContent = c.direction === 'incoming'
      ? (c.status === 'accepted' ? `Connecting to ${who}…` : `${who} is calling you.`)
      : `${CALL_WORDS[c.status] || 'Calling'} ${who}…`;
  }
  refreshState();
}

// ---------------------------------------------------------------- actions

const need = () => { if (!state.sessionId) throw new Error('not in a session'); return state.sessionId; };
const setRole = (userId, role) => cmd('set_role', { sessionId: need(), userId, role });
const mute = (userId, kind) => cmd('mute', { sessionId: need(), userId, kind });
const remove = (userId) => cmd('remove', { sessionId: need(), userId });

async function startSession(id) {
  const sessionId = String(id || state.sessionId || $('#session-id').value).trim();
  const ack = await cmd('session_start', { sessionId });
  if (state.sessionId === sessionId) { state.roomState = ack.state; renderRoomHeader(); }
  return ack;
}

async function raiseHand(raised = !state.handRaised) {
  await cmd('raise_hand', { sessionId: need(), raised });
  state.handRaised = raised;
  renderControls();
}

async function callInvite(userId, video = true) {
  if (state.call) throw new Error('a call is already in progress');
  $('#call-status').textContent = '';
  // Their name, for "Calling Ada…" (public profile, docs/api.md).
  const name = api('GET', `/api/users/${encodeURIComponent(userId)}`).then((u) => u?.displayName || null, () => null);
  let ack;
  try {
    ack = await cmd('call_invite', { userId, video });
  } catch (e) {
    throw Object.assign(e, { what: 'call' });
  }
  const call = { callId: ack.callId, direction: 'outgoing', status: 'inviting', video, peerName: null };
  state.call = call;
  rememberCall(call);
  renderCall();
  name.then((n) => {
    call.peerName = n;
    rememberCall(call);
    if (state.call === call) renderCall();
    if (state.kind === 'call') renderRoomHeader();
  });
  return ack.callId;
}

async function acceptCall() {
  const c = state.call;
  if (!c || c.direction !== 'incoming') throw new Error('no incoming call');
  const ack = await cmd('call_accept', { callId: c.callId });
  c.status = 'accepted';
  renderCall();
  await join(ack.sessionId || c.callId);
}

async function declineCall() {
  const c = state.call;
  if (!c) return;
  state.call = null;
  renderCall();
  $('#call-status').textContent = `You declined the call from ${c.peerName || 'them'}.`;
  await cmd('call_decline', { callId: c.callId });
}

async function cancelCall() {
  const c = state.call;
  if (!c) return;
  state.call = null;
  renderCall();
  $('#call-status').textContent = 'You cancelled the call.';
  await cmd('call_cancel', { callId: c.callId });
}

async function hangup() {
  const callId = state.kind === 'call' ? state.sessionId : state.call?.callId;
  if (!callId) return;
  const said = cmd('call_hangup', { callId });
  const other = otherName();
  if (state.sessionId === callId) teardown('hangup');
  state.call = null;
  renderCall();
  $('#call-status').textContent = other ? `You hung up on ${other}. The call is over.` : 'You hung up. The call is over.';
  try { await said; } catch (e) { if (e.code !== 'call_not_found') throw e; }
}

function signOut() {
  sessionStorage.removeItem('lyceum.token');
  sessionStorage.removeItem('lyceum.refresh');
  sessionStorage.removeItem('lyceum.cookie');
  if (state.cookieSession) {
    // The page sign-in: signing out here signs out of the pages too.
    const csrf = document.querySelector('meta[name="csrf-token"]')?.content || '';
    fetch('/signout', { method: 'POST', body: new URLSearchParams({ csrf }), credentials: 'same-origin', redirect: 'manual' }).catch(() => {});
  }
  state.cookieSession = false;
  const ws = state.ws;
  state.token = state.refreshToken = state.me = null;
  state.ws = null;
  if (state.sessionId) teardown('signed_out');
  ws?.close(1000);
  $('#signout').hidden = true;
  $('#me').textContent = '';
  setState('signed-out');
}

// Every inbound video stream of the subscribe connection, for tests.
async function stats() {
  const pc = state.subPc;
  if (!pc || pc.signalingState === 'closed') return [];
  const byTrack = new Map();
  for (const tx of pc.getTransceivers()) if (tx.receiver.track) byTrack.set(tx.receiver.track.id, tx.mid);
  const out = [];
  (await pc.getStats()).forEach((r) => {
    if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
    const mid = r.mid ?? byTrack.get(r.trackIdentifier) ?? null;
    const info = mid != null ? state.tracks.get(mid) : null;
    out.push({
      trackIdentifier: r.trackIdentifier, mid, framesDecoded: r.framesDecoded || 0,
      userId: info?.userId ?? null, source: info?.source ?? null,
      frameWidth: r.frameWidth ?? null, frameHeight: r.frameHeight ?? null, bytesReceived: r.bytesReceived ?? 0,
    });
  });
  return out;
}

// The camera's simulcast layers as sent, for tests: rid, frame size, bytes.
async function outbound() {
  const pc = state.pubPc;
  if (!pc || pc.signalingState === 'closed') return [];
  const out = [];
  (await pc.getStats()).forEach((r) => {
    if (r.type !== 'outbound-rtp' || r.kind !== 'video') return;
    out.push({ rid: r.rid ?? null, frameWidth: r.frameWidth ?? null, frameHeight: r.frameHeight ?? null,
      bytesSent: r.bytesSent ?? 0, active: r.active ?? null, qualityLimitationReason: r.qualityLimitationReason ?? null });
  });
  return out;
}

// ---------------------------------------------------------------- wiring

const act = (fn) => (e) => { e?.preventDefault?.(); Promise.resolve().then(fn).catch((err) => fail(err, err?.what)); };

$('#login-form').onsubmit = act(async () => {
  $('#login-error').textContent = '';
  try {
    await signIn($('#email').value, $('#password').value);
  } catch (e) {
    $('#login-error').textContent = e.code === 'invalid_credentials' ? 'That email and password do not match an account.' : explain(e);
  }
});
$('#signout').onclick = act(signOut);
$('#join-form').onsubmit = act(() => join($('#session-id').value));
$('#start').onclick = act(() => startSession());
$('#call-form').onsubmit = act(() => callInvite($('#call-user').value.trim(), $('#call-video').checked));
$('#cancel-call').onclick = act(cancelCall);
$('#accept').onclick = act(acceptCall);
$('#decline').onclick = act(declineCall);
$('#mic').onclick = act(() => setMic(!state.audioOn));
$('#cam').onclick = act(() => setCamera(!state.videoOn));
$('#screen').onclick = act(toggleScreen);
$('#hand').onclick = act(() => raiseHand());
$('#end-session').onclick = act(() => cmd('session_end', { sessionId: need() }));
$('#hangup').onclick = act(hangup);
$('#leave').onclick = act(leave);
$('#notice-close').onclick = () => showNotice('');
$('#chat-form').onsubmit = (e) => {
  e.preventDefault();
  const input = $('#chat-input');
  const text = input.value;
  sendChat(text).then((ack) => { if (ack && input.value === text) input.value = ''; }).catch((err) => log('! chat send:', err.message));
};

window.lyceum = {
  state, stats, outbound, join, leave, startSession, setRole, mute, remove, raiseHand,
  callInvite, acceptCall, declineCall, cancelCall, hangup, sendChat,
  setMic, setCamera, toggleScreen, cmd, signIn, signOut,
  restartIce: (which) => restartIce(which === 'publish' ? state.pubPc : state.subPc, which),
  logText: () => $('#log').textContent,
};

(async function boot() {
  // The event log (every frame, without SDP) only behind ?debug=1.
  $('#log-panel').hidden = !DEBUG;
  setState('loading');
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get('session')) {
    state.autoJoin = frag.get('session');
    $('#session-id').value = state.autoJoin;
  }
  // `#call=<user id>` (a link from a person's page): the call form is
  // filled in and its button names them once signed in.
  if (frag.get('call')) $('#call-user').value = frag.get('call');
  const fromFragment = frag.get('token');
  const token = fromFragment || sessionStorage.getItem('lyceum.token');
  if (fromFragment) {
    frag.delete('token'); // keep the token out of the address bar
    history.replaceState(null, '', `${location.pathname}${location.search}${frag.toString() ? `#${frag}` : ''}`);
  }
  if (!token) {
    // Signed in on the pages (docs/web.md): that sign-in's page cookie, so
    // "Join" on a page is one click, in as many tabs as you like.
    try {
      const s = await pageToken();
      state.cookieSession = true;
      sessionStorage.setItem('lyceum.cookie', '1');
      return await useToken(s.accessToken);
    } catch (e) {
      if (e.code && e.code !== 'missing_token') log('! page sign-in not usable:', e.message);
      return setState('signed-out');
    }
  }
  if (!fromFragment) state.cookieSession = sessionStorage.getItem('lyceum.cookie') === '1';
  try {
    await useToken(token, fromFragment ? null : sessionStorage.getItem('lyceum.refresh'));
  } catch (e) {
    log('! token rejected:', e.message);
    signOut();
  }
})();
