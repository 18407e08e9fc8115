//! Latency timing: when a forwarded frame's last datagram leaves the socket,
//! how long after the datagram that completed it came in.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Frames timed per outgoing stream at most (a bound, should the marker of
/// a frame's last packet never show).
const MAX_INFLIGHT: usize = 64;

/// If this datagram is the last RTP packet of a frame we forwarded (video:
/// the marker bit; audio: every packet), when that frame came in. RTP
/// headers travel in the clear under SRTP; RTCP, STUN and DTLS are skipped.
pub(super) fn frame_sent(inflight: &mut HashMap<u32, (bool, VecDeque<Instant>)>, c: &[u8]) -> Option<Instant> {
    if c.len() < 12 || c[0] >> 6 != 2 || (192..=223).contains(&c[1]) {
        return None;
    }
    let ssrc = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
    let (audio, q) = inflight.get_mut(&ssrc)?;
    if *audio || c[1] & 0x80 != 0 {
        q.pop_front()
    } else {
        None
    }
}

/// How long ago `arrived` was. The one clock read below the loop, on
/// purpose: it times the shard itself (a frame's way through it), which a
/// time passed in from the loop would always call zero.
pub(super) fn since(arrived: Instant) -> std::time::Duration {
    Instant::now().saturating_duration_since(arrived)
}

/// Notes that a frame that arrived at `arrived` was written to the stream
/// `ssrc`, to be timed when its last datagram is sent.
pub(super) fn frame_written(
    inflight: &mut HashMap<u32, (bool, VecDeque<Instant>)>,
    ssrc: u32,
    audio: bool,
    arrived: Instant,
) {
    let q = &mut inflight.entry(ssrc).or_insert_with(|| (audio, VecDeque::new())).1;
    if q.len() >= MAX_INFLIGHT {
        q.pop_front();
    }
    q.push_back(arrived);
}
