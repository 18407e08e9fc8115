//! The `chat` scenario: N mentees sign up, connect, join group rooms and a
//! subset sends at a fixed total rate for a fixed time. Either every mentee
//! joins every one of `--rooms` rooms, or (`--room-size K`) the mentees are
//! spread over rooms of K members each, the way a large deployment looks.
//! Every message carries its send time; every member records the latency of
//! each delivery. Lost = deliveries expected from acked sends but never seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lyceum_protocol::frames::{command_frame, Command, ServerFrame};
use lyceum_protocol::RoomId;
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
    /// Group rooms; every mentee joins all of them (ignored with --room-size).
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Spread the mentees over rooms of this many members each (every
    /// mentee in one room; senders spread over the rooms). 0: every mentee
    /// joins all `--rooms`.
    #[arg(long, default_value_t = 0)]
    pub room_size: usize,
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
        ChatArgs {
            mentees: 100,
            rooms: 1,
            room_size: 0,
            senders: 4,
            rate: 50,
            duration: 10,
            ramp: 200,
            server_pid: None,
        }
    }
}

impl ChatArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=50_000).contains(&self.mentees), "mentees: 1 to 50000");
        anyhow::ensure!((1..=50).contains(&self.rooms), "rooms: 1 to 50");
        anyhow::ensure!(
            self.room_size == 0 || (2..=10_000).contains(&self.room_size),
            "room-size: 0 or 2 to 10000"
        );
        anyhow::ensure!(
            self.senders >= 1 && self.senders <= self.mentees,
            "senders: 1 to mentees"
        );
        anyhow::ensure!(
            self.room_size == 0 || self.senders >= self.room_count(),
            "senders: at least one per room ({} rooms of {})",
            self.room_count(),
            self.room_size
        );
        anyhow::ensure!((1..=100_000).contains(&self.rate), "rate: 1 to 100000 per second");
        anyhow::ensure!((1..=600).contains(&self.duration), "duration: 1 to 600 seconds");
        anyhow::ensure!(
            (1..=10_000).contains(&self.ramp),
            "ramp: 1 to 10000 connections per second"
        );
        Ok(())
    }

    fn room_count(&self) -> usize {
        if self.room_size == 0 {
            self.rooms
        } else {
            self.mentees.div_ceil(self.room_size)
        }
    }

    /// The rooms (indices) mentee `i` is a member of.
    fn rooms_of(&self, i: usize) -> Vec<usize> {
        match i.checked_div(self.room_size) {
            Some(r) => vec![r],
            None => (0..self.rooms).collect(),
        }
    }
}

pub type ChatReport = report::Outcome;

