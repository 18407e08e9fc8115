//! Batched egress: the datagrams a burst produces (one packet forwarded to
//! every subscriber, a str0m timeout's output) queue here and leave in one
//! `sendmmsg` per [`BATCH`] messages, not one `sendto` each. The queue is
//! flushed before the shard's loop waits again, and when it reaches
//! `BATCH`, so a datagram waits at most one burst. Forwarding latency and
//! the per-room counters are taken when the datagram has left.
//!
//! With UDP GSO (`sfu.gso`, Linux 4.18 and later), the datagrams queued
//! back to back for one destination (a subscriber's share of a burst: the
//! packets of a video frame) leave as one message: the kernel takes them in
//! one pass down the stack and cuts them into datagrams at the end (the
//! `UDP_SEGMENT` control message). A GSO message's datagrams must have one
//! size, the last may be shorter; a `sendmmsg` call shares one control
//! message, so one call carries the GSO messages of one segment size and
//! the single datagrams no longer than it (the kernel sends a message no
//! longer than the segment size as it is). Each destination's datagrams
//! keep their order: calls go in queue order. A kernel that refuses GSO
//! turns it off for the shard, and the datagrams go one by one.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};

use crate::metrics::{RoomMetrics, ShardMetrics};

/// Messages per `sendmmsg` at most (the kernel takes up to 1,024), and
/// datagrams queued before a flush.
pub(super) const BATCH: usize = 256;
/// Datagrams per GSO message at most (the kernel's `UDP_MAX_SEGMENTS` is 64
/// before Linux 6.9).
const MAX_SEGMENTS: usize = 64;
/// Bytes per GSO message at most (an IP packet's 64 KiB, less headers).
const MAX_GSO_BYTES: usize = 65_000;

struct Datagram {
    to: SocketAddr,
    data: Vec<u8>,
    room: Arc<RoomMetrics>,
    /// When the forwarded packet it carries came in.
    arrived: Option<Instant>,
}

pub(super) struct Egress {
    queue: Vec<Datagram>,
    /// Coalesce a destination's datagrams with UDP GSO.
    gso: bool,
}

/// One message of a call: the datagrams `start..end` of the queue, for one
/// destination (several only with GSO, then `seg` is their size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Msg {
    start: usize,
    end: usize,
    seg: usize,
}

impl Egress {
    pub fn new(gso: bool) -> Egress {
        Egress { queue: Vec::new(), gso }
    }

    pub fn push(&mut self, to: SocketAddr, data: Vec<u8>, room: &Arc<RoomMetrics>, arrived: Option<Instant>) {
        self.queue.push(Datagram {
            to,
            data,
            room: room.clone(),
            arrived,
        });
    }

    pub fn is_full(&self) -> bool {
        self.queue.len() >= BATCH
    }

