//! One SFU shard: a thread, a UDP socket, the peers of its rooms.
//!
//! The loop waits for a datagram, a command or the earliest peer timeout;
//! after every input it drains the peer's `poll_output()` until `Timeout`,
//! sending transmits at once and handling events, which may write media to
//! other peers of the room (drained in turn). str0m calls run under
//! `catch_unwind`: a peer whose `Rtc` panics or errors is removed, the rest
//! of the shard goes on.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::metrics::{RoomMetrics, ShardMetrics};
use super::{
    next_track_id, stun, Done, MediaKindName, Published, Quality, RoomEvents, SfuConfig, SfuError, SfuEvent, ShardCmd,
    Subscribed, TrackInfo, UserId,
};

const HOUSEKEEPING: Duration = Duration::from_millis(250);
const KEYFRAME_THROTTLE: Duration = Duration::from_millis(500);
/// How often a subscriber's simulcast layer choice is revisited.
const LAYER_REVIEW: Duration = Duration::from_secs(1);
/// After a subscriber's layer went down, this long before it may go up again
/// (each switch costs a keyframe; an estimate that swings must not make the
/// layer swing with it).
const UPGRADE_HOLD: Duration = Duration::from_secs(5);
/// An up-switch needs this much of the better layer's bitrate in the budget
/// (numerator / 4: 125 %).
const UPGRADE_HEADROOM_QUARTERS: u64 = 5;
/// A layer not heard from for this long is not chosen.
const LAYER_STALE: Duration = Duration::from_millis(1500);
/// Speech quieter than this (dBov) does not make an active speaker.
const SPEAKING_DBOV: f32 = -50.0;
const SPEAKER_SWITCH_DB: f32 = 4.0;
/// A speaker stays the active one through pauses shorter than this.
const SPEAKER_HOLD: Duration = Duration::from_millis(1500);
const SOCKET_BUFFER: usize = 4 << 20;
/// Frames timed per outgoing stream at most (a bound, should the marker of
/// a frame's last packet never show).
const MAX_INFLIGHT: usize = 64;

/// If this datagram is the last RTP packet of a frame we forwarded (video:
/// the marker bit; audio: every packet), when that frame came in. RTP
/// headers travel in the clear under SRTP; RTCP, STUN and DTLS are skipped.
fn frame_sent(inflight: &mut HashMap<u32, (bool, VecDeque<Instant>)>, c: &[u8]) -> Option<Instant> {
    if c.len() < 12 || c[0] >> 6 != 2 || (192..=223).contains(&c[1]) {
        return None;
    }
    let ssrc = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
    let (audio, q) = inflight.get_mut(&ssrc)?;
    if *audio || c[1] & 0x80 != 0 {
        q.pop_front()
    } else {
        None
    }
}

pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    // Bursts of one frame to many subscribers must not overflow the kernel
    // buffers; the kernel caps these at its own maximum.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

pub fn run(
    idx: usize,
    socket: std::net::UdpSocket,
    advertised: SocketAddr,
    cfg: SfuConfig,
    rx: mpsc::Receiver<ShardCmd>,
    metrics: Arc<ShardMetrics>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(shard = idx, error = %e, "sfu shard could not start");
            return;
        }
    };
    rt.block_on(async move {
        let socket = match tokio::net::UdpSocket::from_std(socket) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::error!(shard = idx, error = %e, "sfu shard socket");
                return;
            }
        };
        let shard = Shard {
            idx,
            socket: socket.clone(),
            advertised,
            cfg,
            metrics,
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            rooms: HashMap::new(),
            timers: BinaryHeap::new(),
            work: VecDeque::new(),
            next_peer: 1,
            arrived: Instant::now(),
        };
        shard.run(socket, rx).await;
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Publish,
    Subscribe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

struct TrackOut {
    track: u64,
    state: OutState,
    /// The layer being forwarded (`Some(None)`: a stream without layers);
    /// None until the first keyframe.
    current: Option<Option<Rid>>,
    /// The layer we want, switched to on its next keyframe.
    target: Option<Rid>,
    reviewed: Option<Instant>,
    /// When the target last went down (an up-switch waits `UPGRADE_HOLD`).
    down_at: Option<Instant>,
}

struct Peer {
    room: Uuid,
    user: UserId,
    role: Role,
    rtc: Rtc,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    next_timeout: Instant,
    scheduled: Option<Instant>,
    disconnected_since: Option<Instant>,
    metrics: Arc<RoomMetrics>,
    // publish side
    sources: HashMap<String, String>,
    mids_in: HashMap<Mid, u64>,
    ingress_packets: HashMap<(Mid, Option<Rid>), u64>,
    // subscribe side
    out: Vec<TrackOut>,
    pending: Option<SdpPendingOffer>,
    needs_channel: bool,
    restart: bool,
    quality: Quality,
    bwe: Option<u64>,
    egress_packets: HashMap<(Mid, Option<Rid>), u64>,
    /// Per outgoing SSRC: when each frame written but not yet fully sent
    /// arrived (its last datagram), to time it out of the socket.
    inflight: HashMap<u32, (bool, VecDeque<Instant>)>,
}

struct Layer {
    rid: Option<Rid>,
    bytes: u64,
    bitrate: u64,
    last_seen: Instant,
}

struct TrackIn {
    publisher: u64,
    user: UserId,
    mid: Mid,
    kind: MediaKind,
    source: String,
    layers: Vec<Layer>,
    last_keyframe_request: HashMap<Option<Rid>, Instant>,
    /// Requests that came inside the throttle window: sent when it ends,
    /// unless the layer's keyframe arrives first.
    pending_keyframe: HashMap<Option<Rid>, KeyframeRequestKind>,
    /// Smoothed audio level, dBov (0 loudest, -127 silent).
    level: f32,
    level_at: Option<Instant>,
}

struct Room {
    events: Arc<dyn RoomEvents>,
    metrics: Arc<RoomMetrics>,
    tracks: HashMap<u64, TrackIn>,
    publishers: HashMap<UserId, u64>,
    subscribers: HashMap<UserId, u64>,
    blocked: HashSet<(UserId, MediaKindName)>,
    speaker: Option<UserId>,
    /// Since when the active speaker has been quiet.
    speaker_quiet_since: Option<Instant>,
    layers_at: Instant,
}

