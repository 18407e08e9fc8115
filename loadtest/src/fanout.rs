//! The `board-fanout` scenario: one board event to many online watchers.
//! A poster asks a question in the first board category it may read;
//! `--watchers` members each sign up, open a WebSocket and `watch_thread`
//! it (docs/protocol.md); then the poster posts `--replies` replies
//! through the API, one every `--interval-ms`, and every watcher records
//! when each reply's `thread_updated` frame (`change: "reply"`) reaches it.
//!
//! A delivery's latency is counted from the moment the poster had the
//! reply's `201` (the post is committed and answered): the server tells
//! the watchers just before it answers, so a frame may arrive a little
//! before the answer, and that latency is negative. The same deliveries
//! are also counted from the moment the reply was sent (the POST's own
//! time included). Lost: frames expected (replies × connected watchers)
//! that never arrived within `--settle-secs` of the last reply.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use lyceum_protocol::frames::{Command, Event, ServerFrame};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::report::{self, Samples};

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct FanoutArgs {
    /// Members watching the thread, one WebSocket connection each.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Replies posted (each one event to every watcher).
    #[arg(long, default_value_t = 20)]
    pub replies: usize,
    /// Milliseconds between replies.
    #[arg(long, default_value_t = 500)]
    pub interval_ms: u64,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 200)]
    pub ramp: u64,
    /// Seconds to wait for the last frames after the last reply.
    #[arg(long, default_value_t = 5)]
    pub settle_secs: u64,
    /// Fail when the p99 (from each reply's answer) is above this.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
}

impl Default for FanoutArgs {
    fn default() -> Self {
        FanoutArgs {
            watchers: 1000,
            replies: 20,
            interval_ms: 500,
            ramp: 200,
            settle_secs: 5,
            max_p99_ms: None,
        }
    }
}

impl FanoutArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=20_000).contains(&self.watchers), "watchers: 1 to 20000");
        anyhow::ensure!((1..=1_000).contains(&self.replies), "replies: 1 to 1000");
        anyhow::ensure!((10..=60_000).contains(&self.interval_ms), "interval-ms: 10 to 60000");
        anyhow::ensure!(
            (1..=10_000).contains(&self.ramp),
            "ramp: 1 to 10000 connections per second"
        );
        anyhow::ensure!((1..=60).contains(&self.settle_secs), "settle-secs: 1 to 60");
        anyhow::ensure!(
            self.max_p99_ms.is_none_or(|m| m > 0.0 && m.is_finite()),
            "max-p99-ms: a positive number"
        );
        Ok(())
    }
}

/// Microseconds since the run's epoch.
fn us(epoch: Instant) -> i64 {
    epoch.elapsed().as_micros() as i64
}

/// Reads one watcher's connection until `stop`: the time each reply's
/// frame arrived, by post id.
async fn watch(mut ws: Ws, epoch: Instant, mut stop: tokio::sync::watch::Receiver<bool>) -> Vec<(String, i64)> {
    let mut got = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => {
                let at = us(epoch);
                let Some(Ok(m)) = m else { break };
                if let Message::Text(t) = m {
                    if let Ok(ServerFrame::Event(Event::ThreadUpdated { change, payload, .. })) = ServerFrame::parse(&t) {
                        if change == "reply" {
                            if let Some(id) = payload["id"].as_str() {
                                got.push((id.to_owned(), at));
                            }
                        }
                    }
                }
            }
        }
    }
    let _ = ws.close(None).await;
    got
}