    /// Sends what is queued. A datagram the kernel refuses (its buffer
    /// full, a bad address) is dropped and counted; the rest go on.
    pub fn flush(&mut self, fd: RawFd, shard: &ShardMetrics) {
        if self.queue.is_empty() {
            return;
        }
        let mut sent = vec![false; self.queue.len()];
        let mut pos = 0;
        while pos < self.queue.len() {
            let (msgs, seg) = plan(&self.queue, pos, self.gso);
            let Some(last) = msgs.last().map(|m| m.end) else { break };
            // One slice per datagram; a message takes its datagrams' run.
            let flat: Vec<IoSlice<'_>> = self.queue[pos..last].iter().map(|d| IoSlice::new(&d.data)).collect();
            let slices: Vec<&[IoSlice<'_>]> = msgs.iter().map(|m| &flat[m.start - pos..m.end - pos]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = msgs
                .iter()
                .map(|m| Some(SockaddrStorage::from(self.queue[m.start].to)))
                .collect();
            let seg16 = seg.map(|s| s as u16);
            let cmsgs: Vec<ControlMessage<'_>> = seg16.iter().map(ControlMessage::UdpGsoSegments).collect();
            let space = seg16.map(|_| nix::cmsg_space!(u16));
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(msgs.len(), space);
            let r = sendmmsg(fd, &mut headers, &slices, &addrs, &cmsgs, MsgFlags::empty()).map(|r| r.count());
            match r {
                Ok(n) if n > 0 => {
                    let upto = msgs[n.min(msgs.len()) - 1].end;
                    sent[pos..upto].iter_mut().for_each(|s| *s = true);
                    if seg.is_some() {
                        let gso_sent = msgs[..n].iter().filter(|m| m.end - m.start > 1);
                        let (m, d) = gso_sent.fold((0, 0), |(m, d), x| (m + 1, d + (x.end - x.start) as u64));
                        shard.gso_messages.fetch_add(m, Relaxed);
                        shard.gso_datagrams.fetch_add(d, Relaxed);
                    }
                    pos = upto;
                }
                Err(Errno::EINTR) => {}
                // The send buffer is full: the rest of the call would be
                // refused the same way.
                Err(Errno::EAGAIN) => pos = last,
                // A kernel (or a route) without UDP GSO: off for good, and
                // the same datagrams again one by one.
                Err(e)
                    if seg.is_some()
                        && matches!(e, Errno::EIO | Errno::EINVAL | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP) =>
                {
                    tracing::warn!(error = %e, "UDP GSO refused; sending datagrams one by one");
                    self.gso = false;
                }
                // The first message was refused (a bad address): skip it.
                _ => pos = msgs[0].end,
            }
        }
        // One clock read per flush: every datagram of it has left by then.
        let left = Instant::now();
        for (d, sent) in self.queue.drain(..).zip(sent) {
            if !sent {
                shard.send_dropped.fetch_add(1, Relaxed);
                continue;
            }
            if let Some(arrived) = d.arrived {
                let lat = left.saturating_duration_since(arrived);
                d.room.latency.record(lat);
                shard.latency.record(lat);
            }
            shard.datagrams_out.fetch_add(1, Relaxed);
            d.room.packets_out.fetch_add(1, Relaxed);
            d.room.bytes_out.fetch_add(d.data.len() as u64, Relaxed);
        }
    }
}

/// The messages of the next call, from the queue's datagram `pos` on, and
/// the call's GSO segment size (None: single datagrams only).
fn plan(queue: &[Datagram], pos: usize, gso: bool) -> (Vec<Msg>, Option<usize>) {
    let mut msgs = Vec::new();
    let mut seg: Option<usize> = None;
    // The longest single datagram in the call: a GSO segment size below it
    // would cut it.
    let mut longest_single = 0;
    let mut i = pos;
    while i < queue.len() && msgs.len() < BATCH {
        let m = if gso {
            run(queue, i)
        } else {
            Msg {
                start: i,
                end: i + 1,
                seg: queue[i].data.len(),
            }
        };
        if m.end - m.start > 1 {
            match seg {
                None if m.seg >= longest_single => seg = Some(m.seg),
                Some(s) if s == m.seg => {}
                _ => break,
            }
        } else {
            let len = queue[i].data.len();
            if seg.is_some_and(|s| len > s) {
                break;
            }
            longest_single = longest_single.max(len);
        }
        msgs.push(m);
        i = m.end;
    }
    (msgs, seg)
}

/// The datagrams from `i` on that one GSO message can carry: the same
/// destination, the same size (the last may be shorter).
fn run(queue: &[Datagram], i: usize) -> Msg {
    let first = &queue[i];
    let seg = first.data.len();
    let mut end = i + 1;
    let mut bytes = seg;
    while end < queue.len() && end - i < MAX_SEGMENTS {
        let d = &queue[end];
        if d.to != first.to || d.data.len() > seg || bytes + d.data.len() > MAX_GSO_BYTES {
            break;
        }
        bytes += d.data.len();
        end += 1;
        if d.data.len() < seg {
            break;
        }
    }
    Msg { start: i, end, seg }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(items: &[(u16, usize)]) -> Vec<Datagram> {
        let room = Arc::new(RoomMetrics::default());
        items
            .iter()
            .map(|(port, len)| Datagram {
                to: SocketAddr::from(([127, 0, 0, 1], *port)),
                data: vec![0; *len],
                room: room.clone(),
                arrived: None,
            })
            .collect()
    }

    fn spans(msgs: &[Msg]) -> Vec<(usize, usize)> {
        msgs.iter().map(|m| (m.start, m.end)).collect()
    }

    #[test]
    fn a_destinations_equal_datagrams_make_one_message_the_last_may_be_shorter() {
        let q = queue(&[
            (1, 1200),
            (1, 1200),
            (1, 900),
            (1, 1200),
            (2, 1200),
            (2, 1200),
            (2, 900),
        ]);
        let (msgs, seg) = plan(&q, 0, true);
        // After the shorter one a new message starts; another destination too.
        assert_eq!(spans(&msgs), vec![(0, 3), (3, 4), (4, 7)]);
        assert_eq!(seg, Some(1200));
    }

    #[test]
    fn a_call_shares_one_segment_size_and_singles_no_longer_than_it() {
        // Audio (small singles) fits with the 1200-byte runs; a 1000-byte run
        // needs a call of its own, and so does a single longer than 1000.
        let q = queue(&[(1, 120), (1, 1200), (1, 1200), (2, 1000), (2, 1000), (3, 1100)]);
        let (msgs, seg) = plan(&q, 0, true);
        assert_eq!(spans(&msgs), vec![(0, 1), (1, 3)]);
        assert_eq!(seg, Some(1200));
        let (msgs, seg) = plan(&q, 3, true);
        assert_eq!(spans(&msgs), vec![(3, 5)]);
        assert_eq!(seg, Some(1000));
        let (msgs, seg) = plan(&q, 5, true);
        assert_eq!(spans(&msgs), vec![(5, 6)]);
        assert_eq!(seg, None);
    }

    #[test]
    fn a_run_below_an_earlier_single_starts_a_new_call() {
        // A 1000-byte segment size would cut the 1100-byte single before it.
        let q = queue(&[(1, 1100), (2, 1000), (2, 1000)]);
        let (msgs, seg) = plan(&q, 0, true);
        assert_eq!(spans(&msgs), vec![(0, 1)]);
        assert_eq!(seg, None);
    }

    #[test]
    fn without_gso_every_datagram_is_its_own_message() {
        let q = queue(&[(1, 1200), (1, 1200), (1, 900)]);
        let (msgs, seg) = plan(&q, 0, false);
        assert_eq!(spans(&msgs), vec![(0, 1), (1, 2), (2, 3)]);
        assert_eq!(seg, None);
    }

    #[test]
    fn a_message_stops_at_the_segment_limit() {
        let q = queue(&vec![(1, 1000); MAX_SEGMENTS + 3]);
        let (msgs, _) = plan(&q, 0, true);
        assert_eq!(spans(&msgs), vec![(0, MAX_SEGMENTS), (MAX_SEGMENTS, MAX_SEGMENTS + 3)]);
    }

    /// Through a real socket: what one flush coalesced arrives as the same
    /// datagrams, in order, at each destination.
    #[test]
    fn gso_datagrams_arrive_whole_and_in_order() {
        use std::net::UdpSocket;
        use std::os::fd::AsRawFd;
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&a, &b] {
            s.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        }
        let room = Arc::new(RoomMetrics::default());
        let shard = ShardMetrics::default();
        let mut e = Egress::new(true);
        let sizes = [1200, 1200, 1200, 700, 1200, 80];
        for (i, len) in sizes.iter().enumerate() {
            for (dst, tag) in [(&a, 1u8), (&b, 2u8)] {
                let mut data = vec![tag; *len];
                data[0] = i as u8;
                e.push(dst.local_addr().unwrap(), data, &room, None);
            }
        }
        // b's datagrams interleave with a's: each destination's queue
        // entries are not adjacent, so nothing coalesces across them.
        e.flush(tx.as_raw_fd(), &shard);
        let mut e2 = Egress::new(true);
        for (i, len) in sizes.iter().enumerate() {
            let mut data = vec![3; *len];
            data[0] = i as u8;
            e2.push(a.local_addr().unwrap(), data, &room, None);
        }
        e2.flush(tx.as_raw_fd(), &shard);
        let mut buf = [0u8; 2048];
        for (s, tag) in [(&a, 1u8), (&b, 2u8)] {
            for (i, len) in sizes.iter().enumerate() {
                let n = s.recv(&mut buf).unwrap();
                assert_eq!(
                    (n, buf[0], buf[n - 1]),
                    (*len, i as u8, if n > 1 { tag } else { i as u8 })
                );
            }
        }
        for (i, len) in sizes.iter().enumerate() {
            let n = a.recv(&mut buf).unwrap();
            assert_eq!((n, buf[0], buf[n - 1]), (*len, i as u8, 3), "coalesced datagram {i}");
        }
        assert_eq!(shard.datagrams_out.load(Relaxed), 18);
        assert_eq!(shard.send_dropped.load(Relaxed), 0);
        // The third flush's first four datagrams went as one GSO message
        // (unless this kernel refused GSO, which the flush survives).
        if e2.gso {
            assert!(shard.gso_messages.load(Relaxed) >= 1);
            assert!(shard.gso_datagrams.load(Relaxed) >= 4);
        }
    }
}
