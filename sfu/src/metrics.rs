//! SFU figures, kept in atomics the shards bump and `/metrics` reads:
//! nothing on the media path waits for a scrape.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

/// Upper bounds of the latency histogram buckets, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 24] = [
    10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 25_000, 50_000,
    100_000, 250_000, 500_000, 1_000_000,
];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let i = LATENCY_BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Counts per bucket (the last is above every bound).
    pub fn snapshot(&self) -> Vec<u64> {
        self.buckets.iter().map(|b| b.load(Relaxed)).collect()
    }

    /// The bucket bound under which `q` of the samples fall (µs); an upper
    /// estimate of the quantile.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let counts = self.snapshot();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let want = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some(*LATENCY_BUCKETS_US.get(i).unwrap_or(&u64::MAX));
            }
        }
        None
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        let counts = self.snapshot();
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            cum += counts[i];
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{}\"}} {cum}", *b as f64 / 1e6);
        }
        cum += counts[LATENCY_BUCKETS_US.len()];
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cum}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count.load(Relaxed));
    }
}

#[derive(Default)]
pub struct ShardMetrics {
    pub peers: AtomicI64,
    pub rooms: AtomicI64,
    pub datagrams_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    /// Datagrams from addresses no peer owns (dropped after a hash lookup,
    /// or a STUN username lookup).
    pub unknown_datagrams: AtomicU64,
    /// Datagrams the socket would not take (send buffer full).
    pub send_dropped: AtomicU64,
    /// Frames a subscriber's Rtc refused (its send queue full, a bad payload type).
    pub write_failures: AtomicU64,
    /// Peers removed because their Rtc panicked or failed.
    pub peer_failures: AtomicU64,
    /// Requests refused because the shard's command queue was nearly full.
    pub commands_refused: AtomicU64,
    /// Commands without a result (quality hints; room and moderation
    /// commands only with the reserved slots gone) dropped at a full queue.
    pub commands_dropped: AtomicU64,
    /// Media packets a room's home shard could not hand to a shard
    /// mirroring the room (its relay queue full).
    pub relay_dropped: AtomicU64,
    /// UDP GSO messages sent (several datagrams for one destination in one
    /// message), and the datagrams they carried.
    pub gso_messages: AtomicU64,
    /// Timeout rounds given to peers' `Rtc`s (each polls all of a peer's
    /// state: the main cost of forwarding besides the send).
    pub timeout_rounds: AtomicU64,
    pub gso_datagrams: AtomicU64,
    /// Time the shard spent working (not waiting), nanoseconds.
    pub busy_ns: AtomicU64,
    pub latency: Histogram,
}

#[derive(Default)]
pub struct RoomMetrics {
    pub participants: AtomicI64,
    pub tracks: AtomicI64,
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Media frames written to subscribers.
    pub frames_forwarded: AtomicU64,
    /// RTP packets the publishers' streams lost on the way in (from str0m's
    /// ingress statistics), and the subscribers reported lost on the way out.
    pub packets_lost_in: AtomicU64,
    pub packets_lost_out: AtomicU64,
    /// Packet in (the datagram completing a frame) to its packets out.
    pub latency: Histogram,
}

