//! Shared by the `webinar` and `call` scenarios: the server's CPU and SFU
//! counters around a run, and summaries of what the str0m peers received.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use lyceum_peer::{SubscriberStats, TrackStats};
use lyceum_protocol::{LiveId, MediaKind, UserId};
use serde_json::{json, Value};

use crate::report::{self, Percentiles, Samples};

/// Reads the server's CPU time (from /proc/<pid>/stat, else `/metrics`) and
/// its SFU counters (`/metrics`, which answers loopback clients).
pub struct Probe {
    http: reqwest::Client,
    /// None: a server without Lyceum's `/metrics` (CPU from /proc only).
    base: Option<String>,
    pid: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct ProbeSample {
    pub at: Option<Instant>,
    pub cpu_secs: Option<f64>,
    pub cpu_source: &'static str,
    /// `/metrics` series summed over their labels.
    pub metrics: HashMap<String, f64>,
}

/// Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

fn proc_cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) in parentheses.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut m: HashMap<String, f64> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *m.entry(name.to_owned()).or_default() += v;
        }
    }
    m
}

impl Probe {
    pub fn new(base: &str, pid: Option<u32>) -> Probe {
        Probe {
            http: reqwest::Client::new(),
            base: Some(base.to_owned()),
            pid,
        }
    }

    /// Only the process's CPU time, from /proc (another server than Lyceum).
    pub fn process(pid: Option<u32>) -> Probe {
        Probe {
            http: reqwest::Client::new(),
            base: None,
            pid,
        }
    }

    pub async fn sample(&self) -> ProbeSample {
        let metrics = match &self.base {
            Some(base) => match self.http.get(format!("{base}/metrics")).send().await {
                Ok(r) if r.status().is_success() => parse_metrics(&r.text().await.unwrap_or_default()),
                _ => HashMap::new(),
            },
            None => HashMap::new(),
        };
        let (cpu_secs, cpu_source) = match self.pid.and_then(proc_cpu_secs) {
            Some(c) => (Some(c), "/proc"),
            None => match metrics
                .get("lyceum_process_cpu_seconds_total")
                .or_else(|| metrics.get("process_cpu_seconds_total"))
            {
                Some(c) => (Some(*c), "/metrics"),
                None => (None, "none"),
            },
        };
        ProbeSample {
            at: Some(Instant::now()),
            cpu_secs,
            cpu_source,
            metrics,
        }
    }
}

/// The server between two samples.
pub fn server_usage(a: &ProbeSample, b: &ProbeSample) -> (Value, String) {
    let secs = match (a.at, b.at) {
        (Some(x), Some(y)) => y.duration_since(x).as_secs_f64().max(1e-3),
        _ => 1.0,
    };
    let cpu = match (a.cpu_secs, b.cpu_secs) {
        (Some(x), Some(y)) => Some((y - x) / secs * 100.0),
        _ => None,
    };
    let delta = |k: &str| match (a.metrics.get(k), b.metrics.get(k)) {
        (Some(x), Some(y)) => Some(y - x),
        _ => None,
    };
    let dg_in = delta("lyceum_sfu_datagrams_in_total").map(|d| d / secs);
    let dg_out = delta("lyceum_sfu_datagrams_out_total").map(|d| d / secs);
    let dropped = delta("lyceum_sfu_send_dropped_total");
    let busy = delta("lyceum_sfu_busy_seconds_total").map(|d| d / secs * 100.0);
    let rss = b
        .metrics
        .get("lyceum_process_resident_memory_bytes")
        .map(|r| r / 1_048_576.0);
    let json = json!({
        "cpuPercentOfOneCore": cpu, "cpuSource": b.cpu_source, "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "sfuDatagramsInPerSecond": dg_in, "sfuDatagramsOutPerSecond": dg_out, "sfuSendDropped": dropped,
        "sfuBusyPercent": busy, "rssMiB": rss,
    });
    let mut parts = vec![match cpu {
        Some(c) => format!(
            "CPU {c:.0}% of one core (from {}, {} cores here)",
            b.cpu_source, json["cores"]
        ),
        None => "CPU unknown (pass --server-pid, or expose /metrics)".to_owned(),
    }];
    if let (Some(i), Some(o)) = (dg_in, dg_out) {
        parts.push(format!("SFU {i:.0} datagrams/s in, {o:.0} out"));
    }
    if let Some(b) = busy {
        parts.push(format!("shards busy {b:.0}%"));
    }
    if let Some(d) = dropped.filter(|d| *d > 0.0) {
        parts.push(format!("{d:.0} sends dropped"));
    }
    if let Some(r) = rss {
        parts.push(format!("RSS {r:.0} MiB"));
    }
    (json, parts.join("; "))
}

