//! The `webinar` scenario: a mentor hosts a live group session and
//! publishes audio and (simulcast) video, P-1 mentees made speakers publish
//! too, and N mentees registered for the session join at a fixed rate and
//! subscribe, each with a real str0m peer connection (`lyceum-peer`). Every
//! frame carries its send time and a counter: the report has each
//! subscriber's received bitrate, frame and packet loss, jitter, time to
//! first frame, latency, and the server's CPU.
//!
//! `--target janus` runs the same str0m publishers and subscribers against
//! Janus's VideoRoom instead (the signalling is in `janus.rs`); everything
//! from the ramp on (measurement window, figures, report) is shared.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lyceum_peer::{Participant, PublishOpts, PublishStats, Signaller, Subscriber};
use lyceum_protocol::{LiveRole, MediaKind, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client;
use crate::live::{self, MediaSummary, Probe};
use crate::report;

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct WebinarArgs {
    /// Publishers: the mentor (host) and mentees the host makes speakers.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Mentees who join and subscribe (one str0m peer connection each).
    #[arg(long, default_value_t = 20)]
    pub subscribers: usize,
    /// Seconds of measurement once everyone has joined.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Subscribers joining per second.
    #[arg(long, default_value_t = 20)]
    pub ramp: u64,
    /// Publish simulcast video (layers h, m, l).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub simulcast: bool,
    /// Publish video (audio is always published).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub video: bool,
    /// The server's pid, for its CPU use from /proc (else from /metrics).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server under test: Lyceum (`--url`) or Janus's VideoRoom
    /// (`--janus-url`, its HTTP API; `--url` is not used).
    #[arg(long, value_enum, default_value_t = Target::Lyceum)]
    pub target: Target,
    /// Janus's HTTP API (with `--target janus`).
    #[arg(long, default_value = "http://127.0.0.1:8088/janus")]
    pub janus_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    Lyceum,
    Janus,
}

impl Default for WebinarArgs {
    fn default() -> Self {
        WebinarArgs {
            publishers: 1,
            subscribers: 20,
            duration: 10,
            ramp: 20,
            simulcast: true,
            video: true,
            server_pid: None,
            target: Target::Lyceum,
            janus_url: "http://127.0.0.1:8088/janus".into(),
        }
    }
}

impl WebinarArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=16).contains(&self.publishers), "publishers: 1 to 16");
        anyhow::ensure!((1..=5_000).contains(&self.subscribers), "subscribers: 1 to 5000");
        anyhow::ensure!((1..=600).contains(&self.duration), "duration: 1 to 600 seconds");
        anyhow::ensure!(
            (1..=1_000).contains(&self.ramp),
            "ramp: 1 to 1000 subscribers per second"
        );
        Ok(())
    }
}

pub type WebinarReport = report::Outcome;

fn mbit(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / 1e6 / secs.max(1e-3)
}

/// (frames, bytes, datagrams) received so far by each subscriber.
fn totals(subs: &[&Subscriber]) -> Vec<(u64, u64, u64)> {
    subs.iter()
        .map(|s| {
            let (f, b) = s.totals();
            (f, b, s.datagrams())
        })
        .collect()
}

/// What the ramp left: who publishes, and how the subscribers' joins went.
pub struct Joined {
    /// Whose tracks every subscriber must receive.
    pub publisher_ids: Vec<UserId>,
    pub join_ms: Vec<f64>,
    pub errors: HashMap<String, u64>,
    pub ramp_secs: f64,
    /// The ramp's start, in UNIX seconds.
    pub epoch_unix: u64,
}