struct Shard {
    idx: usize,
    socket: Arc<tokio::net::UdpSocket>,
    advertised: SocketAddr,
    cfg: SfuConfig,
    metrics: Arc<ShardMetrics>,
    peers: HashMap<u64, Peer>,
    by_addr: HashMap<SocketAddr, u64>,
    by_ufrag: HashMap<String, u64>,
    rooms: HashMap<Uuid, Room>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    work: VecDeque<(u64, Event)>,
    next_peer: u64,
    /// When the input being handled arrived: for a frame str0m completes
    /// on this input, the arrival of its last datagram.
    arrived: Instant,
}

/// Answers a request with an error.
fn fail<T>(done: Done<T>, e: SfuError) {
    let _ = done.send(Err(e));
}

fn kind_name(k: MediaKind) -> MediaKindName {
    if k == MediaKind::Audio {
        MediaKindName::Audio
    } else {
        MediaKindName::Video
    }
}

impl Shard {
    async fn run(mut self, socket: Arc<tokio::net::UdpSocket>, mut rx: mpsc::Receiver<ShardCmd>) {
        let mut buf = vec![0u8; 2048];
        let mut housekeeping = Instant::now() + HOUSEKEEPING;
        loop {
            let wake = self
                .timers
                .peek()
                .map(|Reverse((t, _))| *t)
                .unwrap_or(housekeeping)
                .min(housekeeping);
            tokio::select! {
                biased;
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    let t = Instant::now();
                    self.command(cmd);
                    self.process_work();
                    self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                }
                r = socket.recv_from(&mut buf) => {
                    let t = Instant::now();
                    if let Ok((n, src)) = r {
                        self.datagram(&buf[..n], src);
                        // Take what else is queued before looking at timers.
                        for _ in 0..64 {
                            match socket.try_recv_from(&mut buf) {
                                Ok((n, src)) => self.datagram(&buf[..n], src),
                                Err(_) => break,
                            }
                        }
                    }
                    self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            let now = Instant::now();
            let t = now;
            self.timers(now);
            if now >= housekeeping {
                self.housekeeping(now);
                housekeeping = now + HOUSEKEEPING;
            }
            self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
        }
        tracing::info!(shard = self.idx, "sfu shard stopped");
    }

    // ---- input -------------------------------------------------------

    fn datagram(&mut self, buf: &[u8], src: SocketAddr) {
        self.metrics.datagrams_in.fetch_add(1, Relaxed);
        let (pid, known) = match self.by_addr.get(&src) {
            Some(p) => (*p, true),
            None => {
                let Some(p) = stun::local_ufrag(buf).and_then(|u| self.by_ufrag.get(u)) else {
                    self.metrics.unknown_datagrams.fetch_add(1, Relaxed);
                    return;
                };
                (*p, false)
            }
        };
        let Ok(contents) = buf.try_into() else { return };
        self.arrived = Instant::now();
        let input = Input::Receive(
            self.arrived,
            Receive {
                proto: Protocol::Udp,
                source: src,
                destination: self.advertised,
                contents,
            },
        );
        let Some(p) = self.peers.get_mut(&pid) else { return };
        if !known {
            if !p.rtc.accepts(&input) {
                self.metrics.unknown_datagrams.fetch_add(1, Relaxed);
                return;
            }
            self.by_addr.insert(src, pid);
            p.addrs.push(src);
        }
        p.metrics.packets_in.fetch_add(1, Relaxed);
        p.metrics.bytes_in.fetch_add(buf.len() as u64, Relaxed);
        self.feed(pid, input);
        self.process_work();
    }

    fn feed(&mut self, pid: u64, input: Input) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        match catch_unwind(AssertUnwindSafe(|| p.rtc.handle_input(input))) {
            Ok(Ok(())) => self.drain(pid),
            Ok(Err(e)) => {
                tracing::debug!(peer = pid, error = ?e, "peer input failed");
                self.kill(pid, Some("error"));
            }
            Err(_) => {
                tracing::error!(peer = pid, "peer panicked on input; removed");
                self.kill(pid, Some("error"));
            }
        }
    }

