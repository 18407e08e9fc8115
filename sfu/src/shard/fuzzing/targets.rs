//! The bodies of the SFU's fuzz targets: the fuzzer (fuzz/fuzz_targets) and
//! the replay of fuzz/regressions (sfu/tests/fuzz_regressions.rs) run the
//! same code.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::FuzzShard;
use crate::UserId;

/// A publish offer as Chromium writes it for web/app.js (VP8/H264/VP9/AV1
/// video with three simulcast layers l/m/h, Opus audio, BUNDLE, host and
/// srflx candidates).
pub const CHROMIUM_OFFER: &str = include_str!("chromium-publish.sdp");

/// The same offer with its audio only: the `demux` target's publisher, which
/// it republishes whenever an input got it removed (a quarter of the parsing;
/// no media flows without DTLS, so the video section would add nothing).
pub const CHROMIUM_AUDIO_OFFER: &str = include_str!("chromium-publish-audio.sdp");

/// Where fuzzed datagrams come from: documentation addresses (RFC 5737,
/// RFC 3849). The shard's socket is bound to 127.0.0.1, so its replies to
/// them fail in the kernel (counted as `send_dropped`) and never leave.
const SOURCES: [SocketAddr; 4] = [
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 50_000),
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 50_001),
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 9),
    SocketAddr::new(
        std::net::IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        50_002,
    ),
];

fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

/// `sdp_offer`: the input (lossy UTF-8, as the gateway's JSON string would
/// carry it) as an `rtc_publish` offer. The first byte picks the path:
/// even, a new publisher (`accept_offer` on a fresh `Rtc`), who leaves
/// afterwards; odd, a renegotiation of a standing publisher whose first offer
/// was Chromium's (it is published again only when an input was accepted or
/// got it removed: an offer refused leaves it as it was). The shard's maps
/// are checked after every step. (The tracks an offer creates reach the
/// shard only once the publisher's DTLS is up, str0m raising no media
/// events before; a fuzzer cannot get there, so no subscriber joins.)
pub struct SdpOfferTarget {
    shard: FuzzShard,
    start: Instant,
    inputs: u64,
    /// The standing publisher has had only Chromium's offer.
    pristine: bool,
}

impl SdpOfferTarget {
    pub fn new() -> std::io::Result<SdpOfferTarget> {
        Ok(SdpOfferTarget {
            shard: FuzzShard::new()?,
            start: Instant::now(),
            inputs: 0,
            pristine: false,
        })
    }

    pub fn run(&mut self, data: &[u8]) {
        let Some((&mode, sdp)) = data.split_first() else { return };
        let sdp = String::from_utf8_lossy(sdp);
        self.inputs += 1;
        let now = self.start + Duration::from_millis(self.inputs);
        let (standing, fresh) = (user(1), user(2));
        let renegotiate = mode & 1 == 1;
        let publisher = if renegotiate { standing } else { fresh };
        if renegotiate && !(self.pristine && self.shard.ufrags(standing).len() == 1) {
            self.shard.remove(standing, now);
            if let Err(e) = self.shard.publish(standing, CHROMIUM_OFFER, now) {
                panic!("Chromium's offer refused: {e}");
            }
            self.pristine = true;
        }
        let published = self.shard.publish(publisher, &sdp, now);
        self.shard.check();
        if published.is_ok() {
            self.pristine &= !renegotiate;
        }
        self.shard.remove(fresh, now);
        self.shard.check();
        let left = self.shard.counts().peers;
        let standing_peers = self.shard.ufrags(standing).len();
        assert_eq!(left, standing_peers, "peers left after everyone else left");
        let _ = self.shard.take_events();
    }
}

/// `demux`: the input as a run of datagrams to the shard's socket, each
/// `[ctl][len][len bytes]`: `ctl & 3` picks the source address, `ctl & 4`
/// wraps the bytes in a STUN binding request whose USERNAME names a live
/// peer (`ctl & 8`: the publisher's ufrag, else the subscriber's; the bytes
/// follow as attributes), `ctl >> 4` milliseconds pass first. The shard has
/// a publisher (Chromium's audio-only offer) and a subscriber; they persist between
/// inputs (as in a running shard: addresses learnt stay learnt) and are
/// recreated when an input got them removed. Timers run after each input;
/// the shard's maps are checked.
pub struct DemuxTarget {
    shard: FuzzShard,
    now: Instant,
}

impl DemuxTarget {
    pub fn new() -> std::io::Result<DemuxTarget> {
        let mut t = DemuxTarget {
            shard: FuzzShard::new()?,
            now: Instant::now(),
        };
        t.restore();
        Ok(t)
    }

    fn restore(&mut self) {
        let (publisher, subscriber) = (user(1), user(2));
        let ufrags = |s: &FuzzShard, u| s.ufrags(u).len();
        if ufrags(&self.shard, publisher) == 0 {
            if let Err(e) = self.shard.publish(publisher, CHROMIUM_AUDIO_OFFER, self.now) {
                panic!("Chromium's offer refused: {e}");
            }
        }
        if ufrags(&self.shard, subscriber) == 0 {
            if let Err(e) = self.shard.subscribe(subscriber, self.now) {
                panic!("subscribe refused: {e}");
            }
        }
        let _ = self.shard.take_events();
    }

    pub fn run(&mut self, data: &[u8]) {
        let mut rest = data;
        while let [ctl, len, tail @ ..] = rest {
            let n = (*len as usize).min(tail.len());
            let (bytes, next) = tail.split_at(n);
            rest = next;
            self.now += Duration::from_millis(u64::from(ctl >> 4));
            let src = SOURCES[usize::from(ctl & 3)];
            if ctl & 4 == 0 {
                self.shard.datagram(bytes, src, self.now);
            } else {
                let who = if ctl & 8 == 0 { user(2) } else { user(1) };
                let ufrag = self.shard.ufrags(who).pop().unwrap_or_default();
                let msg = binding_request(&ufrag, bytes);
                self.shard.datagram(&msg, src, self.now);
            }
            self.shard.check();
        }
        self.now += Duration::from_millis(1);
        self.shard.tick(self.now);
        self.shard.check();
        self.restore();
    }
}

/// A STUN binding request (RFC 8489) with USERNAME `<ufrag>:Jx9q` and then
/// `attrs` as its further attributes (the length field counts them, padded).
fn binding_request(ufrag: &str, attrs: &[u8]) -> Vec<u8> {
    let username = format!("{ufrag}:Jx9q");
    let mut body = vec![];
    body.extend_from_slice(&0x0006u16.to_be_bytes());
    body.extend_from_slice(&(username.len() as u16).to_be_bytes());
    body.extend_from_slice(username.as_bytes());
    while body.len() % 4 != 0 {
        body.push(0);
    }
    body.extend_from_slice(attrs);
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    m.extend_from_slice(b"lyceumfuzz00");
    m.extend_from_slice(&body);
    m
}
