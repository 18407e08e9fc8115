//! The `chat` scenario: N mentees sign up, connect, join M group rooms and a
//! subset sends at a fixed total rate for a fixed time. Every message
//! carries its send time; every member records the latency of each
//! delivery. Lost = deliveries expected from acked sends but never seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::report::{self, Samples};

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ChatArgs {
    /// Simulated mentees (each one WebSocket connection).
    #[arg(long, default_value_t = 100)]
    pub mentees: usize,
    /// Group rooms; every mentee joins all of them.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// How many of the mentees send.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 50)]
    pub rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 200)]
    pub ramp: u64,
    /// The server's pid, to report its memory per connection.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

impl Default for ChatArgs {
    fn default() -> Self {
        ChatArgs { mentees: 100, rooms: 1, senders: 4, rate: 50, duration: 10, ramp: 200, server_pid: None }
    }
}

impl ChatArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=20_000).contains(&self.mentees), "mentees: 1 to 20000");
        anyhow::ensure!((1..=50).contains(&self.rooms), "rooms: 1 to 50");
        anyhow::ensure!(self.senders >= 1 && self.senders <= self.mentees, "senders: 1 to mentees");
        anyhow::ensure!((1..=100_000).contains(&self.rate), "rate: 1 to 100000 per second");
        anyhow::ensure!((1..=600).contains(&self.duration), "duration: 1 to 600 seconds");
        anyhow::ensure!((1..=10_000).contains(&self.ramp), "ramp: 1 to 10000 connections per second");
        Ok(())
    }
}

pub type ChatReport = report::Outcome;