/// Starts `n` subscribers at `ramp` a second (`join(i)` each) and waits for
/// all of them; failures are counted by the key the join gives them.
pub async fn ramp<T, F, Fut>(
    n: usize,
    ramp: u64,
    progress: &indicatif::ProgressBar,
    join: F,
) -> (Vec<T>, Vec<f64>, HashMap<String, u64>, f64, u64)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let epoch = Instant::now();
    let epoch_unix = lyceum_peer::now_micros() / 1_000_000;
    let joined = Arc::new(AtomicUsize::new(0));
    let gap = Duration::from_secs_f64(1.0 / ramp as f64);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let at = tokio::time::Instant::from_std(epoch + gap * i as u32);
            let (fut, joined) = (join(i), joined.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let t0 = Instant::now();
                let r = fut.await?;
                joined.fetch_add(1, Ordering::Relaxed);
                Ok::<_, String>((r, t0.elapsed().as_secs_f64() * 1000.0))
            })
        })
        .collect();
    let all = futures_util::future::join_all(tasks);
    tokio::pin!(all);
    let results = loop {
        tokio::select! {
            r = &mut all => break r,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                progress.set_message(format!("ramping: {} of {n} subscribers connected, {:.0} s", joined.load(Ordering::Relaxed), epoch.elapsed().as_secs_f64()));
            }
        }
    };
    let mut subs = Vec::new();
    let mut join_ms = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    for r in results {
        match r {
            Ok(Ok((sub, ms))) => {
                join_ms.push(ms);
                subs.push(sub);
            }
            Ok(Err(e)) => *errors.entry(e).or_default() += 1,
            Err(e) => *errors.entry(format!("task: {e}")).or_default() += 1,
        }
    }
    (subs, join_ms, errors, epoch.elapsed().as_secs_f64(), epoch_unix)
}

