//! One continuous outgoing stream out of the layers a subscriber is switched
//! between: sequence numbers, RTP timestamps and VP8 picture ids re-based at
//! each switch, so the receiver sees no gap, no jump back and no second
//! stream (as mediasoup's `SimulcastConsumer` and PulseBeam's timeline do).
//! A pure function of the packets and times given.

use std::time::Instant;

/// VP8 picture ids are 15 bits in every browser's simulcast.
const PIC_MASK: u16 = 0x7FFF;

/// What the rewrite needs to know of an incoming packet.
#[derive(Debug, Clone, Copy)]
pub(super) struct PacketIn {
    /// Extended sequence number (str0m's, ROC included).
    pub seq: u64,
    pub ts: u32,
    /// VP8 picture id and TL0PICIDX, where the payload descriptor has them.
    pub pic: Option<u16>,
    pub tl0: Option<u8>,
    /// When it arrived.
    pub at: Instant,
    /// The codec's RTP clock rate (90 kHz video, 48 kHz Opus).
    pub clock_rate: u32,
}

/// The packet as it goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PacketOut {
    pub seq: u64,
    pub ts: u32,
    pub pic: Option<u16>,
    pub tl0: Option<u8>,
}

#[derive(Debug, Default)]
pub(super) struct Rewrite {
    started: bool,
    seq_offset: u64,
    ts_offset: u32,
    pic_offset: u16,
    tl0_offset: u8,
    /// The first incoming sequence number of the layer now forwarded: an
    /// older packet of it (reordered before the switch) is dropped.
    floor: u64,
    /// The highest outgoing sequence number so far, and that packet's
    /// timestamp, picture id, TL0PICIDX and arrival.
    max_seq: u64,
    max_ts: u32,
    max_pic: Option<u16>,
    max_tl0: Option<u8>,
    last_at: Option<Instant>,
}

impl Rewrite {
    /// Starts forwarding a layer at `p` (the first packet of its keyframe;
    /// for audio, the first packet): the next outgoing sequence number,
    /// a timestamp advanced by the wall time since the last packet (at least
    /// one tick) since the newest packet sent came in, the next picture id
    /// and TL0PICIDX.
    pub fn rebase(&mut self, p: &PacketIn) {
        if !self.started {
            // The first outgoing number keeps the incoming low 16 bits and a
            // rollover count of zero (what an SRTP receiver assumes at start).
            self.seq_offset = (p.seq & 0xFFFF).wrapping_sub(p.seq);
            self.ts_offset = 0;
            self.pic_offset = 0;
            self.tl0_offset = 0;
            self.started = true;
        } else {
            let next = self.max_seq + 1;
            self.seq_offset = next.wrapping_sub(p.seq);
            let elapsed = self.last_at.map_or(0, |t| p.at.saturating_duration_since(t).as_micros() as u64);
            let ticks = (elapsed * u64::from(p.clock_rate) / 1_000_000).clamp(1, u64::from(u32::MAX / 2)) as u32;
            self.ts_offset = self.max_ts.wrapping_add(ticks).wrapping_sub(p.ts);
            if let (Some(last), Some(pic)) = (self.max_pic, p.pic) {
                self.pic_offset = last.wrapping_add(1).wrapping_sub(pic) & PIC_MASK;
            }
            if let (Some(last), Some(tl0)) = (self.max_tl0, p.tl0) {
                self.tl0_offset = last.wrapping_add(1).wrapping_sub(tl0);
            }
        }
        self.floor = p.seq;
    }

    /// Maps a packet of the layer being forwarded; None for one older than
    /// the switch to it.
    pub fn map(&mut self, p: &PacketIn) -> Option<PacketOut> {
        if !self.started || p.seq < self.floor {
            return None;
        }
        let out = PacketOut {
            seq: p.seq.wrapping_add(self.seq_offset),
            ts: p.ts.wrapping_add(self.ts_offset),
            pic: p.pic.map(|x| x.wrapping_add(self.pic_offset) & PIC_MASK),
            tl0: p.tl0.map(|x| x.wrapping_add(self.tl0_offset)),
        };
        if out.seq > self.max_seq || self.last_at.is_none() {
            self.max_seq = out.seq;
            self.max_ts = out.ts;
            self.max_pic = out.pic.or(self.max_pic);
            self.max_tl0 = out.tl0.or(self.max_tl0);
            self.last_at = Some(p.at);
        }
        Some(out)
    }

