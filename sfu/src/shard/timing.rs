//! Latency timing: when a forwarded packet leaves the socket, how long after
//! it came in. The clock is read below the loop on purpose, once per
//! `egress` flush: it times the shard itself (a packet's way through it),
//! which a time passed in from the loop would always call zero.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Packets timed per outgoing stream at most (a bound, should str0m drop
/// some unsent).
const MAX_INFLIGHT: usize = 256;

/// If this datagram is an RTP packet of a stream we forward to, when the
/// packet it carries came in (packets of a stream leave in the order they
/// were written; resends go on the RTX SSRC and are not timed). RTP headers
/// travel in the clear under SRTP; RTCP, STUN and DTLS are skipped.
pub(super) fn packet_sent(inflight: &mut HashMap<u32, VecDeque<Instant>>, c: &[u8]) -> Option<Instant> {
    if c.len() < 12 || c[0] >> 6 != 2 || (192..=223).contains(&c[1]) {
        return None;
    }
    let ssrc = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
    inflight.get_mut(&ssrc)?.pop_front()
}

/// Notes that a packet that arrived at `arrived` was written to the stream
/// `ssrc`, to be timed when it is sent.
pub(super) fn packet_written(inflight: &mut HashMap<u32, VecDeque<Instant>>, ssrc: u32, arrived: Instant) {
    let q = inflight.entry(ssrc).or_default();
    if q.len() >= MAX_INFLIGHT {
        q.pop_front();
    }
    q.push_back(arrived);
}
