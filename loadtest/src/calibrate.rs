//! The `calibrate` scenario: the raw UDP packets-per-second ceiling of this
//! machine on loopback (one sender thread, one receiver thread, nothing
//! else), so SFU figures can be given as a fraction of the physical limit.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::report;

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CalibrateArgs {
    /// Seconds to measure.
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// Payload bytes per packet (an RTP video packet is ~1,200).
    #[arg(long, default_value_t = 1200)]
    pub size: usize,
}

impl Default for CalibrateArgs {
    fn default() -> Self {
        CalibrateArgs {
            duration: 5,
            size: 1200,
        }
    }
}

impl CalibrateArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=120).contains(&self.duration), "duration: 1 to 120 seconds");
        anyhow::ensure!((16..=1472).contains(&self.size), "size: 16 to 1472 bytes");
        Ok(())
    }
}

pub fn run(a: &CalibrateArgs) -> anyhow::Result<(Value, String, bool)> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    rx.set_read_timeout(Some(Duration::from_millis(200)))?;
    let to = rx.local_addr()?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let r = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if rx.recv_from(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let payload = vec![0x80u8; a.size];
    let start = Instant::now();
    let end = start + Duration::from_secs(a.duration);
    let mut sent = 0u64;
    let (mut warm_recv, mut measured_from) = (0u64, start);
    // The first half second warms up caches and is not counted.
    let mut warm = true;
    while Instant::now() < end {
        for _ in 0..64 {
            if tx.send_to(&payload, to).is_ok() {
                sent += 1;
            }
        }
        if warm && start.elapsed() > Duration::from_millis(500) {
            warm = false;
            warm_recv = received.load(Ordering::Relaxed);
            measured_from = Instant::now();
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let _ = r.join();
    let got = received.load(Ordering::Relaxed);
    let secs = measured_from.elapsed().as_secs_f64() - 0.1;
    let pps = (got - warm_recv) as f64 / secs.max(0.001);
    let json = json!({"scenario": "calibrate", "sent": sent, "received": got, "packetsPerSecond": pps,
                      "megabitsPerSecond": pps * a.size as f64 * 8.0 / 1e6, "payloadBytes": a.size});
    let table = report::table(
        "calibrate (UDP on loopback)",
        &[
            (
                "packets/s".into(),
                format!(
                    "{pps:.0} ({:.0} Mbit/s of {}-byte payloads)",
                    pps * a.size as f64 * 8.0 / 1e6,
                    a.size
                ),
            ),
            ("sent / received".into(), format!("{sent} / {got}")),
        ],
    );
    Ok((json, table, got > 0))
}
