//! A shard driven by hand, for the fuzz targets (fuzz/) and the plain tests
//! that replay their regression inputs. Behind the `fuzzing` feature; the
//! server does not build it.
//!
//! Everything goes through the shard's own entry points: [`FuzzShard::publish`]
//! is the `rtc_publish` path (`Shard::command` with `ShardCmd::Publish`, then
//! the events it raised, as the socket loop does), [`FuzzShard::datagram`] is
//! what the loop does with every datagram it reads (`Shard::datagram`: the
//! demultiplexer, then the peer's `Rtc`). The only difference from a running
//! shard is that no thread or loop exists (time is passed in) and that every
//! `Rtc` shares one DTLS certificate instead of generating its own.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;
use uuid::Uuid;

use super::{bind, Role, Shard};

mod targets;
use crate::{Published, RoomEvents, SfuConfig, SfuError, SfuEvent, ShardCmd, Subscribed, UserId};
pub use targets::{DemuxTarget, SdpOfferTarget, CHROMIUM_OFFER};

/// One shard on a real localhost UDP socket with one open room.
pub struct FuzzShard {
    // Dropped before the runtime its socket is registered with.
    shard: Shard,
    room: Uuid,
    events: Arc<Mutex<Vec<SfuEvent>>>,
    _rt: tokio::runtime::Runtime,
}

/// What a shard reported, and its counters, after some input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub peers: usize,
    pub datagrams_in: u64,
    pub unknown_datagrams: u64,
    pub datagrams_out: u64,
    pub send_dropped: u64,
    pub peer_failures: u64,
}

impl FuzzShard {
    pub fn new() -> std::io::Result<FuzzShard> {
        crate::install_crypto();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let std = bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = std.local_addr()?;
        let socket = {
            let _in_rt = rt.enter();
            Arc::new(tokio::net::UdpSocket::from_std(std)?)
        };
        let cfg = SfuConfig::default();
        let mut shard = Shard::new(0, socket, addr, cfg, Arc::default());
        shard.dtls_cert = str0m::crypto::from_feature_flags().dtls_provider.generate_certificate();
        let events = Arc::new(Mutex::new(vec![]));
        let sink = events.clone();
        let room = Uuid::new_v4();
        let on_event: Arc<dyn RoomEvents> = Arc::new(move |ev| {
            if let Ok(mut seen) = sink.lock() {
                // Only the latest few matter to a caller; keep memory flat.
                if seen.len() >= 64 {
                    seen.clear();
                }
                seen.push(ev);
            }
        });
        shard.command(
            ShardCmd::OpenRoom {
                room,
                events: on_event,
                metrics: Arc::default(),
            },
            Instant::now(),
        );
        Ok(FuzzShard {
            shard,
            room,
            events,
            _rt: rt,
        })
    }

    /// The address the shard's socket is bound to (and advertises).
    pub fn local_addr(&self) -> SocketAddr {
        self.shard.advertised
    }

    /// `rtc_publish`: the participant's offer, answered or refused.
    pub fn publish(&mut self, user: UserId, sdp: &str, now: Instant) -> Result<Published, SfuError> {
        let (done, mut rx) = oneshot::channel();
        let cmd = ShardCmd::Publish {
            room: self.room,
            user,
            sdp: sdp.to_owned(),
            sources: HashMap::new(),
            done,
        };
        self.shard.command(cmd, now);
        self.shard.process_work(now);
        rx.try_recv().unwrap_or(Err(SfuError::Unavailable))
    }

    /// `rtc_subscribe`: the shard's offer to the participant.
    pub fn subscribe(&mut self, user: UserId, now: Instant) -> Result<Subscribed, SfuError> {
        let (done, mut rx) = oneshot::channel();
        self.shard.command(
            ShardCmd::Subscribe {
                room: self.room,
                user,
                done,
            },
            now,
        );
        self.shard.process_work(now);
        rx.try_recv().unwrap_or(Err(SfuError::Unavailable))
    }

    /// `rtc_answer`: the participant's answer to the shard's latest offer.
    pub fn answer(&mut self, user: UserId, sdp: &str, now: Instant) -> Result<(), SfuError> {
        let (done, mut rx) = oneshot::channel();
        self.shard.command(
            ShardCmd::Answer {
                room: self.room,
                user,
                sdp: sdp.to_owned(),
                done,
            },
            now,
        );
        self.shard.process_work(now);
        rx.try_recv().unwrap_or(Err(SfuError::Unavailable))
    }

    /// Drops the participant's peers (`session_leave`).
    pub fn remove(&mut self, user: UserId, now: Instant) {
        let cmd = ShardCmd::Remove {
            room: self.room,
            user,
            publish_only: false,
        };
        self.shard.command(cmd, now);
        self.shard.process_work(now);
    }

