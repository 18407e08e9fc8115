//! Driving str0m: feeding a peer's `Rtc` its inputs (datagrams, timeouts),
//! draining its `poll_output()` until `Timeout` (transmits go out at once,
//! events queue), the timer heap, and the events peers raise. str0m calls
//! run under `catch_unwind`: a peer whose `Rtc` panics or errors is removed,
//! the rest of the shard goes on.

use std::cmp::Reverse;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::media::Direction;
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, PacerReason, Reason, Rtc};

use super::layers::LAYER_REVIEW;
use super::timing::packet_sent;
use super::{OutState, Role, Shard};

/// How long the null pacer's bookkeeping round may wait (see `drain`).
const PACER_DEFER: Duration = Duration::from_millis(20);

impl Shard {
    pub(super) fn feed(&mut self, pid: u64, input: Input) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let at = match &input {
            Input::Timeout(t) => {
                self.metrics.timeout_rounds.fetch_add(1, Relaxed);
                *t
            }
            Input::Receive(t, _) => *t,
        };
        p.fed = p.fed.max(at);
        match catch_unwind(AssertUnwindSafe(|| p.rtc.handle_input(input))) {
            Ok(Ok(())) => self.drain(pid),
            Ok(Err(e)) => {
                tracing::debug!(peer = pid, error = ?e, "peer input failed");
                self.kill(pid, Some("error"));
            }
            Err(_) => {
                tracing::error!(peer = pid, "peer panicked on input; removed");
                self.kill(pid, Some("error"));
            }
        }
    }

    /// Polls a peer until it has nothing more to say: transmits queue for
    /// the next `sendmmsg` (`egress`), events for `process_work`.
    pub(super) fn drain(&mut self, pid: u64) {
        // Subscribers pace with the estimate on; publishers never send media.
        let null_pacer = !self.cfg.bwe;
        let Some(p) = self.peers.get_mut(&pid) else { return };
        let egress = &mut self.egress;
        let work = &mut self.work;
        let result = catch_unwind(AssertUnwindSafe(|| loop {
            match p.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let arrived = packet_sent(&mut p.inflight, &t.contents);
                    egress.push(t.destination, t.contents.into(), &p.metrics, arrived);
                }
                Ok(Output::Timeout(t)) => return Ok(t),
                Ok(Output::Event(e)) => work.push_back((pid, e)),
                Err(e) => return Err(e),
            }
        }));
        if self.egress.is_full() {
            use std::os::fd::AsRawFd;
            self.egress.flush(self.socket.as_raw_fd(), &self.metrics);
        }
        match result {
            Ok(Ok(mut t)) => {
                if null_pacer
                    && p.rtc.last_timeout_reason() == Reason::Pacer(PacerReason::Handle)
                    && p.inflight.is_empty()
                {
                    // str0m's null pacer asks for a timeout round after every
                    // packet it let out, to clear its own flag. When every
                    // packet written has left (none in flight) the round has
                    // nothing to send: the next write gives the peer a round
                    // anyway (`process_work`), and the other timers (reports,
                    // stats) can wait this long. With packets still queued
                    // (the pacer stops at a stream it thought non-empty) the
                    // round is due now.
                    t = t.max(p.fed + PACER_DEFER);
                }
                p.next_timeout = t;
                if p.scheduled.is_none_or(|s| t < s) {
                    p.scheduled = Some(t);
                    self.timers.push(Reverse((t, pid)));
                }
                if !p.rtc.is_alive() {
                    self.kill(pid, Some("connection_lost"));
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = pid, error = ?e, "peer output failed");
                self.kill(pid, Some("error"));
            }
            Err(_) => {
                tracing::error!(peer = pid, "peer panicked on output; removed");
                self.kill(pid, Some("error"));
            }
        }
    }

    pub(super) fn timers(&mut self, now: Instant) {
        while let Some(Reverse((t, pid))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(p) = self.peers.get_mut(&pid) else { continue };
            if p.scheduled == Some(t) {
                p.scheduled = None;
            }
            if p.next_timeout <= now {
                self.feed(pid, Input::Timeout(now));
            } else if p.scheduled.is_none() {
                let nt = p.next_timeout;
                p.scheduled = Some(nt);
                self.timers.push(Reverse((nt, pid)));
            }
        }
        self.process_work(now);
    }

    /// Handles the events the last input (or burst of inputs) raised; `now`
    /// is its time (for a packet, the arrival of its datagram). Then gives
    /// the subscribers media was written to one timeout round each, however
    /// many packets of the burst they were given, and sends what all of it
    /// queued: a subscriber's share of a burst leaves together (one GSO
    /// message when the sizes allow). A round, not a drain: str0m's pacer
    /// sees what was written to a stream only in its `handle_timeout`.
    pub(super) fn process_work(&mut self, now: Instant) {
        loop {
            self.process_events(now);
            if self.dirty.is_empty() {
                break;
            }
            for pid in std::mem::take(&mut self.dirty) {
                let Some(p) = self.peers.get_mut(&pid) else { continue };
                p.dirty = false;
                let at = now.max(p.fed);
                self.feed(pid, Input::Timeout(at));
            }
        }
        self.flush();
    }

    /// Handles the queued events (the subscribers media is written to wait
    /// for `process_work`).
    pub(super) fn process_events(&mut self, now: Instant) {
        while let Some((pid, ev)) = self.work.pop_front() {
            self.event(pid, ev, now);
        }
    }

    /// Sends the queued datagrams (see `egress`).
    pub(super) fn flush(&mut self) {
        use std::os::fd::AsRawFd;
        self.egress.flush(self.socket.as_raw_fd(), &self.metrics);
    }

    pub(super) fn event(&mut self, pid: u64, ev: Event, now: Instant) {
        let Some(p) = self.peers.get_mut(&pid) else { return };
        match ev {
            Event::IceConnectionStateChange(s) => match s {
                IceConnectionState::Disconnected => {
                    p.disconnected_since.get_or_insert(now);
                }
                IceConnectionState::Connected | IceConnectionState::Completed => p.disconnected_since = None,
                _ => {}
            },
            Event::MediaAdded(m) if p.role == Role::Publish => {
                if matches!(m.direction, Direction::RecvOnly | Direction::SendRecv) {
                    self.add_track(pid, m.mid, m.kind);
                }
            }
            Event::MediaChanged(m) if p.role == Role::Publish => {
                let receiving = matches!(m.direction, Direction::RecvOnly | Direction::SendRecv);
                let has = p.mids_in.get(&m.mid).copied();
                match (receiving, has) {
                    (false, Some(track)) => {
                        p.mids_in.remove(&m.mid);
                        let room = p.room;
                        self.remove_track(room, track);
                    }
                    (true, None) => {
                        if let Some(kind) = p.rtc.media(m.mid).map(|m| m.kind()) {
                            self.add_track(pid, m.mid, kind);
                        }
                    }
                    _ => {}
                }
            }
            Event::RtpPacket(pkt) if p.role == Role::Publish => self.forward(pid, pkt, now),
            Event::KeyframeRequest(req) if p.role == Role::Subscribe => {
                let Some(o) = p
                    .out
                    .iter()
                    .find(|o| matches!(o.state, OutState::Open(m) if m == req.mid))
                else {
                    return;
                };
                let (track, rid) = (o.track, o.current.flatten().or(o.target));
                let room = p.room;
                self.request_keyframe(room, track, rid, req.kind, now);
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. })
            | Event::EgressBitrateEstimate(BweKind::Remb { estimate, .. }) => {
                let new = estimate.as_u64();
                if p.bwe.is_some_and(|old| new < old) {
                    // A falling estimate is acted on at the next frame, not
                    // at the next review: the pacer would queue what no
                    // longer fits (latency), waiting for the lower layer.
                    let due = now.checked_sub(LAYER_REVIEW);
                    for o in p.out.iter_mut().filter(|o| o.reviewed.is_some()) {
                        o.reviewed = due.or(o.reviewed);
                    }
                }
                p.bwe = Some(new);
            }
            Event::MediaIngressStats(s) => {
                let last = p.ingress_packets.insert((s.mid, s.rid), s.packets).unwrap_or(0);
                if let Some(loss) = s.loss {
                    let lost = (loss as f64 * s.packets.saturating_sub(last) as f64).round() as u64;
                    p.metrics.packets_lost_in.fetch_add(lost, Relaxed);
                }
            }
            Event::MediaEgressStats(s) => {
                let last = p.egress_packets.insert((s.mid, s.rid), s.packets).unwrap_or(0);
                if let Some(loss) = s.loss {
                    let lost = (loss as f64 * s.packets.saturating_sub(last) as f64).round() as u64;
                    p.metrics.packets_lost_out.fetch_add(lost, Relaxed);
                }
            }
            _ => {}
        }
    }

    pub(super) fn new_rtc(&self, subscriber: bool, now: Instant) -> Rtc {
        // RTP mode: packets are forwarded as they come, not assembled into
        // frames and packetized again. Opus and VP8 only, on both sides, so
        // what a publisher sends is what every subscriber can take (and a
        // VP8 keyframe is where a layer switch can happen).
        let mut b = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_ice_lite(true)
            .set_stats_interval(Some(Duration::from_secs(1)));
        if subscriber && self.cfg.bwe {
            b = b.enable_bwe(Some(Bitrate::bps(self.cfg.initial_bitrate)));
        } else if subscriber {
            // No estimate, so no transport-wide sequence numbers: nothing
            // would read the subscriber's TWCC feedback, and keeping its
            // records costs a scan per report (str0m's standard map, less
            // that one extension).
            b = b.clear_extension_map();
            for (id, ext) in [
                (1, Extension::AudioLevel),
                (2, Extension::AbsoluteSendTime),
                (4, Extension::RtpMid),
                (10, Extension::RtpStreamId),
                (11, Extension::RepairedRtpStreamId),
                (13, Extension::VideoOrientation),
            ] {
                b = b.set_extension(id, ext);
            }
        }
        if let Some(cert) = &self.dtls_cert {
            b = b.set_dtls_cert(cert.clone());
        }
        let mut rtc = b.build(now);
        if let Ok(c) = Candidate::host(self.advertised, "udp") {
            rtc.add_local_candidate(c);
        }
        rtc
    }
}