pub async fn run(base: &str, a: &WebinarArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<WebinarReport> {
    match a.target {
        Target::Lyceum => run_lyceum(base, a, progress).await,
        Target::Janus => crate::janus::run(a, progress).await,
    }
}

/// What the publishers send: audio, and video (simulcast h/m/l) unless turned off.
pub fn publish_opts(a: &WebinarArgs) -> PublishOpts {
    PublishOpts {
        audio: true,
        video: a.video,
        simulcast: a.simulcast && a.video,
        ..Default::default()
    }
}

async fn run_lyceum(base: &str, a: &WebinarArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<WebinarReport> {
    let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    progress.set_message("signing up");
    let (mentor, mentor_id) = client::register(&http, base, "mentor", &format!("host-{run}"), &run).await?;
    let speakers = live::register_many(&http, base, "mentee", "speaker", a.publishers - 1, &run, progress).await?;
    let audience = live::register_many(&http, base, "mentee", "w", a.subscribers, &run, progress).await?;
    let sid = live::create_session(
        &http,
        base,
        &mentor,
        a.subscribers + a.publishers - 1,
        "loadtest webinar",
    )
    .await?;
    let everyone: Vec<&String> = speakers.iter().chain(audience.iter()).map(|(t, _)| t).collect();
    for (n, chunk) in everyone.chunks(32).enumerate() {
        let batch = futures_util::future::join_all(
            chunk
                .iter()
                .map(|t| live::post_ok(&http, format!("{base}/api/sessions/{sid}/register"), t)),
        )
        .await;
        for r in batch {
            r?;
        }
        progress.set_message(format!(
            "registered {} of {} for the session",
            (n * 32 + chunk.len()),
            everyone.len()
        ));
    }
    live::post_ok(&http, format!("{base}/api/sessions/{sid}/start"), &mentor).await?;

    // Publishers: the host, then speakers.
    progress.set_message("publishing");
    let opts = publish_opts(a);
    let host_sig = Signaller::connect(base, &mentor).await?;
    let mut host = Participant::join(&host_sig, sid).await?;
    host.publish(opts.clone()).await?;
    let mut publishers: Vec<(Signaller, Participant)> = Vec::new();
    let mut publisher_ids = vec![mentor_id];
    for (tok, uid) in &speakers {
        let sig = Signaller::connect(base, tok).await?;
        let mut p = Participant::join(&sig, sid).await?;
        host.set_role(*uid, LiveRole::Speaker).await?;
        p.publish(opts.clone()).await?;
        publisher_ids.push(*uid);
        publishers.push((sig, p));
    }

    // Subscribers, at the ramp rate.
    let probe = Probe::new(base, a.server_pid);
    let (subs, join_ms, errors, ramp_secs, epoch_unix) = ramp(a.subscribers, a.ramp, progress, |i| {
        let (base, tok) = (base.to_owned(), audience[i].0.clone());
        async move {
            let sig = Signaller::connect(&base, &tok).await.map_err(key)?;
            let mut p = Participant::join(&sig, sid).await.map_err(key)?;
            p.subscribe().await.map_err(key)?;
            Ok((sig, p))
        }
    })
    .await;
    let joined = Joined {
        publisher_ids,
        join_ms,
        errors,
        ramp_secs,
        epoch_unix,
    };
    let viewers: Vec<&Subscriber> = subs.iter().filter_map(|(_, p)| p.subscriber()).collect();
    let m = measure(a, &viewers, &joined, &probe, progress).await;
    let mut sent = vec![host.publish_stats().unwrap_or_default()];
    sent.extend(publishers.iter().map(|(_, p)| p.publish_stats().unwrap_or_default()));

    progress.set_message("leaving");
    futures_util::future::join_all(subs.into_iter().map(|(sig, p)| async move {
        let _ = p.leave().await;
        drop(sig);
    }))
    .await;
    for (_, p) in publishers {
        let _ = p.leave().await;
    }
    let _ = host.end().await;
    let _ = host.leave().await;
    Ok(report(a, "lyceum", joined, m, &sent))
}

/// The key a failed Lyceum join is counted under: the server's error code.
fn key(e: lyceum_peer::PeerError) -> String {
    e.code().map(str::to_owned).unwrap_or_else(|| e.to_string())
}

/// The measurement window, over whichever server's subscribers.
pub struct Measured {
    window_secs: f64,
    per_sub_mbit: Vec<f64>,
    total_mbit: f64,
    min_mbit: f64,
    /// Datagrams the subscribers received in the window, per second.
    datagrams_per_sec: f64,
    complete: usize,
    media: MediaSummary,
    server_json: serde_json::Value,
    server_line: String,
    cpu_secs: Option<f64>,
}

pub async fn measure(
    a: &WebinarArgs,
    subs: &[&Subscriber],
    joined: &Joined,
    probe: &Probe,
    progress: &indicatif::ProgressBar,
) -> Measured {
    let before = probe.sample().await;
    let t_before = totals(subs);
    let window = Instant::now();
    let window_unix = lyceum_peer::now_micros() / 1_000_000 + 1;
    let deadline = window + Duration::from_secs(a.duration);
    let mut last = (Instant::now(), t_before.iter().map(|t| t.1).sum::<u64>());
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500).min(deadline.saturating_duration_since(Instant::now()))).await;
        let bytes: u64 = totals(subs).iter().map(|t| t.1).sum();
        let now = Instant::now();
        let rate = mbit(bytes - last.1, now.duration_since(last.0).as_secs_f64());
        last = (now, bytes);
        progress.set_message(format!(
            "measuring: {} subscribers receiving {rate:.1} Mbit/s in total, {:.0} of {} s",
            subs.len(),
            window.elapsed().as_secs_f64(),
            a.duration
        ));
    }
    let t_after = totals(subs);
    let window_secs = window.elapsed().as_secs_f64();
    let after = probe.sample().await;

    progress.set_message("collecting");
    let per_sub_mbit: Vec<f64> = t_before
        .iter()
        .zip(&t_after)
        .map(|(b, a)| mbit(a.1 - b.1, window_secs))
        .collect();
    let datagrams: u64 = t_before.iter().zip(&t_after).map(|(b, a)| a.2 - b.2).sum();
    let total_mbit: f64 = per_sub_mbit.iter().sum();
    let min_mbit = per_sub_mbit.iter().copied().fold(f64::INFINITY, f64::min);
    // Latency figures cover the measurement window; the chart shows everything.
    let mut media = MediaSummary {
        window_from: window_unix,
        ..Default::default()
    };
    let tracks_per_publisher = 1 + usize::from(a.video);
    let mut complete = 0;
    for s in subs {
        let st = s.stats();
        if joined
            .publisher_ids
            .iter()
            .all(|u| st.tracks_of(*u).filter(|t| t.frames > 0).count() >= tracks_per_publisher)
        {
            complete += 1;
        }
        let v = s.latency_samples(Some(MediaKind::Video));
        let au = s.latency_samples(Some(MediaKind::Audio));
        media.add(&st, &v, &au, joined.epoch_unix);
    }
    let (server_json, server_line) = live::server_usage(&before, &after);
    let cpu_secs = match (before.cpu_secs, after.cpu_secs) {
        (Some(x), Some(y)) => Some(y - x),
        _ => None,
    };
    Measured {
        window_secs,
        per_sub_mbit,
        total_mbit,
        min_mbit,
        datagrams_per_sec: datagrams as f64 / window_secs.max(1e-3),
        complete,
        media,
        server_json,
        server_line,
        cpu_secs,
    }
}

