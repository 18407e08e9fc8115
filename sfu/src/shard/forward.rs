//! Forwarding: each RTP packet of a publisher to every subscriber of the room
//! that should get it (layer accounting, blocked media, the layer gate),
//! written into each subscriber's `Rtc` with str0m's direct API
//! (`stream_tx().write_rtp()`, RTP mode): no depacketizing, no frame
//! assembly, no repacketizing. Each subscriber's outgoing stream is one
//! continuous stream across layer switches (`rewrite`); video packets are
//! kept in str0m's send cache so a subscriber's NACK is answered there.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo, Vp8Descriptor};
use str0m::Rtc;
use uuid::Uuid;

use super::layers::{ranked_layers, video_share, Gate, Held, LAYER_REVIEW};
use super::rewrite::{PacketIn, PacketOut};
use super::spread::Relayed;
use super::timing::packet_written;
use super::{kind_name, Layer, OutState, Peer, Shard, TrackIn, TrackOut, UserId};

/// One publisher's RTP packet as forwarding needs it: what the subscribers'
/// streams are written from, and what is handed to the shards that mirror
/// the room (so it owns its parts; the payload is shared, not copied).
#[derive(Clone)]
pub(crate) struct Media {
    pub track: u64,
    /// The publisher (who does not get their own media).
    pub user: UserId,
    pub rid: Option<Rid>,
    pub kind: MediaKind,
    /// The publisher's payload type and codec.
    pub params: PayloadParams,
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub payload: Arc<[u8]>,
    pub ext: ExtensionValues,
    pub vp8: Option<Vp8Descriptor>,
    /// The first packet of a keyframe (audio: every packet): where a
    /// subscriber may switch to this layer.
    pub keyframe: bool,
    /// str0m's receive time of the packet.
    pub received: Instant,
    /// When its datagram arrived at the home shard (latency is timed from
    /// here, across the relay too).
    pub at: Instant,
}