pub async fn run(base: &str, a: &ChatArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<ChatReport> {
    let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let http = reqwest::Client::new();
    progress.set_message("signing up");
    let (owner, _) = client::register(&http, base, "mentor", &format!("host-{run}"), &run).await?;
    let mut rooms = Vec::new();
    for r in 0..a.rooms {
        let v: Value = http
            .post(format!("{base}/api/rooms"))
            .bearer_auth(&owner)
            .json(&json!({"name": format!("loadtest {r}"), "visibility": "public"}))
            .send()
            .await?
            .json()
            .await?;
        rooms.push(v["id"].as_str().ok_or_else(|| anyhow::anyhow!("create room: {v}"))?.to_owned());
    }
    let mut tokens = Vec::new();
    for chunk in (0..a.mentees).collect::<Vec<_>>().chunks(32) {
        let batch = futures_util::future::join_all(chunk.iter().map(|i| {
            let (http, run, name) = (&http, &run, format!("m{i}"));
            async move { client::register(http, base, "mentee", &name, run).await }
        })).await;
        for r in batch {
            let (t, _) = r?;
            for room in &rooms {
                http.post(format!("{base}/api/rooms/{room}/join")).bearer_auth(&t).send().await?;
            }
            tokens.push(t);
        }
        progress.set_message(format!("signed up {}/{}", tokens.len(), a.mentees));
    }

    let rss_before = a.server_pid.and_then(client::rss_kib);
    progress.set_message("connecting");
    let mut sockets: Vec<Ws> = Vec::new();
    let mut connect_ms = Vec::new();
    let mut failed = 0;
    let gap = Duration::from_secs_f64(1.0 / a.ramp as f64);
    for t in &tokens {
        let s = Instant::now();
        match client::connect(base, t).await {
            Ok(mut ws) => {
                let mut ok = true;
                for room in &rooms {
                    ok &= client::command(&mut ws, json!({"type": "subscribe", "roomId": room})).await.is_ok();
                }
                if ok {
                    connect_ms.push(s.elapsed().as_secs_f64() * 1000.0);
                    sockets.push(ws);
                } else {
                    failed += 1;
                }
            }
            Err(_) => failed += 1,
        }
        progress.set_message(format!("connected {}/{}", sockets.len(), a.mentees));
        tokio::time::sleep(gap.saturating_sub(s.elapsed())).await;
    }
    let rss_after = a.server_pid.and_then(client::rss_kib);
    let connected = sockets.len();

    let epoch = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let (sink, mut stream) = ws.split();
        let delivered = delivered.clone();
        let is_sender = i < a.senders;
        let (ack_tx, ack_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
        receivers.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut errors: HashMap<String, u64> = HashMap::new();
            loop {
                match tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                        match v["type"].as_str() {
                            Some("message") => {
                                if let Some(sent) = v["body"].as_str().and_then(|b| b.rsplit(':').next()).and_then(|s| s.parse::<u64>().ok()) {
                                    let now = epoch.elapsed().as_micros() as u64;
                                    samples.push(now / 1_000_000, now.saturating_sub(sent) as f64 / 1000.0);
                                    delivered.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Some("ack") if is_sender => {
                                let _ = ack_tx.send(v);
                            }
                            Some("error") => *errors.entry(v["code"].as_str().unwrap_or("?").to_owned()).or_default() += 1,
                            _ => {}
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(_) => break,
                    Err(_) => break,
                }
            }
            (samples, errors)
        }));
        if is_sender {
            senders.push((sink, ack_rx));
        }
    }

    progress.set_message("sending");
    let total = a.rate * a.duration;
    let per_sender = total / a.senders as u64;
    let interval = Duration::from_secs_f64(a.senders as f64 / a.rate as f64);
    let members = connected as u64;
    let mut send_tasks = Vec::new();
    for (s, (mut sink, mut acks)) in senders.into_iter().enumerate() {
        let rooms = rooms.clone();
        send_tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut sent = 0u64;
            for n in 0..per_sender {
                tick.tick().await;
                let room = &rooms[(n as usize) % rooms.len()];
                let body = format!("{s}-{n}:{}", epoch.elapsed().as_micros());
                let frame = json!({"type": "send", "roomId": room, "clientMsgId": format!("{s}-{n}"), "body": body});
                if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
                sent += 1;
            }
            // Count what the server acknowledged (committed).
            let mut acked = 0u64;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while acked < sent {
                match tokio::time::timeout_at(deadline, acks.recv()).await {
                    Ok(Some(v)) if v["seq"].is_i64() => acked += 1,
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            (sent, acked)
        }));
    }
    let ticker = {
        let delivered = delivered.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                progress.set_message(format!("sending: {} deliveries, {:.0} s", delivered.load(Ordering::Relaxed), epoch.elapsed().as_secs_f64()));
            }
        })
    };
    let (mut sent, mut acked) = (0, 0);
    for t in send_tasks {
        let (s, k) = t.await?;
        sent += s;
        acked += k;
    }
    let send_time = epoch.elapsed().as_secs_f64();
    progress.set_message("draining");
    let mut samples = Samples::default();
    let mut errors: HashMap<String, u64> = HashMap::new();
    for r in receivers {
        let (s, e) = r.await?;
        samples.extend(s);
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    ticker.abort();
    // Every acked message goes to every connected member of its room.
    let expected = acked * members;
    let got = samples.values.len() as u64;
    let lost = expected.saturating_sub(got);
    let lat = samples.summary();
    let conn = report::percentiles(&mut connect_ms);
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) if connected > 0 => Some((a.saturating_sub(b)) as f64 / connected as f64),
        _ => None,
    };
    let json = json!({
        "scenario": "chat",
        "connections": {"ok": connected, "failed": failed, "connectMs": conn},
        "messages": {"sent": sent, "acked": acked, "senders": a.senders, "rooms": a.rooms},
        "deliveries": {"expected": expected, "received": got, "lost": lost, "perSecond": got as f64 / send_time},
        "latencyMs": lat,
        "errors": errors,
        "serverKiBPerConnection": per_conn,
    });
    let table = report::table(
        "chat",
        &[
            ("connections".into(), format!("{connected} ok, {failed} failed; connect p50 {:.1} ms, p99 {:.1} ms", conn.p50, conn.p99)),
            ("messages".into(), format!("{sent} sent, {acked} acked by {} senders into {} rooms", a.senders, a.rooms)),
            ("deliveries".into(), format!("{got} of {expected} ({:.0}/s)", got as f64 / send_time)),
            ("lost".into(), lost.to_string()),
            ("latency".into(), format!("p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms", lat.p50, lat.p95, lat.p99, lat.max)),
            ("errors".into(), if errors.is_empty() { "none".into() } else { format!("{errors:?}") }),
            ("server memory".into(), per_conn.map(|k| format!("{k:.1} KiB per connection")).unwrap_or_else(|| "(pass --server-pid)".into())),
        ],
    );
    let ok = lost == 0 && failed == 0 && acked == sent && sent > 0;
    Ok(ChatReport { json, table, timeline: samples.timeline(), ok })
}
