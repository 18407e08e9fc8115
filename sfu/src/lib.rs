//! Lyceum's selective forwarding unit: str0m `Rtc`s driven by shards.
//!
//! This crate knows nothing of WebSockets, JSON or actors. The live domain
//! (the server's GroupSession) opens a room with [`Sfu::open_room`], gets a
//! [`RoomHandle`], and asks it to publish, subscribe, answer or restart; each
//! request resolves to a typed `Result<_, SfuError>` ([`Pending`]) that the
//! domain turns into its own ack or error frame ([`SfuError::code`] is the
//! protocol's code). What the shard has to say on its own — a renegotiation
//! offer, the active speaker, a peer gone — comes as an [`SfuEvent`] through
//! the room's [`RoomEvents`] sink.
//!
//! One shard is one OS thread with its own UDP socket and the peers of the
//! rooms placed on it; nothing on the media path takes a lock. A live room
//! has a home shard (like a mediasoup router on one worker): the shard with
//! the fewest peers when the room opens, which holds its publishers. Its
//! subscribers stay there until that shard has [`SfuConfig::spread_at`]
//! peers; later ones go to the shard with the fewest, where the room is
//! mirrored: the home shard hands each packet once to each such shard
//! through a bounded queue ([`RELAY_QUEUE`]; full, the packet is dropped and
//! counted), so a room's capacity grows with the cores (like mediasoup's
//! pipe transports, without the sockets). Everything else reaches a shard as
//! a command on its bounded channel ([`COMMAND_QUEUE`]).
//!
//! Every participant has up to two peers: a *publish* peer (the client
//! offers, we receive) and a *subscribe* peer (we offer, we send), so offers
//! never collide (see docs/live.md).
#![forbid(unsafe_code)]

mod error;
mod metrics;
mod shard;
mod stun;

/// A shard driven by hand, for fuzzing (feature `fuzzing`; see fuzz/).
#[cfg(feature = "fuzzing")]
pub use shard::fuzzing;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use error::SfuError;
pub use metrics::{Histogram, RoomMetrics, SfuMetrics, LATENCY_BUCKETS_US};

pub use lyceum_protocol::{MediaKind as MediaKindName, Quality, TrackInfo, UserId};

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Shards (threads); 0 means one per core.
    pub shards: usize,
    /// Address the UDP sockets bind to.
    pub bind: IpAddr,
    /// First UDP port; shard i binds `port + i`. 0 lets the OS choose.
    pub port: u16,
    /// The address put in ICE candidates (a public address when behind NAT);
    /// by default the bound address.
    pub advertise: Option<IpAddr>,
    /// A peer whose ICE connection stays disconnected this long is removed.
    pub fail_timeout: Duration,
    /// Estimate each subscriber's bandwidth (TWCC) and pick simulcast layers
    /// from it.
    pub bwe: bool,
    /// Initial estimate for a subscriber, bits per second.
    pub initial_bitrate: u64,
    /// A room's new subscribers go to its home shard while that shard has
    /// fewer peers than this; later ones to the shard with the fewest peers.
    /// 0 spreads every room's subscribers from the first.
    pub spread_at: usize,
    /// Send a subscriber's datagrams of a burst together with UDP GSO
    /// (Linux); off, or refused by the kernel, one message per datagram.
    pub gso: bool,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig {
            shards: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            advertise: None,
            fail_timeout: Duration::from_secs(15),
            bwe: true,
            initial_bitrate: 2_500_000,
            spread_at: 100,
            gso: true,
        }
    }
}

/// A publish answered: the SDP answer for the client's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub sdp: String,
}

/// A subscribe answered: our first offer for the subscribe peer and the
/// tracks it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    pub sdp: String,
    pub tracks: Vec<TrackInfo>,
}

/// The answer to a request, once its shard has handled it. Resolves to
/// `Err(SfuError::Unavailable)` if the shard dropped the request unanswered.
#[must_use = "the result is the client's answer"]
pub struct Pending<T>(oneshot::Receiver<Result<T, SfuError>>);

impl<T> Pending<T> {
    fn ready(r: Result<T, SfuError>) -> Pending<T> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(r);
        Pending(rx)
    }
}

impl<T> std::future::Future for Pending<T> {
    type Output = Result<T, SfuError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(SfuError::Unavailable)))
    }
}

/// Where a shard sends a request's result.
pub(crate) type Done<T> = oneshot::Sender<Result<T, SfuError>>;

/// Where a room's [`SfuEvent`]s go. Called on the shard's thread, so it must
/// not block: hand the event to the room's owner and return (the server's
/// implementation is an actor's `do_send`).
pub trait RoomEvents: Send + Sync {
    fn event(&self, ev: SfuEvent);
}

