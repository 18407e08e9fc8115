//! One SFU shard: a thread, a UDP socket, the peers of its rooms.
//!
//! This file owns the shard's state (rooms, peers, tracks and the maps
//! between them), the commands from room handles, peer removal and the
//! periodic housekeeping. The rest, by concern:
//! - `io`: the socket loop; `ingress`: reading a burst of datagrams in one
//!   `recvmmsg`;
//! - `demux`: which peer a datagram is for;
//! - `drive`: feeding and draining str0m, timers, peer events;
//! - `negotiate`: publish, subscribe, answer, restart (SDP);
//! - `forward`: writing RTP packets to subscribers;
//! - `rewrite`: one continuous outgoing stream across layer switches;
//! - `layers`: simulcast layer choice;
//! - `keyframes`: keyframe request throttling and deferral;
//! - `speaker`: the active speaker;
//! - `spread`: one room over several shards (placing subscribers, relaying
//!   media to the shards that mirror the room);
//! - `timing`: forwarding latency.

mod demux;
mod drive;
mod egress;
mod forward;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod ingress;
mod io;
mod keyframes;
mod layers;
mod negotiate;
mod rewrite;
mod speaker;
mod spread;
mod timing;

pub use io::{bind, run};
use keyframes::KeyframeThrottle;
use speaker::{ActiveSpeaker, Voice};
pub(crate) use spread::{Queues, Relayed, Sibling};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::SdpPendingOffer;
use str0m::config::DtlsCert;
use str0m::media::{MediaKind, Mid, Pt, Rid};
use str0m::rtp::Ssrc;
use str0m::{Event, Rtc};
use uuid::Uuid;

use super::metrics::{RoomMetrics, ShardMetrics};
use super::{Done, MediaKindName, Quality, RoomEvents, SfuConfig, SfuError, SfuEvent, ShardCmd, UserId};

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
    /// The m-line that anchors a subscriber's BUNDLE group (its first, when
    /// it has no data channel) lost its track: it is set inactive instead of
    /// stopped, so the group always keeps a live m-line. Nothing is
    /// forwarded on it again.
    ToPark(Mid),
    Parked(Mid),
}

struct TrackOut {
    track: u64,
    /// An audio track (the rest is video).
    audio: bool,
    state: OutState,
    /// The layer being forwarded (`Some(None)`: a stream without layers);
    /// None until the first keyframe.
    current: Option<Option<Rid>>,
    /// The layer we want, switched to on its next keyframe.
    target: Option<Rid>,
    reviewed: Option<Instant>,
    /// When the target last went down (an up-switch waits `UPGRADE_HOLD`).
    down_at: Option<Instant>,
    /// Since when the budget has been short of the target layer's bitrate
    /// at every review (a down-switch waits `DOWN_SUSTAIN` unless the drop
    /// is clear).
    short_since: Option<Instant>,
    /// Sequence numbers, timestamps and picture ids of the outgoing stream.
    rewrite: rewrite::Rewrite,
    /// The publisher's payload types and the subscriber's for the same codec.
    pts: Vec<(Pt, Pt)>,
    /// The last video packet written did not end its frame (no marker): a
    /// switch now would leave the subscriber an incomplete frame.
    mid_frame: bool,
    /// A switch waiting for the current layer's frame to end.
    held: Option<layers::Held>,
}

impl TrackOut {
    fn new(track: u64, audio: bool) -> TrackOut {
        TrackOut {
            track,
            audio,
            state: OutState::ToOpen,
            current: None,
            target: None,
            reviewed: None,
            down_at: None,
            short_since: None,
            rewrite: rewrite::Rewrite::default(),
            pts: vec![],
            mid_frame: false,
            held: None,
        }
    }
}

