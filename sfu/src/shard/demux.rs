//! Demultiplexing: which peer a datagram is for — by source address once
//! known, else by our ICE ufrag in a STUN binding request (then the address
//! is learnt, if the peer's Rtc accepts it).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use str0m::net::{Protocol, Receive};
use str0m::Input;

use super::Shard;
use crate::stun;

impl Shard {
    /// `now`: when the datagram arrived. Handled completely (its events,
    /// the subscribers it gave media to, their datagrams sent): the fuzzing
    /// harness's entry.
    #[cfg(feature = "fuzzing")]
    pub(super) fn datagram(&mut self, buf: &[u8], src: SocketAddr, now: Instant) {
        self.datagram_in_burst(buf, src, now);
        self.process_work(now);
    }

    /// A datagram of a burst read together: its events are handled, the
    /// subscribers' drain and the send wait for the burst's `process_work`.
    pub(super) fn datagram_in_burst(&mut self, buf: &[u8], src: SocketAddr, now: Instant) {
        self.metrics.datagrams_in.fetch_add(1, Relaxed);
        let (pid, known) = match self.by_addr.get(&src) {
            Some(p) => (*p, true),
            None => {
                let Some(p) = stun::local_ufrag(buf).and_then(|u| self.by_ufrag.get(u)) else {
                    self.metrics.unknown_datagrams.fetch_add(1, Relaxed);
                    return;
                };
                (*p, false)
            }
        };
        let Ok(contents) = buf.try_into() else { return };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: src,
                destination: self.advertised,
                contents,
            },
        );
        let Some(p) = self.peers.get_mut(&pid) else { return };
        if !known {
            if !p.rtc.accepts(&input) {
                self.metrics.unknown_datagrams.fetch_add(1, Relaxed);
                return;
            }
            self.by_addr.insert(src, pid);
            p.addrs.push(src);
        }
        p.metrics.packets_in.fetch_add(1, Relaxed);
        p.metrics.bytes_in.fetch_add(buf.len() as u64, Relaxed);
        self.feed(pid, input);
        self.process_events(now);
    }
}
