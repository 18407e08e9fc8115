//! Keyframe requests: at most one per layer every `KEYFRAME_THROTTLE`; a
//! request inside the window is deferred to its end (a subscriber may be
//! waiting for its first picture), and dropped if the keyframe comes first.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
use uuid::Uuid;

use super::Shard;

const KEYFRAME_THROTTLE: Duration = Duration::from_millis(500);

impl Shard {
    /// Sends the deferred keyframe requests of a track whose throttle window
    /// has passed.
    pub(super) fn send_due_keyframe_requests(&mut self, room_id: Uuid, track_id: u64, now: Instant) {
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
    pub(super) fn request_keyframe(
        &mut self,
        room_id: Uuid,
        track_id: u64,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    ) {
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
}