impl<F: Fn(SfuEvent) + Send + Sync> RoomEvents for F {
    fn event(&self, ev: SfuEvent) {
        self(ev)
    }
}

/// Reports from a shard to the room's owner. Their bound is their rate, not
/// a queue: few and none per packet (an offer per renegotiation, a speaker
/// change at most every housekeeping tick of 250 ms, a peer gone). The shard
/// never waits for the sink; the server's sink queues them in the
/// GroupSession's mailbox (`do_send`, which does not drop: a lost offer
/// would stall that subscriber's negotiation).
#[derive(Debug)]
pub enum SfuEvent {
    /// A renegotiation offer for a participant's subscribe connection.
    Offer {
        user: UserId,
        sdp: String,
        tracks: Vec<TrackInfo>,
    },
    /// The loudest participant changed.
    ActiveSpeaker { user: Option<UserId> },
    /// A participant's peer went away on its own: `connection_lost` (ICE
    /// failed for longer than the timeout) or `error` (the peer's Rtc
    /// failed or panicked).
    PeerGone {
        user: UserId,
        publish: bool,
        reason: &'static str,
    },
}

/// Commands queued per shard at most. A request that gets a result
/// (publish, subscribe, answer, restart) or a quality hint finding fewer than
/// [`RESERVED_SLOTS`] free is refused ([`SfuError::Overloaded`]; a dropped
/// quality hint is counted in `lyceum_sfu_commands_dropped_total`) rather
/// than queued: the client hears at once instead of waiting behind a
/// backlog. Commands that only open, tear down or correct state (open and
/// close a room, remove a peer, block a participant's media) may use the
/// reserved slots, so teardown and moderation get through a burst of
/// requests; should even those be gone (a shard stalled for long), they are
/// dropped, counted in the same metric and logged.
pub const COMMAND_QUEUE: usize = 1024;
/// The slots of [`COMMAND_QUEUE`] only room lifecycle and moderation
/// commands may take.
pub const RESERVED_SLOTS: usize = 128;
/// Media packets queued from a room's home shard to one other shard at most
/// (a few hundred milliseconds of a webinar's media). Full, a packet is
/// dropped and counted in `lyceum_sfu_relay_dropped_total`.
pub const RELAY_QUEUE: usize = 4096;

/// A track as the home shard describes it to the shards mirroring its room.
#[derive(Debug, Clone)]
pub(crate) struct TrackMeta {
    pub id: u64,
    pub user: UserId,
    /// The publisher's mid for it (on the home shard).
    pub mid: str0m::media::Mid,
    pub kind: str0m::media::MediaKind,
    pub source: String,
}

pub(crate) enum ShardCmd {
    OpenRoom {
        room: Uuid,
        events: Arc<dyn RoomEvents>,
        metrics: Arc<RoomMetrics>,
    },
    CloseRoom {
        room: Uuid,
    },
    Publish {
        room: Uuid,
        user: UserId,
        sdp: String,
        sources: HashMap<String, String>,
        done: Done<Published>,
    },
    Subscribe {
        room: Uuid,
        user: UserId,
        done: Done<Subscribed>,
    },
    Answer {
        room: Uuid,
        user: UserId,
        sdp: String,
        done: Done<()>,
    },
    Restart {
        room: Uuid,
        user: UserId,
        done: Done<()>,
    },
    Quality {
        room: Uuid,
        user: UserId,
        quality: Quality,
    },
    /// Drops the participant's publish peer (and its tracks), or both.
    Remove {
        room: Uuid,
        user: UserId,
        publish_only: bool,
    },
    /// Server-side mute: stop forwarding this participant's audio or video.
    Block {
        room: Uuid,
        user: UserId,
        kind: MediaKindName,
        blocked: bool,
    },
    /// From a room's home shard: a subscriber placed on this shard, with
    /// the room's tracks (the room is opened here as a mirror if it is not).
    /// `gen` tells this placement from a later one of the same user.
    SubscribeMirror {
        room: Uuid,
        home: usize,
        gen: u64,
        user: UserId,
        events: Arc<dyn RoomEvents>,
        metrics: Arc<RoomMetrics>,
        tracks: Vec<TrackMeta>,
        done: Done<Subscribed>,
    },
    /// From the home shard: tracks that came and went in a mirrored room.
    MirrorTracks {
        room: Uuid,
        add: Vec<TrackMeta>,
        remove: Vec<u64>,
    },
    /// From a mirror: the subscriber it held for the user (placement `gen`)
    /// is gone.
    MirrorLeft {
        room: Uuid,
        user: UserId,
        gen: u64,
    },
    /// From a mirror: one of its subscribers wants a keyframe.
    Keyframe {
        room: Uuid,
        track: u64,
        rid: Option<str0m::media::Rid>,
        kind: str0m::media::KeyframeRequestKind,
    },
}