struct Peer {
    room: Uuid,
    user: UserId,
    role: Role,
    rtc: Rtc,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    next_timeout: Instant,
    /// The latest time given to its `Rtc` (str0m ignores a timeout earlier
    /// than the last input's time).
    fed: Instant,
    /// In `Shard::dirty`.
    dirty: bool,
    scheduled: Option<Instant>,
    disconnected_since: Option<Instant>,
    metrics: Arc<RoomMetrics>,
    // publish side
    sources: HashMap<String, String>,
    mids_in: HashMap<Mid, u64>,
    /// Incoming SSRC → (mid, rid), learnt from str0m on the first packet.
    ssrc_in: HashMap<Ssrc, (Mid, Option<Rid>)>,
    ingress_packets: HashMap<(Mid, Option<Rid>), u64>,
    // subscribe side
    out: Vec<TrackOut>,
    pending: Option<SdpPendingOffer>,
    /// Its next offer adds the "lyceum" data channel: a subscriber with no
    /// tracks to receive when it joins gets one so that its first offer has
    /// an m-line (none is used for anything else).
    needs_channel: bool,
    /// A data channel is in its SDP (then it anchors the BUNDLE group).
    has_channel: bool,
    /// Without a data channel: its first media m-line, which is parked
    /// instead of stopped when its track goes (see `OutState::ToPark`).
    anchor: Option<Mid>,
    restart: bool,
    quality: Quality,
    bwe: Option<u64>,
    egress_packets: HashMap<(Mid, Option<Rid>), u64>,
    /// Per outgoing SSRC: when each packet written but not yet sent
    /// arrived, to time it out of the socket.
    inflight: timing::Inflight,
    /// A subscriber of a mirrored room: the home shard's placement number
    /// (0 on the home shard).
    gen: u64,
}

struct Layer {
    rid: Option<Rid>,
    bytes: u64,
    bitrate: u64,
    last_seen: Instant,
}

struct TrackIn {
    /// The publisher's peer (0 in a mirrored room: it is on the home shard).
    publisher: u64,
    user: UserId,
    mid: Mid,
    kind: MediaKind,
    source: String,
    layers: Vec<Layer>,
    keyframes: KeyframeThrottle,
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
    speaker: ActiveSpeaker,
    layers_at: Instant,
    /// Some(shard): this is a mirror of the room whose home is that shard
    /// (subscribers only; media comes relayed).
    home: Option<usize>,
    /// On the home shard: the subscribers placed on other shards (shard,
    /// placement number), and the shards media is relayed to.
    remote: HashMap<UserId, (usize, u64)>,
    mirrors: Vec<usize>,
}

impl Room {
    fn new(events: Arc<dyn RoomEvents>, metrics: Arc<RoomMetrics>, home: Option<usize>, now: Instant) -> Room {
        Room {
            events,
            metrics,
            tracks: HashMap::new(),
            publishers: HashMap::new(),
            subscribers: HashMap::new(),
            blocked: HashSet::new(),
            speaker: ActiveSpeaker::default(),
            layers_at: now,
            home,
            remote: HashMap::new(),
            mirrors: vec![],
        }
    }

    /// The subscribe peers of everyone in the room but `user`: who receives
    /// `user`'s tracks.
    fn subscribers_except(&self, user: UserId) -> Vec<u64> {
        self.subscribers
            .iter()
            .filter(|(u, _)| **u != user)
            .map(|(_, s)| *s)
            .collect()
    }
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
    egress: egress::Egress,
    /// Peers written to and not given a round since (see `process_work`).
    dirty: Vec<u64>,
    next_peer: u64,
    /// Every shard's queues (this one's included, by index); empty in tests
    /// and fuzzing (one shard alone).
    siblings: Vec<Sibling>,
    /// Placement numbers of subscribers sent to other shards.
    next_gen: u64,
    /// A DTLS certificate every new `Rtc` uses instead of generating its
    /// own. None in the server (each peer gets a fresh one); the fuzzing
    /// harness sets one so an input costs an offer, not a key generation.
    dtls_cert: Option<DtlsCert>,
}

