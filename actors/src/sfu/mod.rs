//! The selective forwarding unit: str0m `Rtc`s driven by shards.
//!
//! One shard is one OS thread with its own UDP socket and the peers of the
//! rooms placed on it; nothing on the media path takes a lock. A live room
//! lives on one shard (like a mediasoup router on one worker): the shard with
//! the fewest peers when the room opens. Everything else reaches a shard as a
//! [`ShardCmd`] on its channel, and a shard reports back to the room's
//! GroupSession actor with [`SfuEvent`]s.
//!
//! Every participant has up to two peers: a *publish* peer (the client
//! offers, we receive) and a *subscribe* peer (we offer, we send), so offers
//! never collide (see docs/live.md).

mod metrics;
mod shard;
mod stun;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use metrics::{Histogram, RoomMetrics, SfuMetrics, LATENCY_BUCKETS_US};

use crate::core::outbox::Outbox;
use crate::core::Error as ChatError;
use crate::protocol;
use lyceum_protocol::{ErrorCode, UserId};

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
        }
    }
}

/// Where a command's answer goes: the client's outbox and the command id.
#[derive(Clone)]
pub struct Reply {
    pub outbox: Outbox,
    pub id: Option<Value>,
}

impl Reply {
    pub fn ok(&self, data: Value) {
        self.outbox.text(protocol::ack(&self.id, data));
    }
    pub fn err(&self, code: ErrorCode, message: impl Into<String>) {
        self.outbox.text(ChatError::new(code, message).frame(&self.id));
    }
}

pub use lyceum_protocol::{MediaKind as MediaKindName, Quality, TrackInfo};

/// Reports from a shard to the room's actor.
#[derive(Message, Debug)]
#[rtype(result = "()")]
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

pub(crate) enum ShardCmd {
    OpenRoom {
        room: Uuid,
        events: Recipient<SfuEvent>,
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
        reply: Reply,
    },
    Subscribe {
        room: Uuid,
        user: UserId,
        reply: Reply,
    },
    Answer {
        room: Uuid,
        user: UserId,
        sdp: String,
        reply: Reply,
    },
    Restart {
        room: Uuid,
        user: UserId,
        reply: Reply,
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
}

struct ShardHandle {
    tx: mpsc::UnboundedSender<ShardCmd>,
    addr: SocketAddr,
    metrics: Arc<metrics::ShardMetrics>,
}

pub struct Sfu {
    shards: Vec<ShardHandle>,
    /// Room → shard. Touched when rooms open and close, never per packet.
    rooms: Mutex<HashMap<Uuid, usize>>,
    pub metrics: Arc<SfuMetrics>,
}

static NEXT_TRACK: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_track_id() -> u64 {
    NEXT_TRACK.fetch_add(1, Ordering::Relaxed)
}

impl Sfu {
    /// Binds one UDP socket per shard and starts the shard threads.
    pub fn start(cfg: SfuConfig) -> std::io::Result<Arc<Sfu>> {
        // str0m needs a process-wide crypto provider (pure Rust here).
        static CRYPTO: std::sync::Once = std::sync::Once::new();
        CRYPTO.call_once(|| str0m::crypto::from_feature_flags().install_process_default());

        let n = if cfg.shards == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            cfg.shards
        };
        let mut shards = Vec::with_capacity(n);
        let mut shard_metrics = Vec::with_capacity(n);
        for i in 0..n {
            let port = if cfg.port == 0 {
                0
            } else {
                cfg.port.checked_add(i as u16).unwrap_or(0)
            };
            let socket = shard::bind(SocketAddr::new(cfg.bind, port))?;
            let bound = socket.local_addr()?;
            let advertised = SocketAddr::new(cfg.advertise.unwrap_or(bound.ip()), bound.port());
            let (tx, rx) = mpsc::unbounded_channel();
            let m = Arc::new(metrics::ShardMetrics::default());
            shard_metrics.push(m.clone());
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name(format!("sfu-shard-{i}"))
                .spawn(move || shard::run(i, socket, advertised, cfg, rx, m))?;
            tracing::info!(shard = i, udp = %bound, advertised = %advertised, "sfu shard started");
            shards.push(ShardHandle {
                tx,
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
    pub fn open_room(self: &Arc<Self>, room: Uuid, kind: &'static str, events: Recipient<SfuEvent>) -> RoomHandle {
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
        let _ = self.shards[shard].tx.send(ShardCmd::OpenRoom {
            room,
            events,
            metrics: metrics.clone(),
        });
        RoomHandle {
            room,
            tx: self.shards[shard].tx.clone(),
            sfu: self.clone(),
            metrics,
        }
    }
}

/// A GroupSession's grip on its room in the SFU. Closing (or dropping) it
/// removes every peer of the room.
pub struct RoomHandle {
    room: Uuid,
    tx: mpsc::UnboundedSender<ShardCmd>,
    sfu: Arc<Sfu>,
    pub metrics: Arc<RoomMetrics>,
}

impl RoomHandle {
    fn send(&self, cmd: ShardCmd) -> bool {
        self.tx.send(cmd).is_ok()
    }

    pub fn publish(&self, user: UserId, sdp: String, sources: HashMap<String, String>, reply: Reply) {
        if !self.send(ShardCmd::Publish {
            room: self.room,
            user,
            sdp,
            sources,
            reply: reply.clone(),
        }) {
            reply.err(ErrorCode::SfuUnavailable, "the media server is not running");
        }
    }
    pub fn subscribe(&self, user: UserId, reply: Reply) {
        if !self.send(ShardCmd::Subscribe {
            room: self.room,
            user,
            reply: reply.clone(),
        }) {
            reply.err(ErrorCode::SfuUnavailable, "the media server is not running");
        }
    }
    pub fn answer(&self, user: UserId, sdp: String, reply: Reply) {
        if !self.send(ShardCmd::Answer {
            room: self.room,
            user,
            sdp,
            reply: reply.clone(),
        }) {
            reply.err(ErrorCode::SfuUnavailable, "the media server is not running");
        }
    }
    pub fn restart(&self, user: UserId, reply: Reply) {
        if !self.send(ShardCmd::Restart {
            room: self.room,
            user,
            reply: reply.clone(),
        }) {
            reply.err(ErrorCode::SfuUnavailable, "the media server is not running");
        }
    }
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
        let _ = self.tx.send(ShardCmd::CloseRoom { room: self.room });
        self.sfu
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.room);
        self.sfu.metrics.forget_room(self.room);
    }
}