impl Shard {
    /// Forwards one RTP packet of a publisher to every subscriber of the
    /// room, here and on the shards that mirror it. `now`: when its datagram
    /// arrived.
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
        let keyframe = kind == MediaKind::Audio || vp8.is_some_and(|d| d.starts_keyframe(&pkt.payload));
        let mut ext = ExtensionValues::default();
        if kind == MediaKind::Audio {
            ext.audio_level = pkt.header.ext_vals.audio_level;
            ext.voice_activity = pkt.header.ext_vals.voice_activity;
        } else {
            ext.video_orientation = pkt.header.ext_vals.video_orientation;
        }
        let media = Media {
            track: track_id,
            user,
            rid,
            kind,
            params,
            seq: *pkt.seq_no,
            ts: pkt.header.timestamp,
            marker: pkt.header.marker,
            payload: pkt.payload,
            ext,
            vp8,
            keyframe,
            received: pkt.timestamp,
            at: now,
        };
        account(track, &media);
        if room.blocked.contains(&(user, kind_name(kind))) {
            return;
        }
        // The other shards first: they work on it while this one does.
        for k in &room.mirrors {
            let Some(s) = self.siblings.get(*k) else { continue };
            let relayed = Relayed {
                room: room_id,
                media: media.clone(),
            };
            if s.relay.try_send(relayed).is_err() {
                self.metrics.relay_dropped.fetch_add(1, Relaxed);
            }
        }
        self.fan_out(room_id, &media);
    }

    /// A packet relayed by the room's home shard, for this shard's
    /// subscribers of the room.
    pub(super) fn relayed(&mut self, r: Relayed) {
        let Some(track) = self
            .rooms
            .get_mut(&r.room)
            .and_then(|room| room.tracks.get_mut(&r.media.track))
        else {
            return;
        };
        account(track, &r.media);
        self.fan_out(r.room, &r.media);
    }

    /// Writes a packet to every subscriber of the room on this shard that
    /// should get it (the layer gate, each subscriber's layer choice).
    fn fan_out(&mut self, room_id: Uuid, m: &Media) {
        let Some(room) = self.rooms.get(&room_id) else {
            return;
        };
        let Some(track) = room.tracks.get(&m.track) else {
            return;
        };
        let now = m.at;
        let (kind, track_id) = (m.kind, m.track);
        // Ranked only when a subscriber's layer is due for review (once a
        // second each), not for every packet.
        let mut ranked = None;
        let packet = packet_in(m);
        let mut wanted_keyframe: Vec<Option<Rid>> = vec![];
        let mut broken: Vec<u64> = vec![];
        // The room is read and the peers written: the fields apart, so the
        // subscribers are walked in place (no list made per packet).
        let (peers, dirty, shard_metrics) = (&mut self.peers, &mut self.dirty, &self.metrics);
        for (_, &sid) in room.subscribers.iter().filter(|(u, _)| **u != m.user) {
            let Some(s) = peers.get_mut(&sid) else { continue };
            let Some(i) = s.out.iter().position(|o| o.track == track_id) else {
                continue;
            };
            let OutState::Open(out_mid) = s.out[i].state else {
                continue;
            };
            if kind == MediaKind::Video && s.out[i].reviewed.is_none_or(|t| now.duration_since(t) >= LAYER_REVIEW) {
                // A review: audio comes off the subscriber's estimate, the
                // rest is split between its open videos.
                let (mut audio_outs, mut video_outs) = (0, 0);
                for o in s.out.iter().filter(|o| matches!(o.state, OutState::Open(_))) {
                    if o.audio {
                        audio_outs += 1;
                    } else {
                        video_outs += 1;
                    }
                }
                let budget = s.bwe.map(|b| video_share(b, audio_outs, video_outs));
                let quality = s.quality;
                let ranked = ranked.get_or_insert_with(|| ranked_layers(&track.layers, now));
                s.out[i].review(ranked, quality, budget, now);
            }
            let o = &mut s.out[i];
            let want = if kind == MediaKind::Audio { m.rid } else { o.target };
            let before = o.current;
            let mut sent = Sent::default();
            match o.gate(m.rid, want, m.keyframe) {
                Gate::Send => {
                    let switched = o.current != before;
                    sent.add(deliver(s, i, out_mid, m, &packet, switched));
                    if m.marker && s.out[i].held.is_some() {
                        // The current layer's frame is whole: switch.
                        switch_to_held(s, i, out_mid, &mut sent);
                    }
                }
                Gate::Hold => {
                    let held = o.held.get_or_insert_with(|| Held {
                        rid: m.rid,
                        since: now,
                        packets: vec![],
                    });
                    held.packets.push(m.clone());
                    if held.expired(now) {
                        switch_to_held(s, i, out_mid, &mut sent);
                    }
                }
                Gate::Skip => continue,
                Gate::WantKeyframe => {
                    if !wanted_keyframe.contains(&want) {
                        wanted_keyframe.push(want);
                    }
                    continue;
                }
            }
            room.metrics.frames_forwarded.fetch_add(sent.frames, Relaxed);
            shard_metrics.write_failures.fetch_add(sent.failures, Relaxed);
            if sent.panicked {
                broken.push(sid);
            } else if sent.written && !s.dirty {
                // Written to: given its round in `process_work`.
                s.dirty = true;
                dirty.push(sid);
            }
        }
        for sid in broken {
            tracing::error!(peer = sid, "peer panicked on write; removed");
            self.kill(sid, Some("error"));
        }
        for rid in wanted_keyframe {
            self.request_keyframe(room_id, track_id, rid, KeyframeRequestKind::Pli, now);
        }
        self.send_due_keyframe_requests(room_id, track_id, now);
    }
}

/// What writing packets to one subscriber came to.
#[derive(Default)]
struct Sent {
    written: bool,
    /// Frames forwarded (video packets with the marker, audio packets).
    frames: u64,
    /// Packets with no stream or no matching codec at the subscriber.
    failures: u64,
    panicked: bool,
}

impl Sent {
    fn add(&mut self, d: Delivery) {
        match d {
            Delivery::Written { frame } => {
                self.written = true;
                self.frames += u64::from(frame);
            }
            Delivery::Older => {}
            Delivery::NoStream => self.failures += 1,
            Delivery::Panicked => self.panicked = true,
        }
    }
}