pub async fn run(base: &str, a: &ChatArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<ChatReport> {
    let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let http = reqwest::Client::new();
    progress.set_message("signing up");
    let (owner, _) = client::register(&http, base, "mentor", &format!("host-{run}"), &run).await?;
    let mut rooms = Vec::new();
    for r in 0..a.room_count() {
        let v: Value = http
            .post(format!("{base}/api/rooms"))
            .bearer_auth(&owner)
            .json(&json!({"name": format!("loadtest {r}"), "visibility": "public"}))
            .send()
            .await?
            .json()
            .await?;
        rooms.push(
            v["id"]
                .as_str()
                .and_then(|s| s.parse::<RoomId>().ok())
                .ok_or_else(|| anyhow::anyhow!("create room: {v}"))?,
        );
    }
    let mut tokens = Vec::new();
    for chunk in (0..a.mentees).collect::<Vec<_>>().chunks(32) {
        let batch = futures_util::future::join_all(chunk.iter().map(|&i| {
            let (http, run, name, rooms) = (&http, &run, format!("m{i}"), &rooms);
            async move {
                let (t, _) = client::register(http, base, "mentee", &name, run).await?;
                for r in a.rooms_of(i) {
                    let res = http
                        .post(format!("{base}/api/rooms/{}/join", rooms[r]))
                        .bearer_auth(&t)
                        .send()
                        .await?;
                    anyhow::ensure!(res.status().is_success(), "join room: {}", res.status());
                }
                anyhow::Ok(t)
            }
        }))
        .await;
        for r in batch {
            tokens.push(r?);
        }
        progress.set_message(format!("signed up {}/{}", tokens.len(), a.mentees));
    }

    let rss_before = a.server_pid.and_then(client::rss_kib);
    progress.set_message("connecting");
    // Stamps in messages are microseconds since `epoch`; the timeline counts
    // seconds since sending began (`t0`, set then).
    let epoch = Instant::now();
    let t0 = Arc::new(AtomicU64::new(u64::MAX));
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Senders: with --room-size, the first members of each room in turn (so
    // every room has as many senders as the others, give or take one);
    // otherwise the first `senders` mentees, each sending to every room in turn.
    let sender_ids: std::collections::HashSet<usize> = if a.room_size == 0 {
        (0..a.senders).collect()
    } else {
        (0..a.senders)
            .map(|k| (k % rooms.len()) * a.room_size + k / rooms.len())
            .filter(|&i| i < a.mentees)
            .collect()
    };
    // members[r] counts the connected members of room r. Every connection is
    // read from the moment it is up, as a real client's would be.
    let mut members = vec![0u64; rooms.len()];
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    let mut connect_ms = Vec::new();
    let mut failed = 0;
    let gap = Duration::from_secs_f64(1.0 / a.ramp as f64);
    for (i, t) in tokens.iter().enumerate() {
        let s = Instant::now();
        match client::connect(base, t).await {
            Ok(mut ws) => {
                let mut ok = true;
                for r in a.rooms_of(i) {
                    let subscribe = Command::Subscribe {
                        room_id: rooms[r],
                        after_seq: None,
                    };
                    ok &= client::command(&mut ws, &subscribe).await.is_ok();
                }
                if ok {
                    connect_ms.push(s.elapsed().as_secs_f64() * 1000.0);
                    for r in a.rooms_of(i) {
                        members[r] += 1;
                    }
                    let (sink, stream) = ws.split();
                    let (ack_tx, ack_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
                    let ack_tx = sender_ids.contains(&i).then_some(ack_tx);
                    if ack_tx.is_some() {
                        senders.push((a.rooms_of(i), sink, ack_rx));
                    }
                    let reader = Reader {
                        epoch,
                        t0: t0.clone(),
                        delivered: delivered.clone(),
                        ack_tx,
                        stop: stop_rx.clone(),
                    };
                    receivers.push(tokio::spawn(reader.run(stream)));
                } else {
                    failed += 1;
                }
            }
            Err(_) => failed += 1,
        }
        progress.set_message(format!("connected {}/{}", receivers.len(), a.mentees));
        tokio::time::sleep(gap.saturating_sub(s.elapsed())).await;
    }
    let rss_after = a.server_pid.and_then(client::rss_kib);
    let connected = receivers.len();
    t0.store(epoch.elapsed().as_micros() as u64, Ordering::Relaxed);

    progress.set_message("sending");
    let n_senders = senders.len().max(1) as u64;
    let total = a.rate * a.duration;
    let per_sender = total / n_senders;
    let interval = Duration::from_secs_f64(n_senders as f64 / a.rate as f64);
    let mut send_tasks = Vec::new();
    for (s, (my_rooms, mut sink, mut acks)) in senders.into_iter().enumerate() {
        let rooms: Vec<RoomId> = my_rooms.iter().map(|&r| rooms[r]).collect();
        let first_tick = tokio::time::Instant::now() + interval.mul_f64(s as f64 / n_senders as f64);
        send_tasks.push(tokio::spawn(async move {
            // Senders start staggered over one interval, not all at once.
            let mut tick = tokio::time::interval_at(first_tick, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut sent = 0u64;
            for n in 0..per_sender {
                tick.tick().await;
                let body = format!("{s}-{n}:{}", epoch.elapsed().as_micros());
                let send = Command::Send {
                    room_id: rooms[(n as usize) % rooms.len()],
                    client_msg_id: Some(format!("{s}-{n}")),
                    body: Some(body),
                    ciphertext: None,
                    attachments: Vec::new(),
                };
                // No id: the acks are counted by room, not matched one by one.
                if sink
                    .send(Message::Text(command_frame(None, &send).into()))
                    .await
                    .is_err()
                {
                    break;
                }
                sent += 1;
            }
            // Count what the server acknowledged (committed), per room.
            let mut acked = 0u64;
            let mut acked_in: HashMap<RoomId, u64> = HashMap::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while acked < sent {
                match tokio::time::timeout_at(deadline, acks.recv()).await {
                    Ok(Some(v)) if v["seq"].is_i64() => {
                        acked += 1;
                        if let Ok(room) = serde_json::from_value::<RoomId>(v["roomId"].clone()) {
                            *acked_in.entry(room).or_default() += 1;
                        }
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            (sent, acked, acked_in)
        }));
    }
    let ticker = {
        let delivered = delivered.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                progress.set_message(format!(
                    "sending: {} deliveries, {:.0} s",
                    delivered.load(Ordering::Relaxed),
                    epoch.elapsed().as_secs_f64()
                ));
            }
        })
    };
    let (mut sent, mut acked, mut expected) = (0, 0, 0u64);
    for t in send_tasks {
        let (s, k, per_room) = t.await?;
        sent += s;
        acked += k;
        for (room, n) in per_room {
            // Every acked message goes to every connected member of its room.
            if let Some(r) = rooms.iter().position(|x| *x == room) {
                expected += n * members[r];
            }
        }
    }
    let send_time = (epoch.elapsed().as_micros() as u64 - t0.load(Ordering::Relaxed)) as f64 / 1e6;
    // Wait until every expected delivery arrived, or none arrived for 3 s.
    progress.set_message("draining");
    let mut last = (delivered.load(Ordering::Relaxed), Instant::now());
    while delivered.load(Ordering::Relaxed) < expected && last.1.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = delivered.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let _ = stop_tx.send(true);
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
    let got = samples.values.len() as u64;
    let lost = expected.saturating_sub(got);
    let lat = samples.summary();
    let conn = report::percentiles(&mut connect_ms);
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) if connected > 0 => Some((a.saturating_sub(b)) as f64 / connected as f64),
        _ => None,
    };
    let closed: u64 = errors
        .iter()
        .filter(|(k, _)| k.starts_with("closed"))
        .map(|(_, v)| v)
        .sum();
    let json = json!({
        "scenario": "chat",
        "connections": {"ok": connected, "failed": failed, "connectMs": conn},
        "messages": {"sent": sent, "acked": acked, "senders": n_senders, "rooms": rooms.len(), "roomSize": a.room_size},
        "deliveries": {"expected": expected, "received": got, "lost": lost, "perSecond": got as f64 / send_time},
        "latencyMs": lat,
        "errors": errors,
        "serverKiBPerConnection": per_conn,
    });
    let table = report::table(
        "chat",
        &[
            (
                "connections".into(),
                format!(
                    "{connected} ok, {failed} failed; connect p50 {:.1} ms, p99 {:.1} ms",
                    conn.p50, conn.p99
                ),
            ),
            (
                "messages".into(),
                format!(
                    "{sent} sent, {acked} acked by {n_senders} senders into {} rooms",
                    rooms.len()
                ),
            ),
            (
                "deliveries".into(),
                format!("{got} of {expected} ({:.0}/s)", got as f64 / send_time),
            ),
            ("lost".into(), lost.to_string()),
            (
                "latency".into(),
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    lat.p50, lat.p95, lat.p99, lat.max
                ),
            ),
            (
                "errors".into(),
                if errors.is_empty() {
                    "none".into()
                } else {
                    format!("{errors:?}")
                },
            ),
            (
                "server memory".into(),
                per_conn
                    .map(|k| format!("{k:.1} KiB per connection"))
                    .unwrap_or_else(|| "(pass --server-pid)".into()),
            ),
        ],
    );
    let ok = lost == 0 && failed == 0 && closed == 0 && acked == sent && sent > 0;
    Ok(ChatReport {
        json,
        table,
        timeline: samples.timeline(),
        ok,
    })
}

/// Reads one member's connection until told to stop: records the latency of
/// every stamped message, hands acks to its sender, counts error codes and
/// the server's close codes.
struct Reader {
    epoch: Instant,
    t0: Arc<AtomicU64>,
    delivered: Arc<AtomicU64>,
    ack_tx: Option<tokio::sync::mpsc::UnboundedSender<Value>>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Reader {
    async fn run(mut self, mut stream: futures_util::stream::SplitStream<Ws>) -> (Samples, HashMap<String, u64>) {
        let mut samples = Samples::default();
        let mut errors: HashMap<String, u64> = HashMap::new();
        loop {
            let m = tokio::select! {
                m = stream.next() => m,
                _ = self.stop.wait_for(|s| *s) => break,
            };
            match m {
                Some(Ok(Message::Text(t))) => {
                    let Ok(frame) = ServerFrame::parse(&t) else {
                        continue;
                    };
                    match frame {
                        ServerFrame::Message(v) => {
                            if let Some(sent) = v["body"]
                                .as_str()
                                .and_then(|b| b.rsplit(':').next())
                                .and_then(|s| s.parse::<u64>().ok())
                            {
                                let now = self.epoch.elapsed().as_micros() as u64;
                                let since_start = now.saturating_sub(self.t0.load(Ordering::Relaxed));
                                samples.push(since_start / 1_000_000, now.saturating_sub(sent) as f64 / 1000.0);
                                self.delivered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        ServerFrame::Ack { data, .. } => {
                            if let Some(tx) = &self.ack_tx {
                                let _ = tx.send(data);
                            }
                        }
                        ServerFrame::Error { code, .. } => *errors.entry(code).or_default() += 1,
                        ServerFrame::Event(_) | ServerFrame::Other(_) => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame
                        .map(|f| u16::from(f.code).to_string())
                        .unwrap_or_else(|| "none".into());
                    *errors.entry(format!("closed {code}")).or_default() += 1;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    *errors.entry("closed without a close frame".into()).or_default() += 1;
                    break;
                }
            }
        }
        (samples, errors)
    }
}