    /// Polls a peer until it has nothing more to say: transmits go out at
    /// once, events queue for `process_work`.
    fn drain(&mut self, pid: u64) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let socket = &self.socket;
        let shard = &self.metrics;
        let work = &mut self.work;
        let result = catch_unwind(AssertUnwindSafe(|| loop {
            match p.rtc.poll_output() {
                Ok(Output::Transmit(t)) => match socket.try_send_to(&t.contents, t.destination) {
                    Ok(_) => {
                        if let Some(arrived) = frame_sent(&mut p.inflight, &t.contents) {
                            let lat = Instant::now().saturating_duration_since(arrived);
                            p.metrics.latency.record(lat);
                            shard.latency.record(lat);
                        }
                        shard.datagrams_out.fetch_add(1, Relaxed);
                        p.metrics.packets_out.fetch_add(1, Relaxed);
                        p.metrics.bytes_out.fetch_add(t.contents.len() as u64, Relaxed);
                    }
                    Err(_) => {
                        shard.send_dropped.fetch_add(1, Relaxed);
                    }
                },
                Ok(Output::Timeout(t)) => return Ok(t),
                Ok(Output::Event(e)) => work.push_back((pid, e)),
                Err(e) => return Err(e),
            }
        }));
        match result {
            Ok(Ok(t)) => {
                p.next_timeout = t;
                if p.scheduled.is_none_or(|s| t < s) {
                    p.scheduled = Some(t);
                    self.timers.push(Reverse((t, pid)));
                }
                if !p.rtc.is_alive() {
                    self.kill(pid, Some("connection_lost"));
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = pid, error = ?e, "peer output failed");
                self.kill(pid, Some("error"));
            }
            Err(_) => {
                tracing::error!(peer = pid, "peer panicked on output; removed");
                self.kill(pid, Some("error"));
            }
        }
    }

    fn timers(&mut self, now: Instant) {
        while let Some(Reverse((t, pid))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(p) = self.peers.get_mut(&pid) else { continue };
            if p.scheduled == Some(t) {
                p.scheduled = None;
            }
            if p.next_timeout <= now {
                self.arrived = now;
                self.feed(pid, Input::Timeout(now));
            } else if p.scheduled.is_none() {
                let nt = p.next_timeout;
                p.scheduled = Some(nt);
                self.timers.push(Reverse((nt, pid)));
            }
        }
        self.process_work();
    }

    fn process_work(&mut self) {
        while let Some((pid, ev)) = self.work.pop_front() {
            self.event(pid, ev);
        }
    }

    // ---- events from peers --------------------------------------------

    fn event(&mut self, pid: u64, ev: Event) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        match ev {
            Event::IceConnectionStateChange(s) => match s {
                IceConnectionState::Disconnected => {
                    p.disconnected_since.get_or_insert_with(Instant::now);
                }
                IceConnectionState::Connected | IceConnectionState::Completed => p.disconnected_since = None,
                _ => {}
            },
            Event::MediaAdded(m) if p.role == Role::Publish => {
                if matches!(m.direction, Direction::RecvOnly | Direction::SendRecv) {
                    self.add_track(pid, m.mid, m.kind);
                }
            }
            Event::MediaChanged(m) if p.role == Role::Publish => {
                let receiving = matches!(m.direction, Direction::RecvOnly | Direction::SendRecv);
                let has = p.mids_in.get(&m.mid).copied();
                match (receiving, has) {
                    (false, Some(track)) => {
                        p.mids_in.remove(&m.mid);
                        let room = p.room;
                        self.remove_track(room, track);
                    }
                    (true, None) => {
                        if let Some(kind) = p.rtc.media(m.mid).map(|m| m.kind()) {
                            self.add_track(pid, m.mid, kind);
                        }
                    }
                    _ => {}
                }
            }
            Event::MediaData(d) if p.role == Role::Publish => self.forward(pid, d),
            Event::KeyframeRequest(req) if p.role == Role::Subscribe => {
                let Some(o) = p
                    .out
                    .iter()
                    .find(|o| matches!(o.state, OutState::Open(m) if m == req.mid))
                else {
                    return;
                };
                let (track, rid) = (o.track, o.current.flatten().or(o.target));
                let room = p.room;
                self.request_keyframe(room, track, rid, req.kind);
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. })
            | Event::EgressBitrateEstimate(BweKind::Remb { estimate, .. }) => {
                let new = estimate.as_u64();
                if p.bwe.is_some_and(|old| new < old) {
                    // A falling estimate is acted on at the next frame, not
                    // at the next review: the pacer would queue what no
                    // longer fits (latency), waiting for the lower layer.
                    let due = Instant::now().checked_sub(LAYER_REVIEW);
                    for o in p.out.iter_mut().filter(|o| o.reviewed.is_some()) {
                        o.reviewed = due.or(o.reviewed);
                    }
                }
                p.bwe = Some(new);
            }
            Event::MediaIngressStats(s) => {
                let last = p.ingress_packets.insert((s.mid, s.rid), s.packets).unwrap_or(0);
                if let Some(loss) = s.loss {
                    let lost = (loss as f64 * s.packets.saturating_sub(last) as f64).round() as u64;
                    p.metrics.packets_lost_in.fetch_add(lost, Relaxed);
                }
            }
            Event::MediaEgressStats(s) => {
                let last = p.egress_packets.insert((s.mid, s.rid), s.packets).unwrap_or(0);
                if let Some(loss) = s.loss {
                    let lost = (loss as f64 * s.packets.saturating_sub(last) as f64).round() as u64;
                    p.metrics.packets_lost_out.fetch_add(lost, Relaxed);
                }
            }
            _ => {}
        }
    }

    fn add_track(&mut self, pid: u64, mid: Mid, kind: MediaKind) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let id = next_track_id();
        let source = p.sources.get(&mid.to_string()).cloned().unwrap_or_else(|| {
            if kind == MediaKind::Audio {
                "microphone"
            } else {
                "camera"
            }
            .to_owned()
        });
        p.mids_in.insert(mid, id);
        let (room_id, user) = (p.room, p.user);
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.tracks.insert(
            id,
            TrackIn {
                publisher: pid,
                user,
                mid,
                kind,
                source,
                layers: vec![],
                last_keyframe_request: HashMap::new(),
                pending_keyframe: HashMap::new(),
                level: -127.0,
                level_at: None,
            },
        );
        room.metrics.tracks.fetch_add(1, Relaxed);
        let subs: Vec<u64> = room
            .subscribers
            .iter()
            .filter(|(u, _)| **u != user)
            .map(|(_, s)| *s)
            .collect();
        for sid in subs {
            if let Some(s) = self.peers.get_mut(&sid) {
                s.out.push(TrackOut {
                    track: id,
                    state: OutState::ToOpen,
                    current: None,
                    target: None,
                    reviewed: None,
                    down_at: None,
                });
            }
            self.renegotiate(sid);
        }
    }

    fn remove_track(&mut self, room_id: Uuid, track: u64) {
        self.remove_tracks(room_id, &[track]);
    }

    /// Takes tracks out of a room; each subscriber gets one offer for all.
    fn remove_tracks(&mut self, room_id: Uuid, tracks: &[u64]) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let tracks: Vec<u64> = tracks
            .iter()
            .copied()
            .filter(|t| room.tracks.remove(t).is_some())
            .collect();
        if tracks.is_empty() {
            return;
        }
        room.metrics.tracks.fetch_sub(tracks.len() as i64, Relaxed);
        let subs: Vec<u64> = room.subscribers.values().copied().collect();
        for sid in subs {
            let Some(s) = self.peers.get_mut(&sid) else { continue };
            let mut changed = false;
            s.out.retain_mut(|o| {
                if !tracks.contains(&o.track) {
                    return true;
                }
                match o.state {
                    OutState::ToOpen => {
                        changed = true;
                        false
                    }
                    OutState::Open(m) => {
                        o.state = OutState::ToStop(m);
                        changed = true;
                        true
                    }
                    // Stopped once its negotiation settles (see negotiate).
                    _ => true,
                }
            });
            if changed {
                self.renegotiate(sid);
            }
        }
    }

    /// Forwards one frame of a publisher to every subscriber of the room.
    fn forward(&mut self, pid: u64, data: MediaData) {
        let Some(p) = self.peers.get(&pid) else { return };
        let Some(track_id) = p.mids_in.get(&data.mid).copied() else {
            return;
        };
        let (room_id, user) = (p.room, p.user);
        let now = Instant::now();
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(track) = room.tracks.get_mut(&track_id) else {
            return;
        };
        let kind = track.kind;
        if kind == MediaKind::Video && data.is_keyframe() {
            track.pending_keyframe.remove(&data.rid);
        }
        match track.layers.iter_mut().find(|l| l.rid == data.rid) {
            Some(l) => {
                l.bytes += data.data.len() as u64;
                l.last_seen = now;
            }
            None => track.layers.push(Layer {
                rid: data.rid,
                bytes: data.data.len() as u64,
                bitrate: 0,
                last_seen: now,
            }),
        }
        if kind == MediaKind::Audio {
            if let Some(level) = data.ext_vals.audio_level {
                track.level = 0.7 * track.level + 0.3 * level as f32;
                track.level_at = Some(now);
            }
        }
        let ranked = ranked_layers(&track.layers, now);
        let discontinuous = !data.contiguous && kind == MediaKind::Video;
        if room.blocked.contains(&(user, kind_name(kind))) {
            return;
        }
        let subs: Vec<u64> = room
            .subscribers
            .iter()
            .filter(|(u, _)| **u != user)
            .map(|(_, s)| *s)
            .collect();
        let metrics = room.metrics.clone();
        if discontinuous {
            self.request_keyframe(room_id, track_id, data.rid, KeyframeRequestKind::Pli);
        }
        let keyframe = kind == MediaKind::Audio || data.is_keyframe();
        let arrived = self.arrived;
        let mut wanted_keyframe: Vec<Option<Rid>> = vec![];
        for sid in subs {
            let Some(s) = self.peers.get_mut(&sid) else { continue };
            let video_outs = s
                .out
                .iter()
                .filter(|o| matches!(o.state, OutState::Open(_)))
                .count()
                .max(1);
            let (quality, bwe) = (s.quality, s.bwe);
            let Some(o) = s.out.iter_mut().find(|o| o.track == track_id) else {
                continue;
            };
            let OutState::Open(mid) = o.state else { continue };
            if kind == MediaKind::Video && o.reviewed.is_none_or(|t| now.duration_since(t) >= LAYER_REVIEW) {
                let first = o.reviewed.is_none();
                let budget = bwe.map(|b| b / video_outs as u64);
                let (target, down) = review_layer(
                    &ranked,
                    quality,
                    budget,
                    o.target,
                    first,
                    o.down_at.is_some_and(|t| now.duration_since(t) < UPGRADE_HOLD),
                );
                if down {
                    o.down_at = Some(now);
                }
                o.target = target;
                o.reviewed = Some(now);
            }
            let want = if kind == MediaKind::Audio { data.rid } else { o.target };
            let send = if o.current == Some(data.rid) {
                // Still on this layer: a switch waits for the target's keyframe.
                true
            } else if data.rid == want && keyframe {
                o.current = Some(want);
                true
            } else {
                if data.rid == want && !wanted_keyframe.contains(&want) {
                    wanted_keyframe.push(want);
                }
                false
            };
            if !send {
                continue;
            }
            let write = catch_unwind(AssertUnwindSafe(|| {
                let Some(mut w) = s.rtc.writer(mid) else {
                    return Ok::<Option<u32>, str0m::RtcError>(None);
                };
                let Some(pt) = w.match_params(data.params) else {
                    return Ok(None);
                };
                if let (Some(l), Some(v)) = (data.ext_vals.audio_level, data.ext_vals.voice_activity) {
                    w = w.audio_level(l, v);
                }
                w.write(pt, data.network_time, data.time, data.data.clone())?;
                Ok(s.rtc.direct_api().stream_tx_by_mid(mid, None).map(|t| *t.ssrc()))
            }));
            match write {
                Ok(Ok(ssrc)) => {
                    if let Some(ssrc) = ssrc {
                        let q = &mut s
                            .inflight
                            .entry(ssrc)
                            .or_insert_with(|| (kind == MediaKind::Audio, VecDeque::new()))
                            .1;
                        if q.len() >= MAX_INFLIGHT {
                            q.pop_front();
                        }
                        q.push_back(arrived);
                    }
                    metrics.frames_forwarded.fetch_add(1, Relaxed);
                    self.drain(sid);
                }
                Ok(Err(e)) => {
                    self.metrics.write_failures.fetch_add(1, Relaxed);
                    tracing::debug!(peer = sid, error = ?e, "write failed");
                }
                Err(_) => {
                    tracing::error!(peer = sid, "peer panicked on write; removed");
                    self.kill(sid, Some("error"));
                }
            }
        }
        for rid in wanted_keyframe {
            self.request_keyframe(room_id, track_id, rid, KeyframeRequestKind::Pli);
        }
        self.send_due_keyframe_requests(room_id, track_id, now);
    }

    /// Sends the deferred keyframe requests of a track whose throttle window
    /// has passed.
    fn send_due_keyframe_requests(&mut self, room_id: Uuid, track_id: u64, now: Instant) {
        let Some(track) = self.rooms.get(&room_id).and_then(|r| r.tracks.get(&track_id)) else {
            return;
        };
        if track.pending_keyframe.is_empty() {
            return;
        }
        let due: Vec<(Option<Rid>, KeyframeRequestKind)> = track
            .pending_keyframe
            .iter()
            .filter(|(rid, _)| {
                track
                    .last_keyframe_request
                    .get(rid)
                    .is_none_or(|t| now.duration_since(*t) >= KEYFRAME_THROTTLE)
            })
            .map(|(rid, kind)| (*rid, *kind))
            .collect();
        for (rid, kind) in due {
            self.request_keyframe(room_id, track_id, rid, kind);
        }
    }

    /// Asks a track's publisher for a keyframe of a layer, at most every
    /// `KEYFRAME_THROTTLE` per layer; a request inside the window is deferred
    /// to its end.
    fn request_keyframe(&mut self, room_id: Uuid, track_id: u64, rid: Option<Rid>, kind: KeyframeRequestKind) {
        let Some(track) = self.rooms.get_mut(&room_id).and_then(|r| r.tracks.get_mut(&track_id)) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        let now = Instant::now();
        if track
            .last_keyframe_request
            .get(&rid)
            .is_some_and(|t| now.duration_since(*t) < KEYFRAME_THROTTLE)
        {
            // Not dropped: a subscriber may be waiting for it (time to first frame).
            let pending = track.pending_keyframe.entry(rid).or_insert(kind);
            if kind == KeyframeRequestKind::Fir {
                *pending = kind;
            }
            return;
        }
        track.pending_keyframe.remove(&rid);
        track.last_keyframe_request.insert(rid, now);
        let (pid, mid) = (track.publisher, track.mid);
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Some(mut w) = p.rtc.writer(mid) {
                if w.is_request_keyframe_possible(kind) {
                    let _ = w.request_keyframe(rid, kind);
                }
            }
        }));
        if r.is_err() {
            self.kill(pid, Some("error"));
            return;
        }
        self.drain(pid);
    }

    // ---- negotiation --------------------------------------------------

    /// Builds the next offer for a subscriber if it has changes and no offer
    /// outstanding.
    fn negotiate(&mut self, sid: u64) -> Option<(String, Vec<TrackInfo>)> {
        let s = self.peers.get_mut(&sid)?;
        if s.pending.is_some() {
            return None;
        }
        let room = self.rooms.get(&s.room)?;
        for o in &mut s.out {
            if let OutState::Open(m) = o.state {
                if !room.tracks.contains_key(&o.track) {
                    o.state = OutState::ToStop(m);
                }
            }
        }
        s.out
            .retain(|o| o.state != OutState::ToOpen || room.tracks.contains_key(&o.track));
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut change = s.rtc.sdp_api();
            let mut creds = None;
            if s.restart {
                creds = Some(change.ice_restart(true));
            }
            if s.needs_channel {
                change.add_channel("lyceum".to_owned());
            }
            for o in &mut s.out {
                match o.state {
                    OutState::ToOpen => {
                        let Some(t) = room.tracks.get(&o.track) else { continue };
                        let mid = change.add_media(
                            t.kind,
                            Direction::SendOnly,
                            Some(t.user.to_string()),
                            Some(format!("{}-{}", t.source, o.track)),
                            None,
                        );
                        o.state = OutState::Negotiating(mid);
                    }
                    OutState::ToStop(m) => {
                        change.stop_media(m);
                        o.state = OutState::NegotiatingStop(m);
                    }
                    _ => {}
                }
            }
            if !change.has_changes() {
                return None;
            }
            change.apply().map(|(offer, pending)| (offer, pending, creds))
        }));
        let (offer, pending, creds) = match result {
            Ok(Some(x)) => x,
            Ok(None) => return None,
            Err(_) => {
                self.kill(sid, Some("error"));
                return None;
            }
        };
        s.pending = Some(pending);
        s.needs_channel = false;
        if creds.is_some() {
            s.restart = false;
        }
        let sdp = offer.to_sdp_string();
        if let Some(u) = stun::sdp_ufrag(&sdp) {
            if u != s.ufrag {
                self.by_ufrag.remove(&s.ufrag);
                self.by_ufrag.insert(u.clone(), sid);
                s.ufrag = u;
            }
        }
        let tracks = s
            .out
            .iter()
            .filter_map(|o| {
                let mid = match o.state {
                    OutState::Negotiating(m) | OutState::Open(m) => m,
                    _ => return None,
                };
                let t = room.tracks.get(&o.track)?;
                Some(TrackInfo {
                    mid: mid.to_string(),
                    user_id: t.user,
                    kind: kind_name(t.kind),
                    source: t.source.clone(),
                    track_id: o.track,
                })
            })
            .collect();
        Some((sdp, tracks))
    }

    /// Renegotiates and sends the offer to the subscriber (through the room's
    /// actor).
    fn renegotiate(&mut self, sid: u64) {
        if let Some((sdp, tracks)) = self.negotiate(sid) {
            let Some(s) = self.peers.get(&sid) else { return };
            if let Some(room) = self.rooms.get(&s.room) {
                room.events.event(SfuEvent::Offer {
                    user: s.user,
                    sdp,
                    tracks,
                });
            }
        }
    }

    // ---- commands -------------------------------------------------------

    fn new_rtc(&self, subscriber: bool) -> Rtc {
        let mut b = Rtc::builder()
            .set_ice_lite(true)
            .set_stats_interval(Some(Duration::from_secs(1)));
        if subscriber && self.cfg.bwe {
            b = b.enable_bwe(Some(Bitrate::bps(self.cfg.initial_bitrate)));
        }
        let mut rtc = b.build(Instant::now());
        if let Ok(c) = Candidate::host(self.advertised, "udp") {
            rtc.add_local_candidate(c);
        }
        rtc
    }

    fn insert_peer(&mut self, room_id: Uuid, user: UserId, role: Role, rtc: Rtc, ufrag: String) -> Option<u64> {
        let room = self.rooms.get_mut(&room_id)?;
        let pid = self.next_peer;
        self.next_peer += 1;
        match role {
            Role::Publish => room.publishers.insert(user, pid),
            Role::Subscribe => room.subscribers.insert(user, pid),
        };
        self.by_ufrag.insert(ufrag.clone(), pid);
        self.peers.insert(
            pid,
            Peer {
                room: room_id,
                user,
                role,
                rtc,
                ufrag,
                addrs: vec![],
                next_timeout: Instant::now(),
                scheduled: None,
                disconnected_since: None,
                metrics: room.metrics.clone(),
                sources: HashMap::new(),
                mids_in: HashMap::new(),
                ingress_packets: HashMap::new(),
                out: vec![],
                pending: None,
                needs_channel: false,
                restart: false,
                quality: Quality::High,
                bwe: None,
                egress_packets: HashMap::new(),
                inflight: HashMap::new(),
            },
        );
        self.metrics.peers.fetch_add(1, Relaxed);
        Some(pid)
    }

    fn command(&mut self, cmd: ShardCmd) {
        match cmd {
            ShardCmd::OpenRoom { room, events, metrics } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.events = events;
                    return;
                }
                self.metrics.rooms.fetch_add(1, Relaxed);
                self.rooms.insert(
                    room,
                    Room {
                        events,
                        metrics,
                        tracks: HashMap::new(),
                        publishers: HashMap::new(),
                        subscribers: HashMap::new(),
                        blocked: HashSet::new(),
                        speaker: None,
                        speaker_quiet_since: None,
                        layers_at: Instant::now(),
                    },
                );
            }
            ShardCmd::CloseRoom { room } => {
                let Some(r) = self.rooms.get(&room) else { return };
                let pids: Vec<u64> = r.publishers.values().chain(r.subscribers.values()).copied().collect();
                for pid in pids {
                    self.kill(pid, None);
                }
                self.rooms.remove(&room);
                self.metrics.rooms.fetch_sub(1, Relaxed);
            }
            ShardCmd::Publish {
                room,
                user,
                sdp,
                sources,
                done,
            } => self.publish(room, user, sdp, sources, done),
            ShardCmd::Subscribe { room, user, done } => self.subscribe(room, user, done),
            ShardCmd::Answer { room, user, sdp, done } => self.answer(room, user, sdp, done),
            ShardCmd::Restart {
                room,
                user,
                done: reply,
            } => {
                let Some(sid) = self.rooms.get(&room).and_then(|r| r.subscribers.get(&user)).copied() else {
                    return fail(reply, SfuError::NotSubscribed);
                };
                if let Some(s) = self.peers.get_mut(&sid) {
                    s.restart = true;
                }
                let _ = reply.send(Ok(()));
                self.renegotiate(sid);
            }
            ShardCmd::Quality { room, user, quality } => {
                if let Some(s) = self
                    .rooms
                    .get(&room)
                    .and_then(|r| r.subscribers.get(&user))
                    .and_then(|s| self.peers.get_mut(s))
                {
                    s.quality = quality;
                    for o in &mut s.out {
                        o.reviewed = None;
                    }
                }
            }
            ShardCmd::Remove {
                room,
                user,
                publish_only,
            } => {
                let Some(r) = self.rooms.get(&room) else { return };
                let p = r.publishers.get(&user).copied();
                let s = if publish_only {
                    None
                } else {
                    r.subscribers.get(&user).copied()
                };
                for pid in p.into_iter().chain(s) {
                    self.kill(pid, None);
                }
            }
            ShardCmd::Block {
                room,
                user,
                kind,
                blocked,
            } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    if blocked {
                        r.blocked.insert((user, kind));
                    } else {
                        r.blocked.remove(&(user, kind));
                    }
                }
            }
        }
    }

    fn publish(
        &mut self,
        room: Uuid,
        user: UserId,
        sdp: String,
        sources: HashMap<String, String>,
        reply: Done<Published>,
    ) {
        if !self.rooms.contains_key(&room) {
            return fail(reply, SfuError::RoomClosed);
        }
        let offer = match SdpOffer::from_sdp_string(&sdp) {
            Ok(o) => o,
            Err(e) => {
                return fail(
                    reply,
                    SfuError::InvalidSdp(format!("the offer could not be parsed: {e}")),
                )
            }
        };
        let existing = self.rooms.get(&room).and_then(|r| r.publishers.get(&user)).copied();
        if let Some(pid) = existing {
            let Some(p) = self.peers.get_mut(&pid) else { return };
            p.sources.extend(sources);
            let r = catch_unwind(AssertUnwindSafe(|| p.rtc.sdp_api().accept_offer(offer)));
            match r {
                Ok(Ok(answer)) => {
                    let sdp = answer.to_sdp_string();
                    if let Some(u) = stun::sdp_ufrag(&sdp) {
                        if u != p.ufrag {
                            self.by_ufrag.remove(&p.ufrag);
                            self.by_ufrag.insert(u.clone(), pid);
                            p.ufrag = u;
                        }
                    }
                    let _ = reply.send(Ok(Published { sdp }));
                    self.drain(pid);
                }
                Ok(Err(e)) => fail(
                    reply,
                    SfuError::InvalidSdp(format!("the offer could not be accepted: {e}")),
                ),
                Err(_) => {
                    fail(reply, SfuError::InvalidSdp("the offer could not be accepted".into()));
                    self.kill(pid, Some("error"));
                }
            }
            return;
        }
        let mut rtc = self.new_rtc(false);
        let answer = match catch_unwind(AssertUnwindSafe(|| rtc.sdp_api().accept_offer(offer))) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                return fail(
                    reply,
                    SfuError::InvalidSdp(format!("the offer could not be accepted: {e}")),
                )
            }
            Err(_) => return fail(reply, SfuError::InvalidSdp("the offer could not be accepted".into())),
        };
        let sdp = answer.to_sdp_string();
        let ufrag = stun::sdp_ufrag(&sdp).unwrap_or_default();
        let Some(pid) = self.insert_peer(room, user, Role::Publish, rtc, ufrag) else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&pid) {
            p.sources = sources;
        }
        let _ = reply.send(Ok(Published { sdp }));
        self.drain(pid);
    }

    fn subscribe(&mut self, room_id: Uuid, user: UserId, reply: Done<Subscribed>) {
        let Some(room) = self.rooms.get(&room_id) else {
            return fail(reply, SfuError::RoomClosed);
        };
        if let Some(old) = room.subscribers.get(&user).copied() {
            self.kill(old, None);
        }
        let rtc = self.new_rtc(true);
        let Some(sid) = self.insert_peer(room_id, user, Role::Subscribe, rtc, String::new()) else {
            return;
        };
        let tracks: Vec<u64> = self
            .rooms
            .get(&room_id)
            .map(|r| {
                r.tracks
                    .iter()
                    .filter(|(_, t)| t.user != user)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(s) = self.peers.get_mut(&sid) {
            s.needs_channel = true;
            s.out = tracks
                .into_iter()
                .map(|track| TrackOut {
                    track,
                    state: OutState::ToOpen,
                    current: None,
                    target: None,
                    reviewed: None,
                    down_at: None,
                })
                .collect();
        }
        match self.negotiate(sid) {
            Some((sdp, tracks)) => {
                let _ = reply.send(Ok(Subscribed { sdp, tracks }));
                self.drain(sid);
            }
            None => {
                fail(reply, SfuError::NoOffer);
                self.kill(sid, None);
            }
        }
    }

    fn answer(&mut self, room: Uuid, user: UserId, sdp: String, reply: Done<()>) {
        let Some(sid) = self.rooms.get(&room).and_then(|r| r.subscribers.get(&user)).copied() else {
            return fail(reply, SfuError::NotSubscribed);
        };
        let answer = match SdpAnswer::from_sdp_string(&sdp) {
            Ok(a) => a,
            Err(e) => {
                return fail(
                    reply,
                    SfuError::InvalidSdp(format!("the answer could not be parsed: {e}")),
                )
            }
        };
        let Some(s) = self.peers.get_mut(&sid) else { return };
        let Some(pending) = s.pending.take() else {
            return fail(reply, SfuError::NoPendingOffer);
        };
        let r = catch_unwind(AssertUnwindSafe(|| s.rtc.sdp_api().accept_answer(pending, answer)));
        match r {
            Ok(Ok(())) => {
                for o in &mut s.out {
                    if let OutState::Negotiating(m) = o.state {
                        o.state = OutState::Open(m);
                        o.current = None;
                        o.reviewed = None;
                    }
                }
                s.out.retain(|o| !matches!(o.state, OutState::NegotiatingStop(_)));
                let _ = reply.send(Ok(()));
                self.drain(sid);
                // Changes that came while this offer was out.
                self.renegotiate(sid);
            }
            Ok(Err(e)) => {
                for o in &mut s.out {
                    match o.state {
                        OutState::Negotiating(_) => o.state = OutState::ToOpen,
                        OutState::NegotiatingStop(m) => o.state = OutState::ToStop(m),
                        _ => {}
                    }
                }
                fail(
                    reply,
                    SfuError::InvalidSdp(format!("the answer could not be accepted: {e}")),
                );
            }
            Err(_) => {
                fail(reply, SfuError::InvalidSdp("the answer could not be accepted".into()));
                self.kill(sid, Some("error"));
            }
        }
    }

    /// Removes a peer; with a reason, the room's actor hears of it.
    fn kill(&mut self, pid: u64, reason: Option<&'static str>) {
        let Some(mut p) = self.peers.remove(&pid) else { return };
        self.metrics.peers.fetch_sub(1, Relaxed);
        if reason == Some("error") {
            self.metrics.peer_failures.fetch_add(1, Relaxed);
        }
        let _ = catch_unwind(AssertUnwindSafe(|| p.rtc.disconnect()));
        for a in &p.addrs {
            self.by_addr.remove(a);
        }
        if self.by_ufrag.get(&p.ufrag) == Some(&pid) {
            self.by_ufrag.remove(&p.ufrag);
        }
        let Some(room) = self.rooms.get_mut(&p.room) else {
            return;
        };
        let publish = p.role == Role::Publish;
        let map = if publish {
            &mut room.publishers
        } else {
            &mut room.subscribers
        };
        if map.get(&p.user) == Some(&pid) {
            map.remove(&p.user);
        }
        if let Some(reason) = reason {
            room.events.event(SfuEvent::PeerGone {
                user: p.user,
                publish,
                reason,
            });
        }
        if publish {
            let tracks: Vec<u64> = p.mids_in.values().copied().collect();
            self.remove_tracks(p.room, &tracks);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        let fail = self.cfg.fail_timeout;
        let dead: Vec<u64> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.rtc.is_alive() || p.disconnected_since.is_some_and(|t| now.duration_since(t) >= fail))
            .map(|(id, _)| *id)
            .collect();
        for pid in dead {
            self.kill(pid, Some("connection_lost"));
        }
        // Tell each subscriber's bandwidth estimator what it could use (the
        // best layer of every video it receives, plus audio), so it probes
        // up to it instead of settling just above what it is sent.
        if self.cfg.bwe {
            for p in self.peers.values_mut().filter(|p| p.role == Role::Subscribe) {
                let Some(room) = self.rooms.get(&p.room) else { continue };
                let want: u64 = p
                    .out
                    .iter()
                    .filter(|o| matches!(o.state, OutState::Open(_)))
                    .filter_map(|o| room.tracks.get(&o.track))
                    .map(|t| {
                        if t.kind == MediaKind::Audio {
                            64_000
                        } else {
                            t.layers.iter().map(|l| l.bitrate).max().unwrap_or(0)
                        }
                    })
                    .sum();
                if want > 0 {
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        p.rtc.bwe().set_desired_bitrate(Bitrate::bps(want + want / 5))
                    }));
                }
            }
        }
        for room in self.rooms.values_mut() {
            // Layer bitrates over the last second.
            let elapsed = now.duration_since(room.layers_at);
            if elapsed >= Duration::from_secs(1) {
                for t in room.tracks.values_mut() {
                    for l in &mut t.layers {
                        l.bitrate = (l.bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
                        l.bytes = 0;
                    }
                }
                room.layers_at = now;
            }
            // Active speaker: the loudest recent voice, with some hysteresis.
            let loudest = room
                .tracks
                .values()
                .filter(|t| {
                    t.kind == MediaKind::Audio
                        && t.level_at
                            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
                })
                .filter(|t| t.level > SPEAKING_DBOV && !room.blocked.contains(&(t.user, MediaKindName::Audio)))
                .max_by(|a, b| a.level.total_cmp(&b.level))
                .map(|t| (t.user, t.level));
            let current_level = room.speaker.and_then(|u| {
                room.tracks
                    .values()
                    .filter(|t| {
                        t.user == u
                            && t.kind == MediaKind::Audio
                            && t.level_at
                                .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
                    })
                    .map(|t| t.level)
                    .reduce(f32::max)
            });
            let next = match (loudest, current_level) {
                (Some((u, _)), _) if Some(u) == room.speaker => room.speaker,
                (Some((u, l)), Some(cur)) if cur > SPEAKING_DBOV && l < cur + SPEAKER_SWITCH_DB => {
                    let _ = u;
                    room.speaker
                }
                (Some((u, _)), _) => Some(u),
                // Nobody speaks: the last speaker stays for a pause's length.
                (None, _) => {
                    let quiet = *room.speaker_quiet_since.get_or_insert(now);
                    room.speaker.filter(|_| now.duration_since(quiet) < SPEAKER_HOLD)
                }
            };
            if loudest.is_some() {
                room.speaker_quiet_since = None;
            }
            if next != room.speaker {
                room.speaker = next;
                room.events.event(SfuEvent::ActiveSpeaker { user: next });
            }
        }
        // Deferred keyframe requests of tracks that sent nothing since.
        let pending: Vec<(Uuid, u64)> = self
            .rooms
            .iter()
            .flat_map(|(rid, r)| {
                r.tracks
                    .iter()
                    .filter(|(_, t)| !t.pending_keyframe.is_empty())
                    .map(move |(tid, _)| (*rid, *tid))
            })
            .collect();
        for (room_id, track_id) in pending {
            self.send_due_keyframe_requests(room_id, track_id, now);
        }
    }
}

