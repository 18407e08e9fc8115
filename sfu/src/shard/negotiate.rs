//! Negotiation: publish (the client offers), subscribe (we offer), answers,
//! ICE restarts, and the renegotiations that tracks coming and going cause;
//! the SDP side of a peer and the `TrackInfo` table sent with each offer.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind, Mid};
use uuid::Uuid;

use super::{fail, kind_name, KeyframeThrottle, OutState, Role, Shard, TrackIn, TrackOut};
use crate::{
    next_track_id, stun, Done, Published, SfuError, SfuEvent, ShardCmd, Subscribed, TrackInfo, TrackMeta, UserId,
};

impl Shard {
    pub(super) fn add_track(&mut self, pid: u64, mid: Mid, kind: MediaKind) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let id = next_track_id();
        let source = p.sources.get(&mid.to_string()).cloned().unwrap_or_else(|| {
            if kind == MediaKind::Audio {
                "microphone"
            } else {
                "camera"
            }
            .to_owned()
        });
        p.mids_in.insert(mid, id);
        let (room_id, user) = (p.room, p.user);
        self.insert_track(
            room_id,
            id,
            TrackIn {
                publisher: pid,
                user,
                mid,
                kind,
                source,
                layers: vec![],
                keyframes: KeyframeThrottle::default(),
                level: -127.0,
                level_at: None,
            },
        );
    }

    /// Puts a track in a room: every other subscriber of it here gets an
    /// offer with it, and the shards mirroring the room hear of it.
    pub(super) fn insert_track(&mut self, room_id: Uuid, id: u64, track: TrackIn) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let (user, audio) = (track.user, track.kind == MediaKind::Audio);
        if room.home.is_none() {
            room.metrics.tracks.fetch_add(1, Relaxed);
            let meta = TrackMeta {
                id,
                user,
                mid: track.mid,
                kind: track.kind,
                source: track.source.clone(),
            };
            for k in room.mirrors.clone() {
                self.to_sibling(
                    k,
                    ShardCmd::MirrorTracks {
                        room: room_id,
                        add: vec![meta.clone()],
                        remove: vec![],
                    },
                );
            }
        }
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.tracks.insert(id, track);
        let subs = room.subscribers_except(user);
        for sid in subs {
            if let Some(s) = self.peers.get_mut(&sid) {
                s.out.push(TrackOut::new(id, audio));
            }
            self.renegotiate(sid);
        }
    }

    pub(super) fn remove_track(&mut self, room_id: Uuid, track: u64) {
        self.remove_tracks(room_id, &[track]);
    }

    /// Takes tracks out of a room; each subscriber gets one offer for all.
    pub(super) fn remove_tracks(&mut self, room_id: Uuid, tracks: &[u64]) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let tracks: Vec<u64> = tracks
            .iter()
            .copied()
            .filter(|t| room.tracks.remove(t).is_some())
            .collect();
        if tracks.is_empty() {
            return;
        }
        if room.home.is_none() {
            room.metrics.tracks.fetch_sub(tracks.len() as i64, Relaxed);
            for k in room.mirrors.clone() {
                self.to_sibling(
                    k,
                    ShardCmd::MirrorTracks {
                        room: room_id,
                        add: vec![],
                        remove: tracks.clone(),
                    },
                );
            }
        }
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let subs: Vec<u64> = room.subscribers.values().copied().collect();
        for sid in subs {
            let Some(s) = self.peers.get_mut(&sid) else { continue };
            let mut changed = false;
            let anchor = s.anchor;
            s.out.retain_mut(|o| {
                if !tracks.contains(&o.track) {
                    return true;
                }
                match o.state {
                    OutState::ToOpen => {
                        changed = true;
                        false
                    }
                    OutState::Open(m) => {
                        o.state = stop_or_park(m, anchor);
                        changed = true;
                        true
                    }
                    // Stopped once its negotiation settles (see negotiate).
                    _ => true,
                }
            });
            if changed {
                self.renegotiate(sid);
            }
        }
    }

    /// Builds the next offer for a subscriber if it has changes and no offer
    /// outstanding.
    pub(super) fn negotiate(&mut self, sid: u64) -> Option<(String, Vec<TrackInfo>)> {
        let s = self.peers.get_mut(&sid)?;
        if s.pending.is_some() {
            return None;
        }
        let room = self.rooms.get(&s.room)?;
        for o in &mut s.out {
            if let OutState::Open(m) = o.state {
                if !room.tracks.contains_key(&o.track) {
                    o.state = stop_or_park(m, s.anchor);
                }
            }
        }
        s.out
            .retain(|o| o.state != OutState::ToOpen || room.tracks.contains_key(&o.track));
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut change = s.rtc.sdp_api();
            let mut creds = None;
            if s.restart {
                creds = Some(change.ice_restart(true));
            }
            if s.needs_channel {
                change.add_channel("lyceum".to_owned());
            }
            for o in &mut s.out {
                match o.state {
                    OutState::ToOpen => {
                        let Some(t) = room.tracks.get(&o.track) else { continue };
                        let mid = change.add_media(
                            t.kind,
                            Direction::SendOnly,
                            Some(t.user.to_string()),
                            Some(format!("{}-{}", t.source, o.track)),
                            None,
                        );
                        o.state = OutState::Negotiating(mid);
                    }
                    OutState::ToStop(m) => {
                        change.stop_media(m);
                        o.state = OutState::NegotiatingStop(m);
                    }
                    OutState::ToPark(m) => {
                        change.set_direction(m, Direction::Inactive);
                        o.state = OutState::Parked(m);
                    }
                    _ => {}
                }
            }
            if !change.has_changes() {
                return None;
            }
            change.apply().map(|(offer, pending)| (offer, pending, creds))
        }));
        let (offer, pending, creds) = match result {
            Ok(Some(x)) => x,
            Ok(None) => return None,
            Err(_) => {
                self.kill(sid, Some("error"));
                return None;
            }
        };
        s.pending = Some(pending);
        if s.needs_channel {
            s.has_channel = true;
        }
        s.needs_channel = false;
        if creds.is_some() {
            s.restart = false;
        }
        let sdp = offer.to_sdp_string();
        if let Some(u) = stun::sdp_ufrag(&sdp) {
            if u != s.ufrag {
                self.by_ufrag.remove(&s.ufrag);
                self.by_ufrag.insert(u.clone(), sid);
                s.ufrag = u;
            }
        }
        let tracks = s
            .out
            .iter()
            .filter_map(|o| {
                let mid = match o.state {
                    OutState::Negotiating(m) | OutState::Open(m) => m,
                    _ => return None,
                };
                let t = room.tracks.get(&o.track)?;
                Some(TrackInfo {
                    mid: mid.to_string(),
                    user_id: t.user,
                    kind: kind_name(t.kind),
                    source: t.source.clone(),
                    track_id: o.track,
                })
            })
            .collect();
        Some((sdp, tracks))
    }

    /// Renegotiates and sends the offer to the subscriber (through the room's
    /// actor).
    pub(super) fn renegotiate(&mut self, sid: u64) {
        if let Some((sdp, tracks)) = self.negotiate(sid) {
            let Some(s) = self.peers.get(&sid) else { return };
            if let Some(room) = self.rooms.get(&s.room) {
                room.events.event(SfuEvent::Offer {
                    user: s.user,
                    sdp,
                    tracks,
                });
            }
        }
    }

    pub(super) fn publish(
        &mut self,
        room: Uuid,
        user: UserId,
        sdp: String,
        sources: HashMap<String, String>,
        reply: Done<Published>,
        now: Instant,
    ) {
        if !self.rooms.contains_key(&room) {
            return fail(reply, SfuError::RoomClosed);
        }
        let offer = match SdpOffer::from_sdp_string(&sdp) {
            Ok(o) => o,
            Err(e) => {
                return fail(
                    reply,
                    SfuError::InvalidSdp(format!("the offer could not be parsed: {e}")),
                )
            }
        };
        let existing = self.rooms.get(&room).and_then(|r| r.publishers.get(&user)).copied();
        if let Some(pid) = existing {
            let Some(p) = self.peers.get_mut(&pid) else { return };
            p.sources.extend(sources);
            let r = catch_unwind(AssertUnwindSafe(|| p.rtc.sdp_api().accept_offer(offer)));
            match r {
                Ok(Ok(answer)) => {
                    let sdp = answer.to_sdp_string();
                    if let Some(u) = stun::sdp_ufrag(&sdp) {
                        if u != p.ufrag {
                            self.by_ufrag.remove(&p.ufrag);
                            self.by_ufrag.insert(u.clone(), pid);
                            p.ufrag = u;
                        }
                    }
                    let _ = reply.send(Ok(Published { sdp }));
                    self.drain(pid);
                }
                Ok(Err(e)) => fail(
                    reply,
                    SfuError::InvalidSdp(format!("the offer could not be accepted: {e}")),
                ),
                Err(_) => {
                    fail(reply, SfuError::InvalidSdp("the offer could not be accepted".into()));
                    self.kill(pid, Some("error"));
                }
            }
            return;
        }
        let mut rtc = self.new_rtc(false, now);
        let answer = match catch_unwind(AssertUnwindSafe(|| rtc.sdp_api().accept_offer(offer))) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                return fail(
                    reply,
                    SfuError::InvalidSdp(format!("the offer could not be accepted: {e}")),
                )
            }
            Err(_) => return fail(reply, SfuError::InvalidSdp("the offer could not be accepted".into())),
        };
        let sdp = answer.to_sdp_string();
        let ufrag = stun::sdp_ufrag(&sdp).unwrap_or_default();
        if self.rooms.get(&room).is_some_and(|r| r.home.is_some()) {
            // Publishers are on the room's home shard only.
            return fail(reply, SfuError::RoomClosed);
        }
        let Some(pid) = self.insert_peer(room, user, Role::Publish, rtc, ufrag, now) else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&pid) {
            p.sources = sources;
        }
        let _ = reply.send(Ok(Published { sdp }));
        self.drain(pid);
    }

    /// A new subscribe peer for the user (`gen`: its placement number when
    /// the room's home shard placed it here, else 0).
    pub(super) fn subscribe(&mut self, room_id: Uuid, user: UserId, reply: Done<Subscribed>, gen: u64, now: Instant) {
        let Some(room) = self.rooms.get(&room_id) else {
            return fail(reply, SfuError::RoomClosed);
        };
        if let Some(old) = room.subscribers.get(&user).copied() {
            self.kill(old, None);
        }
        let rtc = self.new_rtc(true, now);
        let Some(sid) = self.insert_peer(room_id, user, Role::Subscribe, rtc, String::new(), now) else {
            return;
        };
        let tracks: Vec<(u64, bool)> = self
            .rooms
            .get(&room_id)
            .map(|r| {
                r.tracks
                    .iter()
                    .filter(|(_, t)| t.user != user)
                    .map(|(id, t)| (*id, t.kind == MediaKind::Audio))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(s) = self.peers.get_mut(&sid) {
            s.gen = gen;
            // A data channel only when there is nothing to receive yet: an
            // idle SCTP association costs every str0m round (docs/live.md).
            s.needs_channel = tracks.is_empty();
            s.out = tracks.into_iter().map(|(id, audio)| TrackOut::new(id, audio)).collect();
        }
        match self.negotiate(sid) {
            Some((sdp, tracks)) => {
                let _ = reply.send(Ok(Subscribed { sdp, tracks }));
                self.drain(sid);
            }
            None => {
                fail(reply, SfuError::NoOffer);
                self.kill(sid, None);
            }
        }
    }

    /// An ICE restart of a subscribe peer: acked, then offered (the offer
    /// goes out as an event).
    pub(super) fn restart(&mut self, room: Uuid, user: UserId, reply: Done<()>) {
        let Some(sid) = self.rooms.get(&room).and_then(|r| r.subscribers.get(&user)).copied() else {
            return fail(reply, SfuError::NotSubscribed);
        };
        if let Some(s) = self.peers.get_mut(&sid) {
            s.restart = true;
        }
        let _ = reply.send(Ok(()));
        self.renegotiate(sid);
    }

    pub(super) fn answer(&mut self, room: Uuid, user: UserId, sdp: String, reply: Done<()>) {
        let Some(sid) = self.rooms.get(&room).and_then(|r| r.subscribers.get(&user)).copied() else {
            return fail(reply, SfuError::NotSubscribed);
        };
        let answer = match SdpAnswer::from_sdp_string(&sdp) {
            Ok(a) => a,
            Err(e) => {
                return fail(
                    reply,
                    SfuError::InvalidSdp(format!("the answer could not be parsed: {e}")),
                )
            }
        };
        let Some(s) = self.peers.get_mut(&sid) else { return };
        let Some(pending) = s.pending.take() else {
            return fail(reply, SfuError::NoPendingOffer);
        };
        let r = catch_unwind(AssertUnwindSafe(|| s.rtc.sdp_api().accept_answer(pending, answer)));
        match r {
            Ok(Ok(())) => {
                for o in &mut s.out {
                    if let OutState::Negotiating(m) = o.state {
                        o.state = OutState::Open(m);
                        o.current = None;
                        o.reviewed = None;
                        // The first media m-line of a subscriber without a
                        // data channel heads its BUNDLE group.
                        if !s.has_channel && s.anchor.is_none() {
                            s.anchor = Some(m);
                        }
                    }
                }
                s.out.retain(|o| !matches!(o.state, OutState::NegotiatingStop(_)));
                let _ = reply.send(Ok(()));
                self.drain(sid);
                // Changes that came while this offer was out.
                self.renegotiate(sid);
            }
            Ok(Err(e)) => {
                for o in &mut s.out {
                    match o.state {
                        OutState::Negotiating(_) => o.state = OutState::ToOpen,
                        OutState::NegotiatingStop(m) => o.state = OutState::ToStop(m),
                        OutState::Parked(m) => o.state = OutState::ToPark(m),
                        _ => {}
                    }
                }
                fail(
                    reply,
                    SfuError::InvalidSdp(format!("the answer could not be accepted: {e}")),
                );
            }
            Err(_) => {
                fail(reply, SfuError::InvalidSdp("the answer could not be accepted".into()));
                self.kill(sid, Some("error"));
            }
        }
    }
}

/// What becomes of an open m-line whose track went: stopped, unless it
/// anchors a BUNDLE group that has no data channel (then parked).
fn stop_or_park(m: Mid, anchor: Option<Mid>) -> OutState {
    if anchor == Some(m) {
        OutState::ToPark(m)
    } else {
        OutState::ToStop(m)
    }
}