pub fn report(a: &WebinarArgs, target: &str, joined: Joined, m: Measured, sent: &[PublishStats]) -> WebinarReport {
    let Measured {
        window_secs,
        mut per_sub_mbit,
        total_mbit,
        min_mbit,
        datagrams_per_sec,
        complete,
        mut media,
        server_json,
        server_line,
        cpu_secs,
    } = m;
    let Joined {
        mut join_ms,
        errors,
        ramp_secs,
        ..
    } = joined;
    let opts = publish_opts(a);
    let (keyframes_sent, kf_requests) = sent
        .iter()
        .fold((0, 0), |acc, s| (acc.0 + s.keyframes, acc.1 + s.keyframe_requests));
    // The same count for every server: what its subscribers received.
    let per_cpu_sec = cpu_secs
        .filter(|c| *c > 0.0)
        .map(|c| datagrams_per_sec * window_secs / c);
    let connected = per_sub_mbit.len();
    let failed = a.subscribers - connected;
    let join = report::percentiles(&mut join_ms);
    let rate = report::percentiles(&mut per_sub_mbit);
    let mut json = json!({
        "scenario": "webinar", "target": target,
        "publishers": a.publishers, "simulcast": opts.simulcast, "video": a.video,
        "subscribers": {"requested": a.subscribers, "connected": connected, "failed": failed, "complete": complete,
                        "joinMs": join, "rampSeconds": ramp_secs},
        "receivedMbitPerSubscriber": {"p50": rate.p50, "min": if connected > 0 { min_mbit } else { 0.0 }, "max": rate.max, "total": total_mbit},
        "windowSeconds": window_secs,
        "receivedDatagramsPerSecond": datagrams_per_sec,
        "serverCpuSeconds": cpu_secs,
        "datagramsOutPerCpuSecond": per_cpu_sec,
        "sent": {"keyframes": keyframes_sent, "keyframeRequests": kf_requests, "publishers": sent},
        "server": server_json,
        "errors": errors,
    });
    json["media"] = media.json();
    let mut rows = vec![
        ("target".into(), target.to_owned()),
        (
            "publishers".into(),
            format!(
                "{} publishing audio{}",
                a.publishers,
                if !a.video {
                    ""
                } else if opts.simulcast {
                    " and simulcast video (h/m/l)"
                } else {
                    " and video"
                }
            ),
        ),
        (
            "subscribers".into(),
            format!(
                "{connected} connected, {failed} failed, {complete} received every publisher; ramp {ramp_secs:.1} s"
            ),
        ),
        (
            "join + subscribe".into(),
            format!("p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms", join.p50, join.p99, join.max),
        ),
        (
            "received bitrate".into(),
            format!(
                "per subscriber p50 {:.2} Mbit/s, min {:.2}; total {total_mbit:.1} Mbit/s over {window_secs:.1} s",
                rate.p50,
                if connected > 0 { min_mbit } else { 0.0 }
            ),
        ),
        (
            "datagrams received".into(),
            match per_cpu_sec {
                Some(p) => format!("{datagrams_per_sec:.0}/s by all subscribers; {p:.0} per second of server CPU time"),
                None => format!("{datagrams_per_sec:.0}/s by all subscribers (server CPU unknown)"),
            },
        ),
    ];
    rows.extend(media.rows());
    rows.push((
        "keyframes sent".into(),
        format!("{keyframes_sent} ({kf_requests} requested by the server)"),
    ));
    rows.push(("server".into(), server_line));
    rows.push((
        "errors".into(),
        if errors.is_empty() {
            "none".into()
        } else {
            format!("{errors:?}")
        },
    ));
    let table = report::table("webinar", &rows);
    let ok = failed == 0 && complete == connected && connected > 0 && media.frames > 0;
    json["ok"] = json!(ok);
    WebinarReport {
        json,
        table,
        timeline: media.timeline(),
        ok,
    }
}