/// A packet as the rewrite reads it.
fn packet_in(m: &Media) -> PacketIn {
    PacketIn {
        seq: m.seq,
        ts: m.ts,
        pic: m.vp8.and_then(|d| d.picture_id()),
        tl0: m.vp8.and_then(|d| d.tl0_pic_idx()),
        at: m.at,
        clock_rate: m.params.spec().clock_rate.get(),
    }
}

/// What became of one packet for one subscriber.
enum Delivery {
    Written {
        frame: bool,
    },
    /// Older than the switch to its layer: not sent.
    Older,
    NoStream,
    Panicked,
}

/// Sends one packet of the current layer to a subscriber's track `i` (its
/// stream `mid`): the outgoing stream re-based first if the layer just
/// `switched`, the packet noted for latency timing.
/// `packet` is `m` as the rewrite reads it (`packet_in`, made once per
/// packet, not per subscriber).
fn deliver(s: &mut Peer, i: usize, mid: Mid, m: &Media, packet: &PacketIn, switched: bool) -> Delivery {
    let o = &mut s.out[i];
    if switched {
        o.rewrite.rebase(packet);
    }
    let Some(mapped) = o.rewrite.map(packet) else {
        return Delivery::Older;
    };
    match catch_unwind(AssertUnwindSafe(|| write_rtp(&mut s.rtc, o, mid, m, mapped))) {
        Ok(Some(ssrc)) => {
            packet_written(&mut s.inflight, ssrc, mapped.seq as u16, m.at);
            if m.kind == MediaKind::Video {
                o.mid_frame = !m.marker;
            }
            Delivery::Written {
                frame: m.marker || m.kind == MediaKind::Audio,
            }
        }
        Ok(None) => Delivery::NoStream,
        Err(_) => Delivery::Panicked,
    }
}

/// Makes a held switch on a subscriber's track `i`: the held layer becomes
/// the current one, re-based on its keyframe, and its packets go out in
/// order.
fn switch_to_held(s: &mut Peer, i: usize, mid: Mid, sent: &mut Sent) {
    let Some(held) = s.out[i].held.take() else { return };
    s.out[i].current = Some(held.rid);
    for (k, m) in held.packets.iter().enumerate() {
        sent.add(deliver(s, i, mid, m, &packet_in(m), k == 0));
        if sent.panicked {
            return;
        }
    }
}

/// What a packet tells about its track: a layer's bytes and last sighting,
/// a keyframe's arrival, the speaker's level.
fn account(track: &mut TrackIn, m: &Media) {
    if m.kind == MediaKind::Video && m.keyframe {
        track.keyframes.arrived(m.rid);
    }
    let bytes = m.payload.len() as u64;
    match track.layers.iter_mut().find(|l| l.rid == m.rid) {
        Some(l) => {
            l.bytes += bytes;
            l.last_seen = m.at;
        }
        None => track.layers.push(Layer {
            rid: m.rid,
            bytes,
            bitrate: 0,
            last_seen: m.at,
        }),
    }
    if m.kind == MediaKind::Audio {
        if let Some(level) = m.ext.audio_level {
            track.level = 0.7 * track.level + 0.3 * level as f32;
            track.level_at = Some(m.at);
        }
    }
}

/// The one place a packet becomes a subscriber's: its payload type mapped to
/// the subscriber's for the same codec (looked up once per stream), its ids
/// rewritten, written to the subscriber's stream for the track (str0m
/// encrypts, paces and keeps video for NACKs). A recording tap would sit
/// beside this call in `forward`. Returns the outgoing SSRC (None: the
/// subscriber has no stream or no matching codec for it).
fn write_rtp(rtc: &mut Rtc, o: &mut TrackOut, mid: Mid, m: &Media, mapped: PacketOut) -> Option<u32> {
    let params = &m.params;
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
    let mut w = RtpWrite::new(pt, SeqNo::from(mapped.seq), mapped.ts, m.received, m.payload.clone())
        .marker(m.marker)
        .ext_vals(m.ext.clone())
        .nackable(video);
    if o.rewrite.patches_vp8() {
        if let Some(d) = m.vp8 {
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
