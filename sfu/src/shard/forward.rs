//! Forwarding: each RTP packet of a publisher to every subscriber of the room
//! that should get it (layer accounting, blocked media, the layer gate),
//! written into each subscriber's `Rtc` with str0m's direct API
//! (`stream_tx().write_rtp()`, RTP mode): no depacketizing, no frame
//! assembly, no repacketizing. Each subscriber's outgoing stream is one
//! continuous stream across layer switches (`rewrite`); video packets are
//! kept in str0m's send cache so a subscriber's NACK is answered there.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo, Vp8Descriptor};
use str0m::Rtc;

use super::layers::{ranked_layers, video_share, Gate};
use super::rewrite::{PacketIn, PacketOut};
use super::timing::packet_written;
use super::{kind_name, Layer, OutState, Shard, TrackOut};

impl Shard {
    /// Forwards one RTP packet of a publisher to every subscriber of the
    /// room. `now`: when its datagram arrived.
    pub(super) fn forward(&mut self, pid: u64, pkt: RtpPacket, now: Instant) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let ssrc = pkt.header.ssrc;
        let (mid, rid) = match p.ssrc_in.get(&ssrc) {
            Some(m) => *m,
            None => {
                let mut api = p.rtc.direct_api();
                let Some(s) = api.stream_rx(&ssrc) else {
                    return;
                };
                let m = (s.mid(), s.rid());
                p.ssrc_in.insert(ssrc, m);
                m
            }
        };
        let Some(track_id) = p.mids_in.get(&mid).copied() else {
            return;
        };
        let pt = pkt.header.payload_type;
        let Some(params) = p.rtc.codec_config().params().iter().find(|x| x.pt() == pt).copied() else {
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
        let vp8 = if kind == MediaKind::Video {
            Vp8Descriptor::parse(&pkt.payload).ok()
        } else {
            None
        };
        // The first packet of a keyframe: where a subscriber may switch to
        // this layer (audio: any packet).
        let keyframe = kind == MediaKind::Audio || vp8.is_some_and(|d| d.starts_keyframe(&pkt.payload));
        if kind == MediaKind::Video && keyframe {
            track.keyframes.arrived(rid);
        }
        let bytes = pkt.payload.len() as u64;
        match track.layers.iter_mut().find(|l| l.rid == rid) {
            Some(l) => {
                l.bytes += bytes;
                l.last_seen = now;
            }
            None => track.layers.push(Layer {
                rid,
                bytes,
                bitrate: 0,
                last_seen: now,
            }),
        }
        if kind == MediaKind::Audio {
            if let Some(level) = pkt.header.ext_vals.audio_level {
                track.level = 0.7 * track.level + 0.3 * level as f32;
                track.level_at = Some(now);
            }
        }
        if room.blocked.contains(&(user, kind_name(kind))) {
            return;
        }
        let ranked = ranked_layers(&track.layers, now);
        let subs = room.subscribers_except(user);
        let metrics = room.metrics.clone();
        let packet = PacketIn {
            seq: *pkt.seq_no,
            ts: pkt.header.timestamp,
            pic: vp8.and_then(|d| d.picture_id()),
            tl0: vp8.and_then(|d| d.tl0_pic_idx()),
            at: now,
            clock_rate: params.spec().clock_rate.get(),
        };
        let mut ext = ExtensionValues::default();
        if kind == MediaKind::Audio {
            ext.audio_level = pkt.header.ext_vals.audio_level;
            ext.voice_activity = pkt.header.ext_vals.voice_activity;
        } else {
            ext.video_orientation = pkt.header.ext_vals.video_orientation;
        }
        let audio_tracks: Vec<u64> = if kind == MediaKind::Video {
            room.tracks
                .iter()
                .filter(|(_, t)| t.kind == MediaKind::Audio)
                .map(|(id, _)| *id)
                .collect()
        } else {
            vec![]
        };
        let mut wanted_keyframe: Vec<Option<Rid>> = vec![];
        for sid in subs {
            let Some(s) = self.peers.get_mut(&sid) else { continue };
            // The subscriber's open tracks: audio comes off its estimate,
            // the rest is split between its videos.
            let (mut audio_outs, mut video_outs) = (0, 0);
            if kind == MediaKind::Video {
                for o in s.out.iter().filter(|o| matches!(o.state, OutState::Open(_))) {
                    if audio_tracks.contains(&o.track) {
                        audio_outs += 1;
                    } else {
                        video_outs += 1;
                    }
                }
            }
            let (quality, bwe) = (s.quality, s.bwe);
            let Some(o) = s.out.iter_mut().find(|o| o.track == track_id) else {
                continue;
            };
            let OutState::Open(out_mid) = o.state else { continue };
            if kind == MediaKind::Video {
                let budget = bwe.map(|b| video_share(b, audio_outs, video_outs));
                o.review(&ranked, quality, budget, now);
            }
            let want = if kind == MediaKind::Audio { rid } else { o.target };
            let before = o.current;
            match o.gate(rid, want, keyframe) {
                Gate::Send => {}
                Gate::Skip => continue,
                Gate::WantKeyframe => {
                    if !wanted_keyframe.contains(&want) {
                        wanted_keyframe.push(want);
                    }
                    continue;
                }
            }
            if o.current != before {
                o.rewrite.rebase(&packet);
            }
            let Some(mapped) = o.rewrite.map(&packet) else { continue };
            let written = catch_unwind(AssertUnwindSafe(|| {
                write_rtp(&mut s.rtc, o, out_mid, &params, &pkt, &ext, mapped, vp8)
            }));
            match written {
                Ok(Some(ssrc)) => {
                    packet_written(&mut s.inflight, ssrc, now);
                    metrics
                        .frames_forwarded
                        .fetch_add(u64::from(pkt.header.marker || kind == MediaKind::Audio), Relaxed);
                    self.mark_dirty(sid);
                }
                Ok(None) => {
                    self.metrics.write_failures.fetch_add(1, Relaxed);
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

/// The one place a packet becomes a subscriber's: its payload type mapped to
/// the subscriber's for the same codec (looked up once per stream), its ids
/// rewritten, written to the subscriber's stream for the track (str0m
/// encrypts, paces and keeps video for NACKs). A recording tap would sit
/// beside this call in `forward`. Returns the outgoing SSRC (None: the
/// subscriber has no stream or no matching codec for it).
#[allow(clippy::too_many_arguments)]
fn write_rtp(
    rtc: &mut Rtc,
    o: &mut TrackOut,
    mid: Mid,
    params: &PayloadParams,
    pkt: &RtpPacket,
    ext: &ExtensionValues,
    mapped: PacketOut,
    vp8: Option<Vp8Descriptor>,
) -> Option<u32> {
    let pt_in = params.pt();
    let pt = match o.pts.iter().find(|(i, _)| *i == pt_in) {
        Some((_, out)) => *out,
        None => {
            let out: Pt = rtc.codec_config().match_params(*params)?.pt();
            o.pts.push((pt_in, out));
            out
        }
    };
    let video = params.spec().codec.is_video();
    let mut api = rtc.direct_api();
    let stream = api.stream_tx_by_mid(mid, None)?;
    let mut w = RtpWrite::new(
        pt,
        SeqNo::from(mapped.seq),
        mapped.ts,
        pkt.timestamp,
        pkt.payload.clone(),
    )
    .marker(pkt.header.marker)
    .ext_vals(ext.clone())
    .nackable(video);
    if o.rewrite.patches_vp8() {
        if let Some(d) = vp8 {
            let mut b = d.patch();
            if let Some(pic) = mapped.pic {
                b = b.picture_id(pic);
            }
            if let Some(tl0) = mapped.tl0 {
                b = b.tl0_pic_idx(tl0);
            }
            if let Ok(patch) = b.build() {
                w = w.vp8_patch(patch);
            }
        }
    }
    stream.write_rtp(w);
    Some(*stream.ssrc())
}