impl ShardCmd {
    /// Whether the command may take the reserved slots of the queue.
    fn reserved(&self) -> bool {
        matches!(
            self,
            ShardCmd::OpenRoom { .. }
                | ShardCmd::CloseRoom { .. }
                | ShardCmd::Remove { .. }
                | ShardCmd::Block { .. }
                | ShardCmd::MirrorTracks { .. }
                | ShardCmd::MirrorLeft { .. }
        )
    }
}

struct ShardHandle {
    tx: mpsc::Sender<ShardCmd>,
    addr: SocketAddr,
    metrics: Arc<metrics::ShardMetrics>,
}

pub struct Sfu {
    shards: Vec<ShardHandle>,
    /// Room → shard. Touched when rooms open and close, never per packet.
    rooms: Mutex<HashMap<Uuid, usize>>,
    pub metrics: Arc<SfuMetrics>,
}

/// str0m needs a process-wide crypto provider (pure Rust here), once.
pub(crate) fn install_crypto() {
    static CRYPTO: std::sync::Once = std::sync::Once::new();
    CRYPTO.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}

static NEXT_TRACK: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_track_id() -> u64 {
    NEXT_TRACK.fetch_add(1, Ordering::Relaxed)
}

impl Sfu {
    /// Binds one UDP socket per shard and starts the shard threads.
    pub fn start(cfg: SfuConfig) -> std::io::Result<Arc<Sfu>> {
        install_crypto();

        let n = if cfg.shards == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            cfg.shards
        };
        let mut shards = Vec::with_capacity(n);
        let mut shard_metrics = Vec::with_capacity(n);
        // Every shard's queues first: each shard gets the others' (to place
        // subscribers and relay media to them).
        let mut cmd_rx = Vec::with_capacity(n);
        let mut relay_rx = Vec::with_capacity(n);
        let mut siblings = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
            let (relay, rrx) = mpsc::channel(RELAY_QUEUE);
            let m = Arc::new(metrics::ShardMetrics::default());
            shard_metrics.push(m.clone());
            cmd_rx.push(rx);
            relay_rx.push(rrx);
            siblings.push(shard::Sibling { tx, relay, metrics: m });
        }
        let mut cmd_rx = cmd_rx.into_iter();
        let mut relay_rx = relay_rx.into_iter();
        for i in 0..n {
            let port = if cfg.port == 0 {
                0
            } else {
                cfg.port.checked_add(i as u16).unwrap_or(0)
            };
            let socket = shard::bind(SocketAddr::new(cfg.bind, port))?;
            let bound = socket.local_addr()?;
            let advertised = SocketAddr::new(cfg.advertise.unwrap_or(bound.ip()), bound.port());
            let (Some(rx), Some(rrx)) = (cmd_rx.next(), relay_rx.next()) else {
                break;
            };
            let queues = shard::Queues {
                commands: rx,
                relayed: rrx,
                siblings: siblings.clone(),
            };
            let m = shard_metrics[i].clone();
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name(format!("sfu-shard-{i}"))
                .spawn(move || shard::run(i, socket, advertised, cfg, queues, m))?;
            tracing::info!(shard = i, udp = %bound, advertised = %advertised, "sfu shard started");
            shards.push(ShardHandle {
                tx: siblings[i].tx.clone(),
                addr: advertised,
                metrics: shard_metrics[i].clone(),
            });
        }
        let addrs = shards.iter().map(|s| s.addr).collect();
        Ok(Arc::new(Sfu {
            shards,
            rooms: Mutex::new(HashMap::new()),
            metrics: Arc::new(SfuMetrics::new(shard_metrics, addrs)),
        }))
    }

    pub fn shard_addrs(&self) -> Vec<SocketAddr> {
        self.shards.iter().map(|s| s.addr).collect()
    }

    /// Places a room on the least loaded shard and tells it where to report.
    pub fn open_room(self: &Arc<Self>, room: Uuid, kind: &'static str, events: Arc<dyn RoomEvents>) -> RoomHandle {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let shard = match rooms.get(&room) {
            Some(s) => *s,
            None => {
                let s = (0..self.shards.len())
                    .min_by_key(|i| self.shards[*i].metrics.peers.load(Ordering::Relaxed))
                    .unwrap_or(0);
                rooms.insert(room, s);
                s
            }
        };
        let metrics = self.metrics.room(room, kind);
        let handle = RoomHandle {
            room,
            tx: self.shards[shard].tx.clone(),
            shard: self.shards[shard].metrics.clone(),
            sfu: self.clone(),
            metrics: metrics.clone(),
        };
        handle.send(ShardCmd::OpenRoom { room, events, metrics });
        handle
    }
}