pub struct SfuMetrics {
    shards: Vec<Arc<ShardMetrics>>,
    addrs: Vec<std::net::SocketAddr>,
    rooms: Mutex<HashMap<Uuid, (&'static str, Arc<RoomMetrics>)>>,
}

impl SfuMetrics {
    pub(crate) fn new(shards: Vec<Arc<ShardMetrics>>, addrs: Vec<std::net::SocketAddr>) -> SfuMetrics {
        SfuMetrics {
            shards,
            addrs,
            rooms: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn room(&self, id: Uuid, kind: &'static str) -> Arc<RoomMetrics> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms
            .entry(id)
            .or_insert_with(|| (kind, Arc::new(RoomMetrics::default())))
            .1
            .clone()
    }

    pub(crate) fn forget_room(&self, id: Uuid) {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// All shards' forwarding latency merged: (bucket counts, total).
    pub fn latency_quantile_us(&self, q: f64) -> Option<u64> {
        let merged = Histogram::default();
        for s in &self.shards {
            for (i, c) in s.latency.snapshot().into_iter().enumerate() {
                merged.buckets[i].fetch_add(c, Relaxed);
                merged.count.fetch_add(c, Relaxed);
            }
        }
        merged.quantile_us(q)
    }

    /// Prometheus text exposition.
    pub fn render(&self, out: &mut String) {
        macro_rules! shard_series {
            ($name:literal, $help:literal, $kind:literal, $field:ident) => {
                let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", $name, $help, $name, $kind);
                for (i, s) in self.shards.iter().enumerate() {
                    let _ = writeln!(out, "{}{{shard=\"{i}\"}} {}", $name, s.$field.load(Relaxed));
                }
            };
        }
        let _ = writeln!(out, "# HELP lyceum_sfu_shard_info A shard and the UDP address it announces.\n# TYPE lyceum_sfu_shard_info gauge");
        for (i, a) in self.addrs.iter().enumerate() {
            let _ = writeln!(out, "lyceum_sfu_shard_info{{shard=\"{i}\",addr=\"{a}\"}} 1");
        }
        shard_series!("lyceum_sfu_peers", "Peer connections on the shard.", "gauge", peers);
        shard_series!("lyceum_sfu_rooms", "Live rooms on the shard.", "gauge", rooms);
        shard_series!(
            "lyceum_sfu_datagrams_in_total",
            "UDP datagrams received.",
            "counter",
            datagrams_in
        );
        shard_series!(
            "lyceum_sfu_datagrams_out_total",
            "UDP datagrams sent.",
            "counter",
            datagrams_out
        );
        shard_series!(
            "lyceum_sfu_unknown_datagrams_total",
            "Datagrams from unknown addresses, dropped.",
            "counter",
            unknown_datagrams
        );
        shard_series!(
            "lyceum_sfu_send_dropped_total",
            "Datagrams dropped because the socket was full.",
            "counter",
            send_dropped
        );
        shard_series!(
            "lyceum_sfu_write_failures_total",
            "Frames a subscriber's Rtc refused to send.",
            "counter",
            write_failures
        );
        shard_series!(
            "lyceum_sfu_peer_failures_total",
            "Peers removed after their Rtc failed or panicked.",
            "counter",
            peer_failures
        );
        shard_series!(
            "lyceum_sfu_commands_refused_total",
            "Requests refused (overloaded) because the shard's command queue was nearly full.",
            "counter",
            commands_refused
        );
        shard_series!(
            "lyceum_sfu_commands_dropped_total",
            "Commands without a result dropped at the shard's full command queue.",
            "counter",
            commands_dropped
        );
        shard_series!(
            "lyceum_sfu_relay_dropped_total",
            "Media packets dropped at the full relay queue of a shard mirroring a room.",
            "counter",
            relay_dropped
        );
        shard_series!(
            "lyceum_sfu_gso_messages_total",
            "UDP GSO messages sent (several datagrams to one destination in one message).",
            "counter",
            gso_messages
        );
        shard_series!(
            "lyceum_sfu_gso_datagrams_total",
            "Datagrams sent inside UDP GSO messages (also counted in datagrams_out).",
            "counter",
            gso_datagrams
        );
        shard_series!(
            "lyceum_sfu_timeout_rounds_total",
            "Timeout rounds given to peers (each polls all of a peer's state).",
            "counter",
            timeout_rounds
        );
        let _ = writeln!(out, "# HELP lyceum_sfu_busy_seconds_total Time the shard spent working.\n# TYPE lyceum_sfu_busy_seconds_total counter");
        for (i, s) in self.shards.iter().enumerate() {
            let _ = writeln!(
                out,
                "lyceum_sfu_busy_seconds_total{{shard=\"{i}\"}} {}",
                s.busy_ns.load(Relaxed) as f64 / 1e9
            );
        }
        let _ = writeln!(out, "# HELP lyceum_sfu_forward_latency_seconds Packet in to packet out, per shard.\n# TYPE lyceum_sfu_forward_latency_seconds histogram");
        for (i, s) in self.shards.iter().enumerate() {
            s.latency
                .render(out, "lyceum_sfu_forward_latency_seconds", &format!("shard=\"{i}\""));
        }

        let rooms: Vec<(Uuid, &'static str, Arc<RoomMetrics>)> = {
            let r = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            r.iter().map(|(id, (k, m))| (*id, *k, m.clone())).collect()
        };
        macro_rules! room_series {
            ($name:literal, $help:literal, $kind:literal, $field:ident) => {
                let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", $name, $help, $name, $kind);
                for (id, k, m) in &rooms {
                    let _ = writeln!(
                        out,
                        "{}{{room=\"{id}\",kind=\"{k}\"}} {}",
                        $name,
                        m.$field.load(Relaxed)
                    );
                }
            };
        }
        room_series!(
            "lyceum_room_participants",
            "Participants in the live room.",
            "gauge",
            participants
        );
        room_series!(
            "lyceum_room_tracks",
            "Published tracks in the live room.",
            "gauge",
            tracks
        );
        room_series!(
            "lyceum_room_packets_in_total",
            "Datagrams received from the room's peers.",
            "counter",
            packets_in
        );
        room_series!(
            "lyceum_room_bytes_in_total",
            "Bytes received from the room's peers (rate = bitrate in).",
            "counter",
            bytes_in
        );
        room_series!(
            "lyceum_room_packets_out_total",
            "Datagrams sent to the room's peers.",
            "counter",
            packets_out
        );
        room_series!(
            "lyceum_room_bytes_out_total",
            "Bytes sent to the room's peers (rate = bitrate out).",
            "counter",
            bytes_out
        );
        room_series!(
            "lyceum_room_frames_forwarded_total",
            "Media frames forwarded to subscribers.",
            "counter",
            frames_forwarded
        );
        room_series!(
            "lyceum_room_packets_lost_in_total",
            "RTP packets lost from publishers.",
            "counter",
            packets_lost_in
        );
        room_series!(
            "lyceum_room_packets_lost_out_total",
            "RTP packets subscribers reported lost.",
            "counter",
            packets_lost_out
        );
        let _ = writeln!(out, "# HELP lyceum_room_forward_latency_seconds SFU-added latency, packet in to packet out.\n# TYPE lyceum_room_forward_latency_seconds histogram");
        for (id, k, m) in &rooms {
            m.latency.render(
                out,
                "lyceum_room_forward_latency_seconds",
                &format!("room=\"{id}\",kind=\"{k}\""),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let h = Histogram::default();
        for _ in 0..98 {
            h.record(Duration::from_micros(40));
        }
        h.record(Duration::from_micros(900));
        h.record(Duration::from_millis(30));
        assert_eq!(h.quantile_us(0.5), Some(50));
        assert_eq!(h.quantile_us(0.99), Some(1_000));
        assert_eq!(h.quantile_us(1.0), Some(50_000));
        let mut s = String::new();
        h.render(&mut s, "x", "");
        assert!(s.contains("x_bucket{le=\"0.00005\"} 98"), "{s}");
        assert!(s.contains("x_count{} 100"), "{s}");
    }
}
