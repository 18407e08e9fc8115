//! Forwarding: a publisher's media frame to every subscriber of the room
//! that should get it (layer accounting, blocked media, the layer gate),
//! written into each subscriber's `Rtc` through `write_media`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::{Rtc, RtcError};

use super::layers::{ranked_layers, Gate};
use super::timing::frame_written;
use super::{kind_name, Layer, OutState, Shard};

impl Shard {
    /// Forwards one frame of a publisher to every subscriber of the room.
    /// `now`: when the datagram completing the frame arrived.
    pub(super) fn forward(&mut self, pid: u64, data: MediaData, now: Instant) {
        let Some(p) = self.peers.get(&pid) else { return };
        let Some(track_id) = p.mids_in.get(&data.mid).copied() else {
            return;
        };
        let (room_id, user) = (p.room, p.user);
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(track) = room.tracks.get_mut(&track_id) else {
            return;
        };
        let kind = track.kind;
        if kind == MediaKind::Video && data.is_keyframe() {
            track.keyframes.arrived(data.rid);
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
        let subs = room.subscribers_except(user);
        let metrics = room.metrics.clone();
        if discontinuous {
            self.request_keyframe(room_id, track_id, data.rid, KeyframeRequestKind::Pli, now);
        }
        let keyframe = kind == MediaKind::Audio || data.is_keyframe();
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
            if kind == MediaKind::Video {
                let budget = bwe.map(|b| b / video_outs as u64);
                o.review(&ranked, quality, budget, now);
            }
            let want = if kind == MediaKind::Audio { data.rid } else { o.target };
            match o.gate(data.rid, want, keyframe) {
                Gate::Send => {}
                Gate::Skip => continue,
                Gate::WantKeyframe => {
                    if !wanted_keyframe.contains(&want) {
                        wanted_keyframe.push(want);
                    }
                    continue;
                }
            }
            let write = catch_unwind(AssertUnwindSafe(|| write_media(&mut s.rtc, mid, &data)));
            match write {
                Ok(Ok(ssrc)) => {
                    if let Some(ssrc) = ssrc {
                        frame_written(&mut s.inflight, ssrc, kind == MediaKind::Audio, now);
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
            self.request_keyframe(room_id, track_id, rid, KeyframeRequestKind::Pli, now);
        }
        self.send_due_keyframe_requests(room_id, track_id, now);
    }
}

/// The one place a frame becomes a subscriber's packets: written into its
/// `Rtc` (str0m packetizes, paces and encrypts it). This is the seam for
/// other sinks: an RTP-mode forwarder (str0m's direct API, passing packets
/// rather than frames) would replace this call, and a recording tap would sit
/// beside it in `forward`, fed the same `MediaData`. Returns the SSRC the
/// frame goes out on, for latency timing (None: nothing written, the
/// subscriber's media has no writer or no matching payload type).
fn write_media(rtc: &mut Rtc, mid: Mid, data: &MediaData) -> Result<Option<u32>, RtcError> {
    let Some(mut w) = rtc.writer(mid) else {
        return Ok(None);
    };
    let Some(pt) = w.match_params(data.params) else {
        return Ok(None);
    };
    if let (Some(l), Some(v)) = (data.ext_vals.audio_level, data.ext_vals.voice_activity) {
        w = w.audio_level(l, v);
    }
    w.write(pt, data.network_time, data.time, data.data.clone())?;
    Ok(rtc.direct_api().stream_tx_by_mid(mid, None).map(|t| *t.ssrc()))
}
