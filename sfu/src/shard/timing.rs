//! Latency timing: when a forwarded packet leaves the socket, how long after
//! it came in. The clock is read below the loop on purpose, once per
//! `egress` flush: it times the shard itself (a packet's way through it),
//! which a time passed in from the loop would always call zero.

use std::collections::VecDeque;
use std::time::Instant;

/// Packets timed per outgoing stream at most (a bound, should str0m drop
/// some unsent).
const MAX_INFLIGHT: usize = 256;

/// The arrival times of the packets written to a subscriber's outgoing
/// streams and not yet sent, per SSRC in writing order. A subscriber has a
/// few streams (one per track it receives), so a short list searched from
/// the front beats a hash map on this path (two lookups per datagram).
#[derive(Default)]
pub(super) struct Inflight(Vec<(u32, VecDeque<Instant>)>);

impl Inflight {
    fn queue(&mut self, ssrc: u32) -> Option<&mut VecDeque<Instant>> {
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
    let ssrc = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
    inflight.queue(ssrc)?.pop_front()
}

/// Notes that a packet that arrived at `arrived` was written to the stream
/// `ssrc`, to be timed when it is sent.
pub(super) fn packet_written(inflight: &mut Inflight, ssrc: u32, arrived: Instant) {
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
    q.push_back(arrived);
}