    /// Whether the packet's ids are rewritten (a VP8 patch is needed).
    pub fn patches_vp8(&self) -> bool {
        self.pic_offset != 0 || self.tl0_offset != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pkt(seq: u64, ts: u32, pic: u16, tl0: u8, at: Instant) -> PacketIn {
        PacketIn {
            seq,
            ts,
            pic: Some(pic),
            tl0: Some(tl0),
            at,
            clock_rate: 90_000,
        }
    }

    #[test]
    fn a_layer_switch_continues_the_sequence_timestamps_and_picture_ids() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = Rewrite::default();
        // Low layer, three packets of two frames.
        let l = [pkt(1000, 5000, 300, 7, ms(0)), pkt(1001, 5000, 300, 7, ms(1)), pkt(1002, 8000, 301, 8, ms(33))];
        r.rebase(&l[0]);
        let out: Vec<PacketOut> = l.iter().filter_map(|p| r.map(p)).collect();
        assert_eq!(out.iter().map(|o| o.seq).collect::<Vec<_>>(), vec![1000, 1001, 1002]);
        assert_eq!(out[2].ts, 8000);
        // Switch to the high layer at its keyframe 33 ms later: numbers far apart.
        let h = pkt(52_000, 912_345, 20_000, 200, ms(66));
        r.rebase(&h);
        let o = r.map(&h).expect("the keyframe goes out");
        assert_eq!(o.seq, 1003, "the next sequence number");
        assert_eq!(o.ts, 8000 + 2970, "advanced by 33 ms of 90 kHz");
        assert_eq!((o.pic, o.tl0), (Some(302), Some(9)));
        assert!(r.patches_vp8());
        // The high layer's next packets follow on; a packet of it from
        // before the switch (reordered) is dropped.
        let o2 = r.map(&pkt(52_001, 912_345, 20_000, 200, ms(67))).expect("next");
        assert_eq!((o2.seq, o2.ts), (1004, 8000 + 2970));
        assert_eq!(r.map(&pkt(51_999, 909_345, 19_999, 199, ms(67))), None);
        // A late retransmission inside the layer keeps its place.
        let o3 = r.map(&pkt(52_003, 915_345, 20_001, 201, ms(100))).expect("next frame");
        assert_eq!((o3.seq, o3.pic, o3.tl0), (1006, Some(303), Some(10)));
        let o4 = r.map(&pkt(52_002, 912_345, 20_000, 200, ms(101))).expect("the hole filled");
        assert_eq!(o4.seq, 1005);
        // Switching back down continues after the highest number sent.
        let l2 = pkt(1100, 40_000, 340, 40, ms(133));
        r.rebase(&l2);
        let o5 = r.map(&l2).expect("low again");
        assert_eq!(o5.seq, 1007);
        assert_eq!(o5.ts, o3.ts + 2970);
        assert_eq!((o5.pic, o5.tl0), (Some(304), Some(11)));
    }

    #[test]
    fn the_first_packet_keeps_a_zero_rollover_and_ids_wrap() {
        let t0 = Instant::now();
        let mut r = Rewrite::default();
        // A subscriber who joins after the publisher's counter rolled over.
        let p = pkt(3 * 65_536 + 17, u32::MAX - 10, PIC_MASK, 255, t0);
        assert_eq!(r.map(&p), None, "nothing before the first rebase");
        r.rebase(&p);
        let o = r.map(&p).expect("first");
        assert_eq!(o.seq, 17);
        assert_eq!(o.ts, u32::MAX - 10);
        let q = pkt(3 * 65_536 + 18, 5, 0, 0, t0 + Duration::from_millis(33));
        let o = r.map(&q).expect("wraps");
        assert_eq!((o.seq, o.ts, o.pic, o.tl0), (18, 5, Some(0), Some(0)));
        assert!(!r.patches_vp8());
    }
}
