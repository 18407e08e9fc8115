//! Latency timing: when a forwarded packet leaves the socket, how long after
//! it came in. The clock is read below the loop on purpose, once per
//! `egress` flush: it times the shard itself (a packet's way through it),
//! which a time passed in from the loop would always call zero.

use std::collections::VecDeque;
use std::time::Instant;

/// Packets timed per outgoing stream at most (a bound, should str0m drop
/// some unsent).
const MAX_INFLIGHT: usize = 256;

/// The sequence numbers and arrival times of the packets written to a
/// subscriber's outgoing streams and not yet sent, per SSRC in writing
/// order. A packet is matched by its sequence number when it leaves, so a
/// packet str0m dropped unsent (its queue over its limit) is skipped, not
/// taken for the next one. A subscriber has a
/// few streams (one per track it receives), so a short list searched from
/// the front beats a hash map on this path (two lookups per datagram).
#[derive(Default)]
pub(super) struct Inflight(Vec<(u32, VecDeque<(u16, Instant)>)>);

impl Inflight {
    fn queue(&mut self, ssrc: u32) -> Option<&mut VecDeque<(u16, Instant)>> {
        self.0.iter_mut().find(|(s, _)| *s == ssrc).map(|(_, q)| q)
    }

    /// Whether every packet written has been sent.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, q)| q.is_empty())
    }
}

/// If this datagram is an RTP packet of a stream we forward to, when the
/// packet it carries came in (packets of a stream leave in the order they
/// were written; resends go on the RTX SSRC and are not timed). RTP headers
/// travel in the clear under SRTP; RTCP, STUN and DTLS are skipped.
pub(super) fn packet_sent(inflight: &mut Inflight, c: &[u8]) -> Option<Instant> {
    if c.len() < 12 || c[0] >> 6 != 2 || (192..=223).contains(&c[1]) {
        return None;
    }
    let seq = u16::from_be_bytes([c[2], c[3]]);
    let ssrc = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
    let q = inflight.queue(ssrc)?;
    // Written before this one and not sent: dropped by str0m.
    while q.front().is_some_and(|(s, _)| (seq.wrapping_sub(*s) as i16) > 0) {
        q.pop_front();
    }
    match q.front() {
        Some((s, _)) if *s == seq => q.pop_front().map(|(_, at)| at),
        _ => None,
    }
}

/// Notes that a packet that arrived at `arrived` was written to the stream
/// `ssrc` as sequence number `seq`, to be timed when it is sent.
pub(super) fn packet_written(inflight: &mut Inflight, ssrc: u32, seq: u16, arrived: Instant) {
    let i = match inflight.0.iter().position(|(s, _)| *s == ssrc) {
        Some(i) => i,
        None => {
            inflight.0.push((ssrc, VecDeque::new()));
            inflight.0.len() - 1
        }
    };
    let q = &mut inflight.0[i].1;
    if q.len() >= MAX_INFLIGHT {
        q.pop_front();
    }
    q.push_back((seq, arrived));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An RTP header (version 2, payload type 96) of `ssrc` and `seq`.
    fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut h = vec![0x80, 96];
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&[0; 4]);
        h.extend_from_slice(&ssrc.to_be_bytes());
        h
    }

    #[test]
    fn a_sent_packet_is_matched_by_its_sequence_number() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut f = Inflight::default();
        for (seq, at) in [(65534, 1), (65535, 2), (0, 3), (1, 4)] {
            packet_written(&mut f, 7, seq, ms(at));
        }
        packet_written(&mut f, 9, 100, ms(5));
        assert_eq!(packet_sent(&mut f, &rtp(7, 65534)), Some(ms(1)));
        // 65535 was dropped unsent: 0 is timed from its own arrival, across
        // the wrap.
        assert_eq!(packet_sent(&mut f, &rtp(7, 0)), Some(ms(3)));
        // A packet not written (a stray, or sent twice) is not timed.
        assert_eq!(packet_sent(&mut f, &rtp(7, 0)), None);
        assert_eq!(packet_sent(&mut f, &rtp(8, 1)), None);
        assert_eq!(packet_sent(&mut f, &rtp(9, 100)), Some(ms(5)));
        assert!(!f.is_empty(), "1 of ssrc 7 is still in flight");
        assert_eq!(packet_sent(&mut f, &rtp(7, 1)), Some(ms(4)));
        assert!(f.is_empty());
        // RTCP is not RTP.
        let mut rtcp = rtp(7, 1);
        rtcp[1] = 200;
        assert_eq!(packet_sent(&mut f, &rtcp), None);
    }
}
