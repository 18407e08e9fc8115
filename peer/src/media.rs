//! Synthetic frames and the stamp they carry.
//!
//! An Opus frame is the stamp followed by filler. A VP8 frame starts with a
//! plausible 10-byte VP8 header (a keyframe has bit 0 of the first byte
//! clear, the start code `9d 01 2a` and its size; a delta frame has bit 0
//! set), then the stamp, then filler. str0m's VP8 depacketizer reads the P bit
//! of the first payload byte, so `MediaData::is_keyframe()` holds exactly for
//! the keyframes written here.

use std::time::{SystemTime, UNIX_EPOCH};

/// The first four bytes of a stamp.
pub const MAGIC: [u8; 4] = *b"LYC1";
/// magic (4) + layer (1) + flags (1) + counter (4) + send time (8).
pub const STAMP_LEN: usize = 18;
/// The VP8 header in front of the stamp in video frames.
pub const VP8_HEADER_LEN: usize = 10;

/// What a synthetic frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `b'a'` audio, `b'v'` video without simulcast, `b'h'`/`b'm'`/`b'l'` a simulcast layer.
    pub layer: u8,
    pub keyframe: bool,
    /// Frames of this track (all layers of a video track share the count).
    pub counter: u32,
    /// Microseconds since the UNIX epoch when the frame was handed to str0m.
    pub sent_us: u64,
}

/// Microseconds since the UNIX epoch.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn write_stamp(out: &mut [u8], s: &Stamp) {
    out[0..4].copy_from_slice(&MAGIC);
    out[4] = s.layer;
    out[5] = u8::from(s.keyframe);
    out[6..10].copy_from_slice(&s.counter.to_be_bytes());
    out[10..18].copy_from_slice(&s.sent_us.to_be_bytes());
}

fn read_stamp(b: &[u8]) -> Option<Stamp> {
    if b.len() < STAMP_LEN || b[0..4] != MAGIC {
        return None;
    }
    Some(Stamp {
        layer: b[4],
        keyframe: b[5] & 1 == 1,
        counter: u32::from_be_bytes(b[6..10].try_into().ok()?),
        sent_us: u64::from_be_bytes(b[10..18].try_into().ok()?),
    })
}

/// The stamp of a frame (Opus: at the start; VP8: after the VP8 header).
pub fn parse_stamp(data: &[u8]) -> Option<Stamp> {
    read_stamp(data).or_else(|| data.get(VP8_HEADER_LEN..).and_then(read_stamp))
}

/// An Opus frame of `size` bytes (at least the stamp) stamped now.
pub fn opus_frame(size: usize, counter: u32) -> Vec<u8> {
    let mut f = vec![0xA5u8; size.max(STAMP_LEN)];
    write_stamp(
        &mut f,
        &Stamp {
            layer: b'a',
            keyframe: false,
            counter,
            sent_us: now_micros(),
        },
    );
    f
}

/// A VP8 frame of `size` bytes (at least header + stamp) stamped now.
pub fn vp8_frame(size: usize, layer: u8, keyframe: bool, counter: u32) -> Vec<u8> {
    let size = size.max(VP8_HEADER_LEN + STAMP_LEN);
    let mut f = vec![0x5Au8; size];
    // Frame tag (RFC 6386 §9.1), little-endian: bit 0 P (0 = key frame),
    // bits 1-3 version, bit 4 show_frame, bits 5-23 first partition size.
    let first_part = ((size - VP8_HEADER_LEN) as u32).min(0x7_FFFF);
    let tag = (first_part << 5) | (1 << 4) | u32::from(!keyframe);
    f[0] = tag as u8;
    f[1] = (tag >> 8) as u8;
    f[2] = (tag >> 16) as u8;
    if keyframe {
        let (w, h): (u16, u16) = match layer {
            b'm' => (640, 360),
            b'l' => (320, 180),
            _ => (1280, 720),
        };
        f[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        f[6..8].copy_from_slice(&w.to_le_bytes());
        f[8..10].copy_from_slice(&h.to_le_bytes());
    } else {
        f[3..10].fill(0);
    }
    write_stamp(
        &mut f[VP8_HEADER_LEN..],
        &Stamp {
            layer,
            keyframe,
            counter,
            sent_us: now_micros(),
        },
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let a = opus_frame(80, 7);
        assert_eq!(a.len(), 80);
        let s = parse_stamp(&a).unwrap();
        assert_eq!((s.layer, s.counter, s.keyframe), (b'a', 7, false));

        let k = vp8_frame(6000, b'h', true, 9);
        assert_eq!(k.len(), 6000);
        assert_eq!(k[0] & 1, 0);
        let s = parse_stamp(&k).unwrap();
        assert_eq!((s.layer, s.counter, s.keyframe), (b'h', 9, true));

        let d = vp8_frame(600, b'l', false, 10);
        assert_eq!(d[0] & 1, 1);
        assert!(!parse_stamp(&d).unwrap().keyframe);
        assert!(parse_stamp(&[0u8; 40]).is_none());
    }
}
