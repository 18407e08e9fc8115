//! The `call` scenario: P one-on-one calls at once. In each, a mentor calls
//! a mentee (`call_invite`, `call_incoming`, `call_accept`), both join the
//! call's room, publish audio and video and subscribe to each other with
//! real str0m peers (`lyceum-peer`), talk for a while, and the mentor hangs
//! up. Reports call set-up time, one-way media latency each way (from the
//! send time in every frame) and the round trip it adds up to, loss, jitter
//! and the server's CPU.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lyceum_peer::{Participant, PeerError, PublishOpts, Signaller};
use lyceum_protocol::{CallId, MediaKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::live::{self, MediaSummary, Probe};
use crate::report;

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CallArgs {
    /// Concurrent calls (each a mentor and a mentee).
    #[arg(long, default_value_t = 5)]
    pub calls: usize,
    /// Seconds of measurement once every call is up.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Calls started per second.
    #[arg(long, default_value_t = 5)]
    pub ramp: u64,
    /// Video calls (audio is always sent).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub video: bool,
    /// The server's pid, for its CPU use from /proc (else from /metrics).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

impl Default for CallArgs {
    fn default() -> Self {
        CallArgs {
            calls: 5,
            duration: 10,
            ramp: 5,
            video: true,
            server_pid: None,
        }
    }
}

impl CallArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=1_000).contains(&self.calls), "calls: 1 to 1000");
        anyhow::ensure!((1..=600).contains(&self.duration), "duration: 1 to 600 seconds");
        anyhow::ensure!((1..=500).contains(&self.ramp), "ramp: 1 to 500 calls per second");
        Ok(())
    }
}

pub type CallReport = report::Outcome;

const WAIT: Duration = Duration::from_secs(15);

struct Call {
    caller: Signaller,
    callee: Signaller,
    a: Participant,
    b: Participant,
    call_id: CallId,
    /// Invite → call_accepted at the caller.
    ring_ms: f64,
    /// Invite → both sides receiving media.
    setup_ms: f64,
}

async fn place(base: String, caller_tok: String, callee_tok: String, video: bool) -> Result<Call, PeerError> {
    let t0 = Instant::now();
    let caller = Signaller::connect(&base, &caller_tok).await?;
    let callee = Signaller::connect(&base, &callee_tok).await?;
    let call_id = caller.call_invite(callee.user_id(), video).await?;
    let (incoming, _) = callee.wait_call_incoming(Some(caller.user_id()), WAIT).await?;
    let room = callee.call_accept(incoming).await?;
    caller.wait_call_accepted(call_id, WAIT).await?;
    let ring_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let (mut a, mut b) = tokio::try_join!(Participant::join(&caller, room), Participant::join(&callee, room))?;
    let opts = PublishOpts {
        audio: true,
        video,
        simulcast: false,
        ..Default::default()
    };
    tokio::try_join!(a.publish(opts.clone()), b.publish(opts.clone()))?;
    tokio::try_join!(a.subscribe(), b.subscribe())?;
    let tracks = 1 + usize::from(video);
    tokio::try_join!(
        a.wait_for_frames(callee.user_id(), tracks, 1, WAIT),
        b.wait_for_frames(caller.user_id(), tracks, 1, WAIT)
    )?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1000.0;
    Ok(Call {
        caller,
        callee,
        a,
        b,
        call_id,
        ring_ms,
        setup_ms,
    })
}

fn median(v: &[(u32, f32)]) -> Option<f64> {
    let mut x: Vec<f64> = v.iter().map(|s| f64::from(s.1)).collect();
    (!x.is_empty()).then(|| report::percentiles(&mut x).p50)
}