/// Layers heard recently, best first (by measured bitrate).
fn ranked_layers(layers: &[Layer], now: Instant) -> Vec<(Option<Rid>, u64)> {
    let mut v: Vec<(Option<Rid>, u64)> = layers
        .iter()
        .filter(|l| now.duration_since(l.last_seen) < LAYER_STALE)
        .map(|l| (l.rid, l.bitrate))
        .collect();
    v.sort_by_key(|l| std::cmp::Reverse(l.1));
    v
}

/// The layer for a subscriber: no better than its asked-for quality, and the
/// best that fits its share of the estimated bandwidth (the lowest if none).
fn pick_layer(ranked: &[(Option<Rid>, u64)], quality: Quality, budget: Option<u64>) -> Option<Rid> {
    if ranked.is_empty() {
        return None;
    }
    let last = ranked.len() - 1;
    let cap = match quality {
        Quality::High => 0,
        Quality::Medium => 1.min(last),
        Quality::Low => last,
    };
    let fits = |br: u64| budget.is_none_or(|b| br <= b);
    ranked[cap..]
        .iter()
        .find(|(_, br)| fits(*br))
        .map(|(r, _)| *r)
        .unwrap_or(ranked[last].0)
}

/// The layer a subscriber should get: down at once when the budget no longer
/// fits the current target, up only with headroom and not soon after a down.
/// Returns (target, whether it went down).
fn review_layer(
    ranked: &[(Option<Rid>, u64)],
    quality: Quality,
    budget: Option<u64>,
    target: Option<Rid>,
    first: bool,
    holding: bool,
) -> (Option<Rid>, bool) {
    // `fits` also honours the quality cap, so a lowered cap goes down here too.
    let fits = pick_layer(ranked, quality, budget);
    if first {
        // The first estimate is only the configured guess: start on the
        // lowest layer (its keyframe is the smallest, so the first picture
        // comes soonest) and go up at the next review if the budget allows.
        return (ranked.last().map(|l| l.0).unwrap_or(fits), false);
    }
    let rank = |r: Option<Rid>| ranked.iter().position(|(x, _)| *x == r);
    let Some(current) = rank(target) else {
        return (fits, false);
    };
    let fits_rank = rank(fits).unwrap_or(usize::MAX);
    if fits_rank > current {
        return (fits, true);
    }
    let up = pick_layer(
        ranked,
        quality,
        budget.map(|b| b.saturating_mul(4) / UPGRADE_HEADROOM_QUARTERS),
    );
    if !holding && rank(up).is_some_and(|u| u < current) {
        return (up, false);
    }
    (target, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_go_down_at_once_and_up_with_headroom() {
        let (h, m, l) = (Some(Rid::from("h")), Some(Rid::from("m")), Some(Rid::from("l")));
        let ranked = vec![(h, 1_500_000), (m, 500_000), (l, 150_000)];
        // First pick: the lowest layer.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_600_000), None, true, false),
            (l, false)
        );
        // Budget below the current layer: down at once.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_400_000), h, false, false),
            (m, true)
        );
        // Fits h, but without 25 % headroom: stay on m.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_600_000), m, false, false),
            (m, false)
        );
        // Headroom: up.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_900_000), m, false, false),
            (h, false)
        );
        // Headroom but holding after a down-switch: stay.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_900_000), m, false, true),
            (m, false)
        );
        // A lower quality cap goes down even with budget.
        assert_eq!(
            review_layer(&ranked, Quality::Low, Some(5_000_000), h, false, false),
            (l, true)
        );
        // A target that is no longer heard: whatever fits.
        assert_eq!(
            review_layer(&ranked[1..], Quality::High, None, h, false, true),
            (m, false)
        );
    }

    #[test]
    fn picks_layers_by_quality_and_budget() {
        let (h, m, l) = (Some(Rid::from("h")), Some(Rid::from("m")), Some(Rid::from("l")));
        let ranked = vec![(h, 1_500_000), (m, 500_000), (l, 150_000)];
        assert_eq!(pick_layer(&ranked, Quality::High, None), h);
        assert_eq!(pick_layer(&ranked, Quality::Medium, None), m);
        assert_eq!(pick_layer(&ranked, Quality::Low, None), l);
        assert_eq!(pick_layer(&ranked, Quality::High, Some(800_000)), m);
        assert_eq!(pick_layer(&ranked, Quality::High, Some(100_000)), l);
        assert_eq!(pick_layer(&[(None, 0)], Quality::Low, Some(1)), None);
        assert_eq!(pick_layer(&[], Quality::High, None), None);
    }
}
