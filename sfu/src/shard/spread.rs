//! One room over several shards. A room's home shard (where it was opened)
//! holds its publishers and, until it has `SfuConfig::spread_at` peers, its
//! subscribers; a later subscriber goes to the shard with the fewest peers,
//! which opens a *mirror* of the room: the same tracks (described by the
//! home shard as they come and go), subscribers only. The home shard hands
//! each packet it forwards once to every shard mirroring the room, through
//! that shard's bounded relay queue (a lock-free channel; full, the packet
//! is dropped and counted), and each shard writes it to its own subscribers.
//!
//! Control stays with the home shard: the room's handle talks to it alone,
//! and it passes on what concerns a subscriber placed elsewhere (answer,
//! restart, quality, remove), in order on the mirror's command queue. A
//! mirror sends keyframe requests home, and says when a subscriber it held
//! is gone, with the placement number it was given, so a late notice never
//! forgets a newer placement of the same user.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::forward::Media;
use super::{fail, KeyframeThrottle, Room, Shard, ShardMetrics, TrackIn};
use crate::metrics::RoomMetrics;
use crate::{Done, RoomEvents, SfuError, ShardCmd, Subscribed, TrackMeta, UserId};

/// What every shard holds of every shard (its own included).
#[derive(Clone)]
pub(crate) struct Sibling {
    pub tx: mpsc::Sender<ShardCmd>,
    pub relay: mpsc::Sender<Relayed>,
    pub metrics: Arc<ShardMetrics>,
}

/// A shard's inputs besides its socket.
pub(crate) struct Queues {
    pub commands: mpsc::Receiver<ShardCmd>,
    pub relayed: mpsc::Receiver<Relayed>,
    pub siblings: Vec<Sibling>,
}

/// A packet from a room's home shard to a shard mirroring the room.
pub(crate) struct Relayed {
    pub room: Uuid,
    pub media: Media,
}

impl Shard {
    /// Where a room's new subscriber goes: None for here, or the shard.
    pub(super) fn placement(&self, room_id: Uuid, user: UserId) -> Option<usize> {
        let room = self.rooms.get(&room_id)?;
        if room.home.is_some() {
            return None;
        }
        if let Some((k, _)) = room.remote.get(&user) {
            return Some(*k);
        }
        if room.subscribers.contains_key(&user) || self.siblings.len() < 2 {
            return None;
        }
        let here = self.metrics.peers.load(Relaxed).max(0) as usize;
        if here < self.cfg.spread_at {
            return None;
        }
        // The fewest peers; on a tie, here (no relay hop).
        let best =
            (0..self.siblings.len()).min_by_key(|i| (self.siblings[*i].metrics.peers.load(Relaxed), *i != self.idx))?;
        (best != self.idx).then_some(best)
    }

    /// The shard a room's subscriber was placed on, if not here.
    pub(super) fn remote_of(&self, room_id: Uuid, user: UserId) -> Option<usize> {
        self.rooms.get(&room_id)?.remote.get(&user).map(|(k, _)| *k)
    }

    /// Queues a command on another shard. A request dropped at a full queue
    /// resolves as `sfu_unavailable` (its answer channel goes with it).
    pub(super) fn to_sibling(&self, k: usize, cmd: ShardCmd) {
        let Some(s) = self.siblings.get(k) else { return };
        if s.tx.try_send(cmd).is_err() {
            self.metrics.commands_dropped.fetch_add(1, Relaxed);
            tracing::warn!(
                shard = self.idx,
                to = k,
                "sfu shard command queue full; a command was dropped"
            );
        }
    }

    /// Places a room's subscriber on shard `k`.
    pub(super) fn subscribe_on(&mut self, k: usize, room_id: Uuid, user: UserId, done: Done<Subscribed>) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return fail(done, SfuError::RoomClosed);
        };
        let gen = self.next_gen;
        self.next_gen += 1;
        room.remote.insert(user, (k, gen));
        if !room.mirrors.contains(&k) {
            room.mirrors.push(k);
        }
        let tracks = room
            .tracks
            .iter()
            .map(|(id, t)| TrackMeta {
                id: *id,
                user: t.user,
                mid: t.mid,
                kind: t.kind,
                source: t.source.clone(),
            })
            .collect();
        let cmd = ShardCmd::SubscribeMirror {
            room: room_id,
            home: self.idx,
            gen,
            user,
            events: room.events.clone(),
            metrics: room.metrics.clone(),
            tracks,
            done,
        };
        self.to_sibling(k, cmd);
    }

    /// A subscriber the room's home shard placed here.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn subscribe_mirror(
        &mut self,
        room_id: Uuid,
        home: usize,
        gen: u64,
        user: UserId,
        events: Arc<dyn RoomEvents>,
        metrics: Arc<RoomMetrics>,
        tracks: Vec<TrackMeta>,
        done: Done<Subscribed>,
        now: Instant,
    ) {
        match self.rooms.get_mut(&room_id) {
            Some(r) if r.home == Some(home) => r.events = events,
            Some(_) => return fail(done, SfuError::RoomClosed),
            None => {
                self.metrics.rooms.fetch_add(1, Relaxed);
                self.rooms.insert(room_id, Room::new(events, metrics, Some(home), now));
            }
        }
        self.mirror_tracks(room_id, tracks, vec![]);
        self.subscribe(room_id, user, done, gen, now);
    }

    /// Tracks that came and went in the room this shard mirrors.
    pub(super) fn mirror_tracks(&mut self, room_id: Uuid, add: Vec<TrackMeta>, remove: Vec<u64>) {
        let Some(room) = self.rooms.get(&room_id) else { return };
        if room.home.is_none() {
            return;
        }
        for t in add {
            if self.rooms.get(&room_id).is_some_and(|r| r.tracks.contains_key(&t.id)) {
                continue;
            }
            self.insert_track(
                room_id,
                t.id,
                TrackIn {
                    publisher: 0,
                    user: t.user,
                    mid: t.mid,
                    kind: t.kind,
                    source: t.source,
                    layers: vec![],
                    keyframes: KeyframeThrottle::default(),
                    level: -127.0,
                    level_at: None,
                },
            );
        }
        if !remove.is_empty() {
            self.remove_tracks(room_id, &remove);
        }
    }

    /// A mirror's subscriber is gone: forgotten here unless the user has
    /// been placed again since; a mirror with none left is closed.
    pub(super) fn mirror_left(&mut self, room_id: Uuid, user: UserId, gen: u64) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some((k, g)) = room.remote.get(&user).copied() else {
            return;
        };
        if g != gen {
            return;
        }
        room.remote.remove(&user);
        if room.remote.values().all(|(s, _)| *s != k) {
            room.mirrors.retain(|s| *s != k);
            self.to_sibling(k, ShardCmd::CloseRoom { room: room_id });
        }
    }
}