pub async fn run(base: &str, a: &FanoutArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<report::Outcome> {
    let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    progress.set_message("asking the question");
    let (poster, _) = client::register(&http, base, "mentee", &format!("poster-{run}"), &run).await?;
    let cats: Value = http
        .get(format!("{base}/api/boards/categories"))
        .bearer_auth(&poster)
        .send()
        .await?
        .json()
        .await?;
    let category = cats["items"][0]["id"]
        .as_str()
        .context("no board category: an admin creates one first (scripts/bench-fanout.sh seeds one)")?
        .to_owned();
    let res = http
        .post(format!("{base}/api/boards/threads"))
        .bearer_auth(&poster)
        .json(
            &json!({"categoryId": category, "title": format!("Fan-out {run}: who is watching?"),
                      "body": "Every watcher of this thread is told of each reply.", "tags": ["loadtest"]}),
        )
        .send()
        .await?;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or_default();
    let thread: uuid::Uuid = v["thread"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("ask a question: {status} {v}"))?;

    let mut tokens = Vec::new();
    for chunk in (0..a.watchers).collect::<Vec<_>>().chunks(16) {
        let batch = futures_util::future::join_all(chunk.iter().map(|&i| {
            let (http, run) = (&http, &run);
            async move { client::register(http, base, "mentee", &format!("w{i}"), run).await }
        }))
        .await;
        for r in batch {
            tokens.push(r?.0);
        }
        progress.set_message(format!("signed up {}/{}", tokens.len(), a.watchers));
    }

    let epoch = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let gap = Duration::from_secs_f64(1.0 / a.ramp as f64);
    let mut readers = Vec::new();
    let mut connect_ms = Vec::new();
    let mut failed = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        let s = Instant::now();
        let watched = async {
            let mut ws = client::connect(base, t).await?;
            client::command(&mut ws, &Command::WatchThread { thread_id: thread }).await?;
            anyhow::Ok(ws)
        }
        .await;
        match watched {
            Ok(ws) => {
                connect_ms.push(s.elapsed().as_secs_f64() * 1000.0);
                readers.push(tokio::spawn(watch(ws, epoch, stop_rx.clone())));
            }
            Err(e) => {
                failed += 1;
                if failed == 1 {
                    eprintln!("a watcher failed to connect or watch: {e:#}");
                }
            }
        }
        if i % 50 == 49 {
            progress.set_message(format!("watching {}/{}", readers.len(), a.watchers));
        }
        tokio::time::sleep_until((s + gap).into()).await;
    }
    anyhow::ensure!(!readers.is_empty(), "no watcher connected");
    // Let the last watches settle before the first reply.
    tokio::time::sleep(Duration::from_millis(500)).await;

    progress.set_message(format!("posting {} replies", a.replies));
    // Post id → (sent, answered), microseconds since the epoch.
    let mut posted: HashMap<String, (i64, i64)> = HashMap::new();
    let mut post_ms = Vec::new();
    let mut post_failed = 0usize;
    let start = Instant::now();
    for n in 0..a.replies {
        tokio::time::sleep_until((start + Duration::from_millis(a.interval_ms * n as u64)).into()).await;
        let sent = us(epoch);
        let res = http
            .post(format!("{base}/api/boards/threads/{thread}/replies"))
            .bearer_auth(&poster)
            .json(&json!({"body": format!("Reply {n} of the fan-out run {run}.")}))
            .send()
            .await;
        let v: Option<Value> = match res {
            Ok(r) if r.status().as_u16() == 201 => r.json().await.ok(),
            Ok(r) => {
                eprintln!("reply {n}: {}", r.status());
                None
            }
            Err(e) => {
                eprintln!("reply {n}: {e}");
                None
            }
        };
        let answered = us(epoch);
        match v.as_ref().and_then(|v| v["id"].as_str()) {
            Some(id) => {
                post_ms.push((answered - sent) as f64 / 1000.0);
                posted.insert(id.to_owned(), (sent, answered));
            }
            None => post_failed += 1,
        }
    }
    progress.set_message("waiting for the last frames");
    tokio::time::sleep(Duration::from_secs(a.settle_secs)).await;
    let _ = stop_tx.send(true);

    let (mut from_answer, mut from_send) = (Samples::default(), Samples::default());
    let mut per_reply: HashMap<String, Vec<f64>> = HashMap::new();
    let mut before_answer = 0usize;
    let mut delivered = 0usize;
    let connected = readers.len();
    for r in readers {
        for (id, at) in r.await.unwrap_or_default() {
            let Some((sent, answered)) = posted.get(&id) else {
                continue;
            };
            delivered += 1;
            let second = ((sent - posted.values().map(|p| p.0).min().unwrap_or(0)) / 1_000_000) as u64;
            let ms = (at - answered) as f64 / 1000.0;
            if ms < 0.0 {
                before_answer += 1;
            }
            from_answer.push(second, ms);
            from_send.push(second, (at - sent) as f64 / 1000.0);
            per_reply.entry(id).or_default().push((at - answered) as f64 / 1000.0);
        }
    }
    let expected = posted.len() * connected;
    let lost = expected.saturating_sub(delivered);
    // The time for one reply to reach its last watcher, from its answer.
    let mut last_ms: Vec<f64> = per_reply
        .values()
        .map(|v| v.iter().copied().fold(f64::MIN, f64::max))
        .collect();
    let a_p = from_answer.summary();
    let s_p = from_send.summary();
    let c_p = report::percentiles(&mut connect_ms);
    let p_p = report::percentiles(&mut post_ms);
    let l_p = report::percentiles(&mut last_ms);
    let over = a.max_p99_ms.is_some_and(|m| a_p.p99 > m);
    let ok = lost == 0 && failed == 0 && post_failed == 0 && !over;
    let mut rows = vec![
        (
            "offered".to_owned(),
            format!(
                "{} replies, one every {} ms, to {} watchers of one thread ({} failed to watch)",
                a.replies, a.interval_ms, connected, failed
            ),
        ),
        (
            "delivered".to_owned(),
            format!("{delivered} of {expected} frames, {lost} lost; {post_failed} replies refused"),
        ),
        (
            "from the 201".to_owned(),
            format!(
                "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({before_answer} frames before the answer)",
                a_p.p50, a_p.p90, a_p.p99, a_p.max
            ),
        ),
        (
            "from the send".to_owned(),
            format!(
                "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                s_p.p50, s_p.p90, s_p.p99, s_p.max
            ),
        ),
        (
            "last watcher".to_owned(),
            format!("per reply, from the 201: p50 {:.2} ms  max {:.2} ms", l_p.p50, l_p.max),
        ),
        (
            "reply POST".to_owned(),
            format!("p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms", p_p.p50, p_p.p99, p_p.max),
        ),
        (
            "watch".to_owned(),
            format!(
                "connect + watch_thread ack p50 {:.2} ms  p99 {:.2} ms",
                c_p.p50, c_p.p99
            ),
        ),
    ];
    if let Some(m) = a.max_p99_ms {
        rows.push((
            "p99 limit".to_owned(),
            format!("{m} ms: {}", if over { "FAILED" } else { "within it" }),
        ));
    }
    let json = json!({
        "scenario": "board-fanout",
        "watchers": connected, "watchFailed": failed, "replies": a.replies, "intervalMs": a.interval_ms,
        "repliesRefused": post_failed, "expected": expected, "delivered": delivered, "lost": lost,
        "framesBeforeAnswer": before_answer,
        "latencyFromAnswerMs": a_p, "latencyFromSendMs": s_p, "lastWatcherMs": l_p,
        "replyPostMs": p_p, "watchMs": c_p, "maxP99Ms": a.max_p99_ms, "ok": ok,
    });
    Ok(report::Outcome {
        json,
        table: report::table("board-fanout", &rows),
        timeline: from_answer.timeline(),
        ok,
    })
}
