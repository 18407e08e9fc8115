//! Batched egress: the datagrams a burst produces (one packet forwarded to
//! every subscriber, a str0m timeout's output) queue here and leave in one
//! `sendmmsg` per [`BATCH`], not one `sendto` each. The queue is flushed
//! before the shard's loop waits again, and when it reaches `BATCH`, so a
//! datagram waits at most one burst. Forwarding latency and the per-room
//! counters are taken when the datagram has left.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};

use crate::metrics::{RoomMetrics, ShardMetrics};

/// Datagrams per `sendmmsg` at most (the kernel takes up to 1,024).
pub(super) const BATCH: usize = 256;

struct Datagram {
    to: SocketAddr,
    data: Vec<u8>,
    room: Arc<RoomMetrics>,
    /// When the forwarded packet it carries came in.
    arrived: Option<Instant>,
}

#[derive(Default)]
pub(super) struct Egress {
    queue: Vec<Datagram>,
}

impl Egress {
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
        let mut sent_upto = 0;
        let mut results: Vec<bool> = Vec::with_capacity(self.queue.len());
        while sent_upto < self.queue.len() {
            let chunk = &self.queue[sent_upto..(sent_upto + BATCH).min(self.queue.len())];
            let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|d| [IoSlice::new(&d.data)]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = chunk.iter().map(|d| Some(SockaddrStorage::from(d.to))).collect();
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
            let r = sendmmsg(fd, &mut headers, &slices, &addrs, [], MsgFlags::empty()).map(|r| r.count());
            match r {
                Ok(n) if n > 0 => {
                    results.extend(std::iter::repeat_n(true, n));
                    sent_upto += n;
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    // The send buffer is full: what is left of the chunk would
                    // be refused the same way.
                    results.extend(std::iter::repeat_n(false, chunk.len()));
                    sent_upto += chunk.len();
                }
                _ => {
                    results.push(false);
                    sent_upto += 1;
                }
            }
        }
        // One clock read per flush: every datagram of it has left by then.
        let left = Instant::now();
        for (d, sent) in self.queue.drain(..).zip(results) {
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