/// A GroupSession's grip on its room in the SFU. Closing (or dropping) it
/// removes every peer of the room.
pub struct RoomHandle {
    room: Uuid,
    tx: mpsc::Sender<ShardCmd>,
    shard: Arc<metrics::ShardMetrics>,
    sfu: Arc<Sfu>,
    pub metrics: Arc<RoomMetrics>,
}

impl RoomHandle {
    /// Queues a command that gets no result (see [`COMMAND_QUEUE`]).
    fn send(&self, cmd: ShardCmd) {
        let reserved = cmd.reserved();
        if !reserved && self.tx.capacity() <= RESERVED_SLOTS {
            self.shard.commands_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(cmd) {
            self.shard.commands_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(room = %self.room, "sfu command queue full; a room command was dropped");
        }
    }

    /// Queues a request whose result comes back through `Pending`; refused
    /// with `Overloaded` when only the reserved slots are left.
    fn request<T>(&self, cmd: impl FnOnce(Done<T>) -> ShardCmd) -> Pending<T> {
        if self.tx.is_closed() {
            return Pending::ready(Err(SfuError::Unavailable));
        }
        if self.tx.capacity() <= RESERVED_SLOTS {
            self.shard.commands_refused.fetch_add(1, Ordering::Relaxed);
            return Pending::ready(Err(SfuError::Overloaded));
        }
        let (done, rx) = oneshot::channel();
        match self.tx.try_send(cmd(done)) {
            Ok(()) => Pending(rx),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shard.commands_refused.fetch_add(1, Ordering::Relaxed);
                Pending::ready(Err(SfuError::Overloaded))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Pending::ready(Err(SfuError::Unavailable)),
        }
    }

    /// Accepts a participant's offer for their publish peer (a new peer, or a
    /// renegotiation of theirs). `sources` names tracks by mid
    /// ("camera", "screen", ...).
    pub fn publish(&self, user: UserId, sdp: String, sources: HashMap<String, String>) -> Pending<Published> {
        self.request(|done| ShardCmd::Publish {
            room: self.room,
            user,
            sdp,
            sources,
            done,
        })
    }
    /// A (new) subscribe peer for the participant, with every other
    /// participant's tracks.
    pub fn subscribe(&self, user: UserId) -> Pending<Subscribed> {
        self.request(|done| ShardCmd::Subscribe {
            room: self.room,
            user,
            done,
        })
    }
    /// The participant's answer to our last offer for their subscribe peer.
    pub fn answer(&self, user: UserId, sdp: String) -> Pending<()> {
        self.request(|done| ShardCmd::Answer {
            room: self.room,
            user,
            sdp,
            done,
        })
    }
    /// An ICE restart of the subscribe peer: its offer comes as an event.
    pub fn restart(&self, user: UserId) -> Pending<()> {
        self.request(|done| ShardCmd::Restart {
            room: self.room,
            user,
            done,
        })
    }
    /// The best quality the subscriber wants (a hint; dropped when the
    /// shard's queue is nearly full).
    pub fn quality(&self, user: UserId, quality: Quality) {
        self.send(ShardCmd::Quality {
            room: self.room,
            user,
            quality,
        });
    }
    pub fn remove(&self, user: UserId, publish_only: bool) {
        self.send(ShardCmd::Remove {
            room: self.room,
            user,
            publish_only,
        });
    }
    pub fn block(&self, user: UserId, kind: MediaKindName, blocked: bool) {
        self.send(ShardCmd::Block {
            room: self.room,
            user,
            kind,
            blocked,
        });
    }
}

impl Drop for RoomHandle {
    fn drop(&mut self) {
        self.send(ShardCmd::CloseRoom { room: self.room });
        self.sfu
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.room);
        self.sfu.metrics.forget_room(self.room);
    }
}