impl Shard {
    fn new(
        idx: usize,
        socket: Arc<tokio::net::UdpSocket>,
        advertised: SocketAddr,
        cfg: SfuConfig,
        metrics: Arc<ShardMetrics>,
    ) -> Shard {
        Shard {
            idx,
            socket,
            advertised,
            egress: egress::Egress::new(cfg.gso),
            cfg,
            metrics,
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            rooms: HashMap::new(),
            timers: BinaryHeap::new(),
            work: VecDeque::new(),
            dirty: vec![],
            next_peer: 1,
            siblings: vec![],
            next_gen: 1,
            dtls_cert: None,
        }
    }
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
    fn insert_peer(
        &mut self,
        room_id: Uuid,
        user: UserId,
        role: Role,
        rtc: Rtc,
        ufrag: String,
        now: Instant,
    ) -> Option<u64> {
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
                next_timeout: now,
                fed: now,
                dirty: false,
                scheduled: None,
                disconnected_since: None,
                metrics: room.metrics.clone(),
                sources: HashMap::new(),
                mids_in: HashMap::new(),
                ssrc_in: HashMap::new(),
                ingress_packets: HashMap::new(),
                out: vec![],
                pending: None,
                needs_channel: false,
                has_channel: false,
                anchor: None,
                restart: false,
                quality: Quality::High,
                bwe: None,
                egress_packets: HashMap::new(),
                inflight: timing::Inflight::default(),
                gen: 0,
            },
        );
        self.metrics.peers.fetch_add(1, Relaxed);
        Some(pid)
    }

    fn command(&mut self, cmd: ShardCmd, now: Instant) {
        match cmd {
            ShardCmd::OpenRoom { room, events, metrics } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.events = events;
                    return;
                }
                self.metrics.rooms.fetch_add(1, Relaxed);
                self.rooms.insert(room, Room::new(events, metrics, None, now));
            }
            ShardCmd::CloseRoom { room } => {
                let Some(r) = self.rooms.get(&room) else { return };
                for k in r.mirrors.clone() {
                    self.to_sibling(k, ShardCmd::CloseRoom { room });
                }
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
            } => self.publish(room, user, sdp, sources, done, now),
            ShardCmd::Subscribe { room, user, done } => match self.placement(room, user) {
                Some(k) => self.subscribe_on(k, room, user, done),
                None => self.subscribe(room, user, done, 0, now),
            },
            ShardCmd::Answer { room, user, sdp, done } => match self.remote_of(room, user) {
                Some(k) => self.to_sibling(k, ShardCmd::Answer { room, user, sdp, done }),
                None => self.answer(room, user, sdp, done),
            },
            ShardCmd::Restart { room, user, done } => match self.remote_of(room, user) {
                Some(k) => self.to_sibling(k, ShardCmd::Restart { room, user, done }),
                None => self.restart(room, user, done),
            },
            ShardCmd::Quality { room, user, quality } if self.remote_of(room, user).is_some() => {
                if let Some(k) = self.remote_of(room, user) {
                    self.to_sibling(k, ShardCmd::Quality { room, user, quality });
                }
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
                let remote = if publish_only {
                    None
                } else {
                    r.remote.get(&user).copied()
                };
                for pid in p.into_iter().chain(s) {
                    self.kill(pid, None);
                }
                if let Some((k, _)) = remote {
                    self.to_sibling(
                        k,
                        ShardCmd::Remove {
                            room,
                            user,
                            publish_only: false,
                        },
                    );
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
            ShardCmd::SubscribeMirror {
                room,
                home,
                gen,
                user,
                events,
                metrics,
                tracks,
                done,
            } => self.subscribe_mirror(room, home, gen, user, events, metrics, tracks, done, now),
            ShardCmd::MirrorTracks { room, add, remove } => self.mirror_tracks(room, add, remove),
            ShardCmd::MirrorLeft { room, user, gen } => self.mirror_left(room, user, gen),
            ShardCmd::Keyframe { room, track, rid, kind } => self.request_keyframe(room, track, rid, kind, now),
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
        if let (Some(home), false) = (room.home, publish) {
            // A mirror's subscriber: the home shard stops counting it here.
            let (room, user, gen) = (p.room, p.user, p.gen);
            self.to_sibling(home, ShardCmd::MirrorLeft { room, user, gen });
            return;
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
                let (mut audio, mut video) = (0u64, 0u64);
                for t in p
                    .out
                    .iter()
                    .filter(|o| matches!(o.state, OutState::Open(_)))
                    .filter_map(|o| room.tracks.get(&o.track))
                {
                    if t.kind == MediaKind::Audio {
                        audio += layers::AUDIO_BITRATE;
                    } else {
                        video += t.layers.iter().map(|l| l.bitrate).max().unwrap_or(0);
                    }
                }
                // Video with half again on top: an up-switch needs 125 % of
                // the layer's rate in the budget, so probing only to +20 %
                // (as before) could leave the estimate short of it for good.
                let want = audio + video + video / 2;
                if want > 0 {
                    let _ = catch_unwind(AssertUnwindSafe(|| p.rtc.bwe().set_desired_bitrate(Bitrate::bps(want))));
                }
            }
        }
        for room in self.rooms.values_mut() {
            // Layer bitrates: each second's measure, smoothed (a keyframe
            // burst is not the layer's rate).
            let elapsed = now.duration_since(room.layers_at);
            if elapsed >= Duration::from_secs(1) {
                for t in room.tracks.values_mut() {
                    for l in &mut t.layers {
                        let sample = (l.bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
                        l.bitrate = layers::smooth_bitrate(l.bitrate, sample);
                        l.bytes = 0;
                    }
                }
                room.layers_at = now;
            }
            let voices: Vec<Voice> = room
                .tracks
                .values()
                .filter(|t| t.kind == MediaKind::Audio)
                .map(|t| Voice {
                    user: t.user,
                    level: t.level,
                    heard: t.level_at,
                    blocked: room.blocked.contains(&(t.user, MediaKindName::Audio)),
                })
                .collect();
            if room.home.is_some() {
                continue;
            }
            if let Some(next) = room.speaker.update(&voices, now) {
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
                    .filter(|(_, t)| t.keyframes.has_pending())
                    .map(move |(tid, _)| (*rid, *tid))
            })
            .collect();
        for (room_id, track_id) in pending {
            self.send_due_keyframe_requests(room_id, track_id, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::oneshot;

    use super::*;
    use crate::{Published, Subscribed};

    /// A shard on a real localhost socket, driven by hand with explicit
    /// times; what it reports lands in the returned list.
    fn shard(cfg: SfuConfig) -> (Shard, Arc<Mutex<Vec<SfuEvent>>>, Uuid) {
        crate::install_crypto();
        let std = bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
        let addr = std.local_addr().expect("addr");
        let socket = Arc::new(tokio::net::UdpSocket::from_std(std).expect("socket"));
        let mut shard = Shard::new(0, socket, addr, cfg, Arc::default());
        let seen = Arc::new(Mutex::new(vec![]));
        let sink = seen.clone();
        let room = Uuid::new_v4();
        let events: Arc<dyn RoomEvents> = Arc::new(move |ev| sink.lock().expect("events").push(ev));
        let metrics = Arc::default();
        shard.command(ShardCmd::OpenRoom { room, events, metrics }, Instant::now());
        (shard, seen, room)
    }

    fn subscribe(shard: &mut Shard, room: Uuid, user: UserId, now: Instant) -> Result<Subscribed, SfuError> {
        let (done, mut rx) = oneshot::channel();
        shard.command(ShardCmd::Subscribe { room, user, done }, now);
        rx.try_recv().expect("answered at once")
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn requests_get_typed_answers() {
        runtime().block_on(async {
            let (mut shard, _, room) = shard(SfuConfig::default());
            let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
            let t0 = Instant::now();
            let sub = subscribe(&mut shard, room, a, t0).expect("subscribed");
            assert!(sub.sdp.starts_with("v=0"), "{}", sub.sdp);
            assert!(sub.tracks.is_empty());

            let (done, mut rx) = oneshot::channel::<Result<Published, SfuError>>();
            let (sdp, sources) = ("not sdp".to_owned(), HashMap::new());
            shard.command(
                ShardCmd::Publish {
                    room,
                    user: a,
                    sdp,
                    sources,
                    done,
                },
                t0,
            );
            let err = rx.try_recv().expect("answered").expect_err("refused");
            assert_eq!(err.code(), lyceum_protocol::ErrorCode::InvalidSdp);
            assert!(err.to_string().starts_with("the offer could not be parsed: "), "{err}");

            let (done, mut rx) = oneshot::channel();
            shard.command(ShardCmd::Restart { room, user: b, done }, t0);
            assert_eq!(rx.try_recv().expect("answered"), Err(SfuError::NotSubscribed));

            shard.command(ShardCmd::CloseRoom { room }, t0);
            assert_eq!(shard.metrics.peers.load(Relaxed), 0);
            assert_eq!(
                subscribe(&mut shard, room, a, t0).map(|_| ()),
                Err(SfuError::RoomClosed)
            );
        });
    }

    #[test]
    fn a_peer_disconnected_for_the_fail_timeout_is_removed_and_reported() {
        runtime().block_on(async {
            let cfg = SfuConfig {
                fail_timeout: Duration::from_secs(1),
                ..SfuConfig::default()
            };
            let (mut shard, seen, room) = shard(cfg);
            let a = UserId(Uuid::new_v4());
            let t0 = Instant::now();
            subscribe(&mut shard, room, a, t0).expect("subscribed");
            let sid = shard.rooms[&room].subscribers[&a];
            shard.event(
                sid,
                Event::IceConnectionStateChange(str0m::IceConnectionState::Disconnected),
                t0,
            );
            shard.housekeeping(t0 + Duration::from_millis(999));
            assert!(shard.peers.contains_key(&sid), "not yet");
            shard.housekeeping(t0 + Duration::from_secs(1));
            assert!(!shard.peers.contains_key(&sid));
            assert_eq!(shard.metrics.peers.load(Relaxed), 0);
            let seen = seen.lock().expect("events");
            assert!(
                matches!(
                    seen.as_slice(),
                    [SfuEvent::PeerGone { user, publish: false, reason: "connection_lost" }] if *user == a
                ),
                "{seen:?}"
            );
        });
    }

    #[test]
    fn subscribers_spread_to_the_emptier_shard_and_a_late_notice_keeps_a_newer_placement() {
        runtime().block_on(async {
            let cfg = SfuConfig {
                spread_at: 1,
                ..SfuConfig::default()
            };
            let (mut shard, _, room) = shard(cfg);
            let (tx0, _rx0) = tokio::sync::mpsc::channel(8);
            let (relay0, _r0) = tokio::sync::mpsc::channel(8);
            let (tx1, mut rx1) = tokio::sync::mpsc::channel(8);
            let (relay1, _r1) = tokio::sync::mpsc::channel(8);
            let other = Arc::new(ShardMetrics::default());
            shard.siblings = vec![
                Sibling {
                    tx: tx0,
                    relay: relay0,
                    metrics: shard.metrics.clone(),
                },
                Sibling {
                    tx: tx1,
                    relay: relay1,
                    metrics: other.clone(),
                },
            ];
            let t0 = Instant::now();
            let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
            // Below `spread_at` peers: here.
            subscribe(&mut shard, room, a, t0).expect("subscribed here");
            assert_eq!(shard.metrics.peers.load(Relaxed), 1);
            // At it: to the shard with fewer peers, with a placement number.
            let (done, _pending) = oneshot::channel();
            shard.command(ShardCmd::Subscribe { room, user: b, done }, t0);
            let Ok(ShardCmd::SubscribeMirror {
                gen: first,
                user,
                home: 0,
                ..
            }) = rx1.try_recv()
            else {
                panic!("placed on shard 1");
            };
            assert_eq!(user, b);
            // Subscribing again goes to the same shard, as a new placement;
            // so do the user's answers.
            let (done, _pending) = oneshot::channel();
            shard.command(ShardCmd::Subscribe { room, user: b, done }, t0);
            let Ok(ShardCmd::SubscribeMirror { gen: second, .. }) = rx1.try_recv() else {
                panic!("placed on shard 1 again");
            };
            assert!(second > first);
            // The first placement's peer reported gone late: the second stays.
            shard.command(
                ShardCmd::MirrorLeft {
                    room,
                    user: b,
                    gen: first,
                },
                t0,
            );
            let (done, _pending) = oneshot::channel();
            let sdp = String::new();
            shard.command(
                ShardCmd::Answer {
                    room,
                    user: b,
                    sdp,
                    done,
                },
                t0,
            );
            assert!(matches!(rx1.try_recv(), Ok(ShardCmd::Answer { user, .. }) if user == b));
            assert_eq!(shard.rooms[&room].mirrors, vec![1]);
            // The second gone: the mirror has no one left and is closed.
            shard.command(
                ShardCmd::MirrorLeft {
                    room,
                    user: b,
                    gen: second,
                },
                t0,
            );
            assert!(matches!(rx1.try_recv(), Ok(ShardCmd::CloseRoom { room: r }) if r == room));
            assert!(shard.rooms[&room].mirrors.is_empty());
            // With the other shard fuller, a new subscriber stays here.
            other.peers.store(5, Relaxed);
            let c = UserId(Uuid::new_v4());
            subscribe(&mut shard, room, c, t0).expect("subscribed here");
            assert!(rx1.try_recv().is_err());
        });
    }
}