/// Everything the receiving peers of a run measured, summed up.
#[derive(Default)]
pub struct MediaSummary {
    pub receivers: usize,
    pub receivers_with_media: usize,
    pub frames: u64,
    pub bytes: u64,
    pub frames_lost: u64,
    pub frames_late: u64,
    pub packets: u64,
    pub packets_lost: u64,
    pub keyframes: u64,
    pub offer_errors: u64,
    pub nacks: u64,
    /// First video (else audio) frame after rtc_subscribe, per receiver.
    pub ttff_ms: Vec<f64>,
    pub jitter_video_ms: Vec<f64>,
    pub jitter_audio_ms: Vec<f64>,
    pub layers: HashMap<String, u64>,
    /// Latency in the measurement window (samples received from `window_from`, UNIX seconds).
    pub window_from: u64,
    pub latency_video: Samples,
    pub latency_audio: Samples,
    /// Every sample, ramp included, for the chart.
    pub all: Samples,
}

impl MediaSummary {
    /// Adds one receiver's stats and latency samples ((UNIX second, ms)),
    /// `epoch_unix` being the run's start in UNIX seconds.
    pub fn add(&mut self, st: &SubscriberStats, video: &[(u32, f32)], audio: &[(u32, f32)], epoch_unix: u64) {
        self.receivers += 1;
        let with_media: Vec<&TrackStats> = st.tracks.iter().filter(|t| t.frames > 0).collect();
        if !with_media.is_empty() {
            self.receivers_with_media += 1;
        }
        self.offer_errors += st.offer_errors;
        for t in &st.tracks {
            self.frames += t.frames;
            self.bytes += t.bytes;
            self.frames_lost += t.frames_lost;
            self.frames_late += t.frames_late;
            self.packets += t.packets;
            self.packets_lost += t.packets_lost;
            self.keyframes += t.keyframes;
            self.nacks += t.ingress.iter().map(|i| i.nacks).sum::<u64>();
            if t.frames > 1 {
                if t.kind == MediaKind::Video {
                    self.jitter_video_ms.push(t.jitter_ms);
                } else {
                    self.jitter_audio_ms.push(t.jitter_ms);
                }
            }
            for (l, n) in &t.layers {
                *self.layers.entry(l.clone()).or_default() += n;
            }
        }
        let first = |kind: MediaKind| {
            st.tracks
                .iter()
                .filter(|t| t.kind == kind)
                .filter_map(|t| t.first_frame_ms)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
        };
        if let Some(t) = first(MediaKind::Video).or_else(|| first(MediaKind::Audio)) {
            self.ttff_ms.push(t);
        }
        for (samples, window) in [(video, &mut self.latency_video), (audio, &mut self.latency_audio)] {
            for (s, ms) in samples {
                let (s, ms) = (u64::from(*s), f64::from(*ms));
                self.all.push(s.saturating_sub(epoch_unix), ms);
                if s >= self.window_from {
                    window.push(s.saturating_sub(epoch_unix), ms);
                }
            }
        }
    }

    pub fn frame_loss(&self) -> f64 {
        ratio(self.frames_lost, self.frames + self.frames_lost)
    }

    pub fn packet_loss(&self) -> f64 {
        ratio(self.packets_lost, self.packets + self.packets_lost)
    }

    /// A per-second timeline of every stamped frame and its latency (ramp included).
    pub fn timeline(&mut self) -> Vec<report::Point> {
        self.all.timeline()
    }

    pub fn json(&mut self) -> Value {
        let ttff = report::percentiles(&mut self.ttff_ms);
        let jv = report::percentiles(&mut self.jitter_video_ms);
        let ja = report::percentiles(&mut self.jitter_audio_ms);
        json!({
            "receivers": self.receivers, "receiversWithMedia": self.receivers_with_media,
            "frames": self.frames, "bytes": self.bytes, "keyframes": self.keyframes,
            "framesLost": self.frames_lost, "framesLate": self.frames_late, "frameLoss": self.frame_loss(),
            "packets": self.packets, "packetsLost": self.packets_lost, "packetLoss": self.packet_loss(), "nacks": self.nacks,
            "offerErrors": self.offer_errors,
            "timeToFirstFrameMs": ttff, "jitterVideoMs": jv, "jitterAudioMs": ja,
            "latencyVideoMs": self.latency_video.summary(), "latencyAudioMs": self.latency_audio.summary(),
            "latencyAllMs": self.all.summary(),
            "framesPerLayer": self.layers,
        })
    }