#[cfg(test)]
impl Sfu {
    /// An Sfu whose shards are the returned receivers (no threads, no
    /// sockets): what the room handles queue stays there to be looked at.
    fn detached(n: usize) -> (Arc<Sfu>, Vec<mpsc::Receiver<ShardCmd>>) {
        let mut shards = vec![];
        let mut rxs = vec![];
        for i in 0..n {
            let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
            shards.push(ShardHandle {
                tx,
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000 + i as u16),
                metrics: Arc::new(metrics::ShardMetrics::default()),
            });
            rxs.push(rx);
        }
        let m = shards.iter().map(|s| s.metrics.clone()).collect();
        let addrs = shards.iter().map(|s| s.addr).collect();
        let sfu = Sfu {
            shards,
            rooms: Mutex::new(HashMap::new()),
            metrics: Arc::new(SfuMetrics::new(m, addrs)),
        };
        (Arc::new(sfu), rxs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn user() -> UserId {
        UserId(Uuid::new_v4())
    }

    #[test]
    fn a_full_queue_refuses_requests_but_keeps_room_for_teardown() {
        let (sfu, mut rxs) = Sfu::detached(1);
        let events: Arc<dyn RoomEvents> = Arc::new(|_: SfuEvent| {});
        let room = sfu.open_room(Uuid::new_v4(), "session", events);
        let shard = sfu.shards[0].metrics.clone();
        // OpenRoom took a slot; requests fill the queue down to the reserve.
        let accepted = COMMAND_QUEUE - 1 - RESERVED_SLOTS;
        let mut pending = vec![];
        for _ in 0..accepted {
            pending.push(room.subscribe(user()));
        }
        assert_eq!(sfu.shards[0].tx.capacity(), RESERVED_SLOTS);
        // The next request is refused at once, with the protocol's code.
        let refused = block_on(room.publish(user(), String::new(), HashMap::new()));
        assert_eq!(refused, Err(SfuError::Overloaded));
        assert_eq!(SfuError::Overloaded.code(), lyceum_protocol::ErrorCode::Overloaded);
        assert_eq!(shard.commands_refused.load(Ordering::Relaxed), 1);
        // A quality hint is dropped, counted; removing and blocking still go in.
        room.quality(user(), Quality::Low);
        assert_eq!(shard.commands_dropped.load(Ordering::Relaxed), 1);
        for _ in 0..RESERVED_SLOTS {
            room.remove(user(), false);
        }
        assert_eq!(sfu.shards[0].tx.capacity(), 0);
        // With the reserve gone too, even teardown is dropped (and counted).
        room.block(user(), MediaKindName::Audio, true);
        assert_eq!(shard.commands_dropped.load(Ordering::Relaxed), 2);
        // The shard sees the commands in the order they were sent.
        let rx = &mut rxs[0];
        assert!(matches!(rx.try_recv(), Ok(ShardCmd::OpenRoom { .. })));
        let Ok(ShardCmd::Subscribe { done, .. }) = rx.try_recv() else {
            panic!("the first request comes next");
        };
        let Ok(ShardCmd::Subscribe { done: dropped, .. }) = rx.try_recv() else {
            panic!("then the second");
        };
        // An answer reaches its Pending; a request the shard drops unanswered
        // resolves as Unavailable rather than never.
        let _ = done.send(Ok(Subscribed {
            sdp: "v=0".into(),
            tracks: vec![],
        }));
        drop(dropped);
        let mut pending = pending.into_iter();
        let first = pending.next().map(block_on);
        assert_eq!(first.map(|r| r.map(|s| s.sdp)), Some(Ok("v=0".to_owned())));
        assert_eq!(pending.next().map(block_on), Some(Err(SfuError::Unavailable)));
    }

    #[test]
    fn a_stopped_shard_is_unavailable() {
        let (sfu, rxs) = Sfu::detached(1);
        let room = sfu.open_room(Uuid::new_v4(), "call", Arc::new(|_: SfuEvent| {}));
        drop(rxs);
        assert_eq!(block_on(room.restart(user())), Err(SfuError::Unavailable));
        assert_eq!(SfuError::Unavailable.code(), lyceum_protocol::ErrorCode::SfuUnavailable);
    }

    #[test]
    fn rooms_go_to_the_least_loaded_shard_and_closing_forgets_them() {
        let (sfu, mut rxs) = Sfu::detached(2);
        sfu.shards[0].metrics.peers.store(5, Ordering::Relaxed);
        let id = Uuid::new_v4();
        let room = sfu.open_room(id, "room", Arc::new(|_: SfuEvent| {}));
        assert!(matches!(rxs[1].try_recv(), Ok(ShardCmd::OpenRoom { .. })));
        assert!(rxs[0].try_recv().is_err());
        drop(room);
        assert!(matches!(rxs[1].try_recv(), Ok(ShardCmd::CloseRoom { room }) if room == id));
        assert!(sfu.rooms.lock().map(|r| r.is_empty()).unwrap_or(false));
    }
}
