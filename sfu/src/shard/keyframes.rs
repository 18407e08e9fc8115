//! Keyframe requests: at most one per layer every `KEYFRAME_THROTTLE`; a
//! request inside the window is deferred to its end (a subscriber may be
//! waiting for its first picture), and dropped if the keyframe comes first.
//! `KeyframeThrottle` is the bookkeeping, a pure function of the time given.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
use uuid::Uuid;

use super::Shard;
use crate::{ShardCmd, RESERVED_SLOTS};

const KEYFRAME_THROTTLE: Duration = Duration::from_millis(500);

/// Per track: when each layer's keyframe was last asked for, and the
/// requests waiting for their throttle window to end.
#[derive(Default)]
pub(super) struct KeyframeThrottle {
    last: HashMap<Option<Rid>, Instant>,
    /// Requests that came inside the throttle window: sent when it ends,
    /// unless the layer's keyframe arrives first.
    pending: HashMap<Option<Rid>, KeyframeRequestKind>,
}

impl KeyframeThrottle {
    /// A request for a layer's keyframe at `now`: true if it goes out now
    /// (and is noted as sent), false if deferred (a FIR deferred over a PLI
    /// wins: the stronger request).
    pub fn request(&mut self, rid: Option<Rid>, kind: KeyframeRequestKind, now: Instant) -> bool {
        if self
            .last
            .get(&rid)
            .is_some_and(|t| now.duration_since(*t) < KEYFRAME_THROTTLE)
        {
            // Not dropped: a subscriber may be waiting for it (time to first frame).
            let pending = self.pending.entry(rid).or_insert(kind);
            if kind == KeyframeRequestKind::Fir {
                *pending = kind;
            }
            return false;
        }
        self.pending.remove(&rid);
        self.last.insert(rid, now);
        true
    }

    /// The deferred requests whose window has ended by `now`.
    pub fn due(&self, now: Instant) -> Vec<(Option<Rid>, KeyframeRequestKind)> {
        self.pending
            .iter()
            .filter(|(rid, _)| {
                self.last
                    .get(rid)
                    .is_none_or(|t| now.duration_since(*t) >= KEYFRAME_THROTTLE)
            })
            .map(|(rid, kind)| (*rid, *kind))
            .collect()
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A keyframe of the layer came: what was deferred for it is moot.
    pub fn arrived(&mut self, rid: Option<Rid>) {
        self.pending.remove(&rid);
    }
}

impl Shard {
    /// Sends the deferred keyframe requests of a track whose throttle window
    /// has passed.
    pub(super) fn send_due_keyframe_requests(&mut self, room_id: Uuid, track_id: u64, now: Instant) {
        let Some(track) = self.rooms.get(&room_id).and_then(|r| r.tracks.get(&track_id)) else {
            return;
        };
        if !track.keyframes.has_pending() {
            return;
        }
        for (rid, kind) in track.keyframes.due(now) {
            self.request_keyframe(room_id, track_id, rid, kind, now);
        }
    }

    /// Asks a track's publisher for a keyframe of a layer, at most every
    /// `KEYFRAME_THROTTLE` per layer; a request inside the window is deferred
    /// to its end.
    pub(super) fn request_keyframe(
        &mut self,
        room_id: Uuid,
        track_id: u64,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let Some(track) = self.rooms.get_mut(&room_id).and_then(|r| r.tracks.get_mut(&track_id)) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        if !track.keyframes.request(rid, kind, now) {
            return;
        }
        let (pid, mid) = (track.publisher, track.mid);
        if let Some(home) = self.rooms.get(&room_id).and_then(|r| r.home) {
            // A mirror: the publisher is on the home shard, which throttles
            // again (its other subscribers may have asked too).
            let cmd = ShardCmd::Keyframe {
                room: room_id,
                track: track_id,
                rid,
                kind,
            };
            if self
                .siblings
                .get(home)
                .is_some_and(|s| s.tx.capacity() > RESERVED_SLOTS)
            {
                self.to_sibling(home, cmd);
            } else {
                self.metrics
                    .commands_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            return;
        }
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Some(s) = p.rtc.direct_api().stream_rx_by_mid(mid, rid) {
                s.request_keyframe(kind);
            }
        }));
        if r.is_err() {
            self.kill(pid, Some("error"));
            return;
        }
        self.drain(pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_throttled_per_layer_and_deferred_to_the_window_end() {
        let (h, l) = (Some(Rid::from("h")), Some(Rid::from("l")));
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut k = KeyframeThrottle::default();
        assert!(k.request(h, KeyframeRequestKind::Pli, t0));
        // Another layer has its own window.
        assert!(k.request(l, KeyframeRequestKind::Pli, ms(10)));
        // Inside h's window: deferred, and a FIR upgrades the deferred PLI.
        assert!(!k.request(h, KeyframeRequestKind::Pli, ms(100)));
        assert!(!k.request(h, KeyframeRequestKind::Fir, ms(200)));
        assert!(!k.request(h, KeyframeRequestKind::Pli, ms(300)));
        assert!(k.has_pending());
        assert_eq!(k.due(ms(499)), vec![]);
        assert_eq!(k.due(ms(500)), vec![(h, KeyframeRequestKind::Fir)]);
        // Sending it starts a new window and clears it.
        assert!(k.request(h, KeyframeRequestKind::Fir, ms(500)));
        assert!(!k.has_pending());
        assert!(!k.request(h, KeyframeRequestKind::Pli, ms(600)));
    }

    #[test]
    fn a_keyframe_that_comes_first_cancels_the_deferred_request() {
        let h = Some(Rid::from("h"));
        let t0 = Instant::now();
        let mut k = KeyframeThrottle::default();
        assert!(k.request(h, KeyframeRequestKind::Pli, t0));
        assert!(!k.request(h, KeyframeRequestKind::Pli, t0 + Duration::from_millis(100)));
        k.arrived(h);
        assert!(!k.has_pending());
        assert_eq!(k.due(t0 + Duration::from_secs(1)), vec![]);
    }
}