    /// Rows for the summary table.
    pub fn rows(&mut self) -> Vec<(String, String)> {
        let ttff = report::percentiles(&mut self.ttff_ms);
        let jv = report::percentiles(&mut self.jitter_video_ms);
        let ja = report::percentiles(&mut self.jitter_audio_ms);
        let lv = self.latency_video.summary();
        let la = self.latency_audio.summary();
        let all = self.all.summary();
        let mut layers: Vec<_> = self.layers.iter().map(|(k, v)| format!("{k} {v}")).collect();
        layers.sort();
        vec![
            (
                "frames received".into(),
                format!(
                    "{} ({} keyframes) by {} of {} receivers",
                    self.frames, self.keyframes, self.receivers_with_media, self.receivers
                ),
            ),
            (
                "frame loss".into(),
                format!(
                    "{} lost, {} late ({:.3}%)",
                    self.frames_lost,
                    self.frames_late,
                    self.frame_loss() * 100.0
                ),
            ),
            (
                "packet loss".into(),
                format!(
                    "{} of {} ({:.3}%), {} NACKs",
                    self.packets_lost,
                    self.packets + self.packets_lost,
                    self.packet_loss() * 100.0,
                    self.nacks
                ),
            ),
            ("time to first frame".into(), fmt_p(&ttff)),
            ("latency video (window)".into(), fmt_p(&lv)),
            ("latency audio (window)".into(), fmt_p(&la)),
            ("latency all (ramp too)".into(), fmt_p(&all)),
            (
                "jitter video".into(),
                format!("p50 {:.2} ms  p99 {:.2} ms", jv.p50, jv.p99),
            ),
            (
                "jitter audio".into(),
                format!("p50 {:.2} ms  p99 {:.2} ms", ja.p50, ja.p99),
            ),
            (
                "frames per layer".into(),
                if layers.is_empty() {
                    "-".into()
                } else {
                    layers.join(", ")
                },
            ),
        ]
    }
}

pub fn fmt_p(p: &Percentiles) -> String {
    format!(
        "p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        p.p50, p.p95, p.p99, p.max
    )
}

pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Creates a group session starting in 10 minutes and returns its id.
pub async fn create_session(
    http: &reqwest::Client,
    base: &str,
    mentor: &str,
    capacity: usize,
    title: &str,
) -> anyhow::Result<LiveId> {
    let starts = chrono::Utc::now() + chrono::Duration::minutes(10);
    let v: Value = http
        .post(format!("{base}/api/sessions"))
        .bearer_auth(mentor)
        .json(&json!({"title": title, "startsAt": starts, "durationMinutes": 120, "capacity": capacity.max(1)}))
        .send()
        .await?
        .json()
        .await
        .context("create session")?;
    v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("create session: {v}"))
}

/// A POST that must succeed.
pub async fn post_ok(http: &reqwest::Client, url: String, token: &str) -> anyhow::Result<()> {
    let r = http
        .post(&url)
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = r.status();
    anyhow::ensure!(
        status.is_success(),
        "POST {url}: {status} {}",
        r.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Registers `n` accounts of a role, 32 at a time, with a progress message.
pub async fn register_many(
    http: &reqwest::Client,
    base: &str,
    role: &str,
    prefix: &str,
    n: usize,
    run: &str,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<(String, UserId)>> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
        let batch = futures_util::future::join_all(chunk.iter().map(|i| {
            let name = format!("{prefix}{i}");
            async move { crate::client::register(http, base, role, &name, run).await }
        }))
        .await;
        for r in batch {
            out.push(r?);
        }
        progress.set_message(format!("signed up {} {role}s of {n}", out.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_metrics;

    #[test]
    fn metrics_are_summed_over_labels() {
        let m = parse_metrics("# HELP x\nx_total{shard=\"0\"} 2\nx_total{shard=\"1\"} 3.5\ncpu 1.25\n");
        assert_eq!(m["x_total"], 5.5);
        assert_eq!(m["cpu"], 1.25);
    }
}