    /// A datagram read from the socket, handled as the socket loop does.
    pub fn datagram(&mut self, buf: &[u8], src: SocketAddr, now: Instant) {
        self.shard.datagram(buf, src, now);
    }

    /// The timers and housekeeping the loop runs when it wakes at `now`.
    pub fn tick(&mut self, now: Instant) {
        self.shard.timers(now);
        self.shard.housekeeping(now);
        self.shard.flush();
    }

    /// The ICE ufrag each live peer of `user` answers to (publish, subscribe).
    pub fn ufrags(&self, user: UserId) -> Vec<String> {
        let Some(room) = self.shard.rooms.get(&self.room) else {
            return vec![];
        };
        [room.publishers.get(&user), room.subscribers.get(&user)]
            .into_iter()
            .flatten()
            .filter_map(|pid| self.shard.peers.get(pid))
            .map(|p| p.ufrag.clone())
            .collect()
    }

    /// The events the room was told since the last call.
    pub fn take_events(&self) -> Vec<SfuEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    pub fn counts(&self) -> Counts {
        let m = &self.shard.metrics;
        Counts {
            peers: self.shard.peers.len(),
            datagrams_in: m.datagrams_in.load(Relaxed),
            unknown_datagrams: m.unknown_datagrams.load(Relaxed),
            datagrams_out: m.datagrams_out.load(Relaxed),
            send_dropped: m.send_dropped.load(Relaxed),
            peer_failures: m.peer_failures.load(Relaxed),
        }
    }

    /// Panics if the shard's maps disagree: every address and ufrag routes to
    /// a live peer (its own), every room entry names a live peer of that
    /// room and role, every track belongs to a live publisher, the peer gauge
    /// matches. A fuzz input that breaks one of these is a bug even when
    /// nothing crashed.
    pub fn check(&self) {
        let s = &self.shard;
        for (addr, pid) in &s.by_addr {
            let p = s.peers.get(pid);
            assert!(
                p.is_some_and(|p| p.addrs.contains(addr)),
                "by_addr {addr} -> dead peer {pid}"
            );
        }
        for (ufrag, pid) in &s.by_ufrag {
            let p = s.peers.get(pid);
            assert!(p.is_some_and(|p| &p.ufrag == ufrag), "by_ufrag {ufrag} -> peer {pid}");
        }
        let mut in_rooms = HashSet::new();
        for (rid, room) in &s.rooms {
            for (role, map) in [(Role::Publish, &room.publishers), (Role::Subscribe, &room.subscribers)] {
                for (user, pid) in map {
                    let p = s.peers.get(pid);
                    assert!(
                        p.is_some_and(|p| p.room == *rid && p.user == *user && p.role == role),
                        "room {rid} lists {pid} as {role:?} of {user} but it is not"
                    );
                    in_rooms.insert(*pid);
                }
            }
            for (tid, t) in &room.tracks {
                let p = s.peers.get(&t.publisher);
                assert!(
                    p.is_some_and(|p| p.role == Role::Publish && p.mids_in.get(&t.mid) == Some(tid)),
                    "track {tid} of a dead or other publisher {}",
                    t.publisher
                );
            }
        }
        for pid in s.peers.keys() {
            assert!(in_rooms.contains(pid), "peer {pid} is in no room");
        }
        assert_eq!(s.metrics.peers.load(Relaxed), s.peers.len() as i64, "peer gauge");
    }
}

static PANICS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// For the fuzz targets: libFuzzer's panic hook aborts on every panic, even
/// one the shard catches (str0m runs under `catch_unwind`: a peer whose
/// `Rtc` panics is removed, the shard goes on — its contract). This hook
/// counts a panic and prints the first at each place instead; a panic that
/// escapes the shard still aborts (libfuzzer-sys catches it around the
/// target). With `LYCEUM_FUZZ_STRICT` set, every panic aborts, to find
/// str0m's even where they are caught.
pub fn tolerate_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let strict = std::env::var_os("LYCEUM_FUZZ_STRICT").is_some();
        let seen = Mutex::new(HashSet::new());
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Relaxed);
            if strict {
                eprintln!("{info}");
                std::process::abort();
            }
            let at = info.location().map(|l| l.to_string()).unwrap_or_default();
            if seen.lock().is_ok_and(|mut s| s.insert(at)) {
                eprintln!("panic (caught by the shard, or an abort follows): {info}");
            }
        }));
    });
}

/// Panics seen since [`tolerate_caught_panics`].
pub fn panics() -> u64 {
    PANICS.load(Relaxed)
}