pub async fn run(base: &str, a: &CallArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<CallReport> {
    let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    progress.set_message("signing up");
    let mentors = live::register_many(&http, base, "mentor", "caller", a.calls, &run, progress).await?;
    let mentees = live::register_many(&http, base, "mentee", "callee", a.calls, &run, progress).await?;

    let probe = Probe::new(base, a.server_pid);
    let epoch = Instant::now();
    let epoch_unix = lyceum_peer::now_micros() / 1_000_000;
    let up = Arc::new(AtomicUsize::new(0));
    let gap = Duration::from_secs_f64(1.0 / a.ramp as f64);
    let tasks: Vec<_> = mentors
        .iter()
        .zip(&mentees)
        .enumerate()
        .map(|(i, ((mt, _), (et, _)))| {
            let (base, mt, et, up, video) = (base.to_owned(), mt.clone(), et.clone(), up.clone(), a.video);
            let at = tokio::time::Instant::from_std(epoch + gap * i as u32);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let c = place(base, mt, et, video).await;
                if c.is_ok() {
                    up.fetch_add(1, Ordering::Relaxed);
                }
                c
            })
        })
        .collect();
    let all = futures_util::future::join_all(tasks);
    tokio::pin!(all);
    let results = loop {
        tokio::select! {
            r = &mut all => break r,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                progress.set_message(format!("calling: {} of {} calls up, {:.0} s", up.load(Ordering::Relaxed), a.calls, epoch.elapsed().as_secs_f64()));
            }
        }
    };
    let mut calls: Vec<Call> = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    for r in results {
        match r {
            Ok(Ok(c)) => calls.push(c),
            Ok(Err(e)) => {
                *errors
                    .entry(e.code().map(str::to_owned).unwrap_or_else(|| e.to_string()))
                    .or_default() += 1
            }
            Err(e) => *errors.entry(format!("task: {e}")).or_default() += 1,
        }
    }

    let before = probe.sample().await;
    let window = Instant::now();
    let window_unix = lyceum_peer::now_micros() / 1_000_000 + 1;
    let deadline = window + Duration::from_secs(a.duration);
    let sum_bytes = |calls: &[Call]| -> u64 {
        calls
            .iter()
            .flat_map(|c| [&c.a, &c.b])
            .map(|p| p.subscriber().map(|s| s.totals().1).unwrap_or_default())
            .sum()
    };
    let bytes_before = sum_bytes(&calls);
    let mut last = (Instant::now(), bytes_before);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500).min(deadline.saturating_duration_since(Instant::now()))).await;
        let bytes = sum_bytes(&calls);
        let now = Instant::now();
        let rate = (bytes - last.1) as f64 * 8.0 / 1e6 / now.duration_since(last.0).as_secs_f64().max(1e-3);
        last = (now, bytes);
        progress.set_message(format!(
            "talking: {} calls, {rate:.1} Mbit/s received in total, {:.0} of {} s",
            calls.len(),
            window.elapsed().as_secs_f64(),
            a.duration
        ));
    }
    let window_secs = window.elapsed().as_secs_f64();
    let total_mbit = (sum_bytes(&calls) - bytes_before) as f64 * 8.0 / 1e6 / window_secs.max(1e-3);
    let after = probe.sample().await;

    progress.set_message("collecting");
    // Latency figures cover the measurement window; the chart shows everything.
    let mut media = MediaSummary {
        window_from: window_unix,
        ..Default::default()
    };
    let mut round_trip = Vec::new();
    let (mut ring, mut setup) = (Vec::new(), Vec::new());
    let tracks = 1 + usize::from(a.video);
    let mut complete = 0;
    for c in &calls {
        ring.push(c.ring_ms);
        setup.push(c.setup_ms);
        let mut medians = Vec::new();
        let mut both = true;
        for (p, from) in [(&c.a, c.callee.user_id()), (&c.b, c.caller.user_id())] {
            let st = p.stats();
            both &= st.tracks_of(from).filter(|t| t.frames > 0).count() >= tracks;
            let (v, au) = match p.subscriber() {
                Some(s) => (
                    s.latency_samples(Some(MediaKind::Video)),
                    s.latency_samples(Some(MediaKind::Audio)),
                ),
                None => (vec![], vec![]),
            };
            medians.push(median(&au));
            media.add(&st, &v, &au, epoch_unix);
        }
        if both {
            complete += 1;
        }
        if let [Some(x), Some(y)] = medians[..] {
            round_trip.push(x + y);
        }
    }
    let (server_json, server_line) = live::server_usage(&before, &after);

    progress.set_message("hanging up");
    let ended: Vec<bool> = futures_util::future::join_all(calls.into_iter().map(|c| async move {
        let Call {
            caller,
            callee,
            a,
            b,
            call_id,
            ..
        } = c;
        let hung = caller.call_hangup(call_id).await.is_ok();
        let ended = hung && callee.wait_call_ended(call_id, WAIT).await.is_ok();
        drop((a, b));
        ended
    }))
    .await;
    let hung_up = ended.iter().filter(|e| **e).count();

    let up = ended.len();
    let failed = a.calls - up;
    let ring = report::percentiles(&mut ring);
    let setup = report::percentiles(&mut setup);
    let rtt = report::percentiles(&mut round_trip);
    let mut json = json!({
        "scenario": "call",
        "calls": {"requested": a.calls, "up": up, "failed": failed, "complete": complete, "hungUp": hung_up},
        "video": a.video,
        "ringMs": ring, "setupMs": setup,
        "audioRoundTripMs": rtt,
        "receivedMbitTotal": total_mbit, "windowSeconds": window_secs,
        "server": server_json,
        "errors": errors,
    });
    json["media"] = media.json();
    let mut rows = vec![
        (
            "calls".into(),
            format!(
                "{up} up, {failed} failed, {complete} with media both ways, {hung_up} hung up cleanly ({})",
                if a.video { "audio + video" } else { "audio" }
            ),
        ),
        ("invite → accepted".into(), live::fmt_p(&ring)),
        ("invite → media both ways".into(), live::fmt_p(&setup)),
        (
            "audio round trip".into(),
            format!(
                "p50 {:.1} ms  p99 {:.1} ms (median one-way A→B + B→A per call)",
                rtt.p50, rtt.p99
            ),
        ),
        (
            "received".into(),
            format!("{total_mbit:.1} Mbit/s in total over {window_secs:.1} s"),
        ),
    ];
    rows.extend(media.rows());
    rows.push(("server".into(), server_line));
    rows.push((
        "errors".into(),
        if errors.is_empty() {
            "none".into()
        } else {
            format!("{errors:?}")
        },
    ));
    let table = report::table("call", &rows);
    let ok = failed == 0 && complete == up && up > 0 && hung_up == up && media.frames > 0;
    json["ok"] = json!(ok);
    Ok(CallReport {
        json,
        table,
        timeline: media.timeline(),
        ok,
    })
}
