//! The `faults` scenario: a chat load that outlives faults injected from
//! outside (scripts/faults.sh kills the server or stops its Postgres while it
//! runs) and then checks that nothing acknowledged was lost.
//!
//! Mentees are spread over rooms of `--room-size`; `--senders` of them send
//! with a `clientMsgId` each, and keep every unacknowledged message to send
//! again (sends are idempotent) until it is acked. Every member reconnects
//! when its connection drops and resumes with `afterSeq` = the last seq it
//! saw, and checks that the seqs it receives have no gap and no repeat. A
//! prober reads a room's history over HTTP every `--probe-ms` and records
//! each answer and how long it took. At the end every room's history is read
//! back: its seqs must run 1..N with no gap, every acked message must be in it
//! under its seq, and no `clientMsgId` may appear twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lyceum_protocol::frames::{command_frame, Command, ServerFrame};
use lyceum_protocol::RoomId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::client;
use crate::report;

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct FaultsArgs {
    /// Simulated mentees (each one WebSocket connection).
    #[arg(long, default_value_t = 1000)]
    pub mentees: usize,
    /// Members per room.
    #[arg(long, default_value_t = 50)]
    pub room_size: usize,
    /// How many of the mentees send (spread over the rooms).
    #[arg(long, default_value_t = 40)]
    pub senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 100)]
    pub rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 40)]
    pub duration: u64,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 200)]
    pub ramp: u64,
    /// Milliseconds between two HTTP probes.
    #[arg(long, default_value_t = 100)]
    pub probe_ms: u64,
    /// Seconds after the sending ends that unacknowledged messages and
    /// lagging members are waited for.
    #[arg(long, default_value_t = 60)]
    pub settle: u64,
    /// Created (empty) when sending begins, for a script to time its faults.
    #[arg(long)]
    pub ready_file: Option<std::path::PathBuf>,
    /// Fail the run if a probe answered with a refusal (anything but 200)
    /// after longer than this many milliseconds, or not at all within 30 s
    /// (0: report only).
    #[arg(long, default_value_t = 5000)]
    pub max_probe_ms: u64,
}

impl Default for FaultsArgs {
    fn default() -> Self {
        FaultsArgs {
            mentees: 1000,
            room_size: 50,
            senders: 40,
            rate: 100,
            duration: 40,
            ramp: 200,
            probe_ms: 100,
            settle: 60,
            ready_file: None,
            max_probe_ms: 5000,
        }
    }
}

impl FaultsArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((2..=50_000).contains(&self.mentees), "mentees: 2 to 50000");
        anyhow::ensure!((2..=10_000).contains(&self.room_size), "room-size: 2 to 10000");
        let rooms = self.mentees.div_ceil(self.room_size);
        anyhow::ensure!(
            self.senders >= rooms && self.senders <= self.mentees,
            "senders: at least one per room ({rooms}) and at most mentees"
        );
        anyhow::ensure!((1..=100_000).contains(&self.rate), "rate: 1 to 100000 per second");
        anyhow::ensure!((1..=600).contains(&self.duration), "duration: 1 to 600 seconds");
        anyhow::ensure!((1..=10_000).contains(&self.ramp), "ramp: 1 to 10000 per second");
        anyhow::ensure!((10..=10_000).contains(&self.probe_ms), "probe-ms: 10 to 10000");
        anyhow::ensure!((1..=600).contains(&self.settle), "settle: 1 to 600 seconds");
        Ok(())
    }
}

/// A sender's messages go out at this interval until `count` were sent.
struct Sending {
    index: usize,
    count: u64,
    interval: Duration,
}

/// What one member saw.
#[derive(Default)]
struct MemberReport {
    /// (seq, clientMsgId) of this member's acknowledged sends.
    acked: Vec<(i64, String)>,
    sent: u64,
    unacked: u64,
    /// Seqs that never arrived between two that did, and repeats.
    gaps: u64,
    repeats: u64,
    reconnects: u64,
    /// The longest time without a working subscription after a drop, ms.
    longest_down_ms: f64,
    /// Error codes answered to commands, and how connections ended.
    errors: HashMap<String, u64>,
    closes: HashMap<String, u64>,
    gave_up: bool,
}

struct Shared {
    base: String,
    epoch: Instant,
    stop: AtomicBool,
    /// The highest acked seq per room (index), to know when members caught up.
    room_acked: Vec<AtomicI64>,
}

pub async fn run(base: &str, a: &FaultsArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<report::Outcome> {
    let run = format!("f{:x}", chrono::Utc::now().timestamp_millis());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    progress.set_message("signing up");
    let (owner, _) = client::register(&http, base, "mentor", &format!("host-{run}"), &run).await?;
    let room_count = a.mentees.div_ceil(a.room_size);
    let mut rooms = Vec::new();
    for r in 0..room_count {
        let v: Value = http
            .post(format!("{base}/api/rooms"))
            .bearer_auth(&owner)
            .json(&json!({"name": format!("faults {r}"), "visibility": "public"}))
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
            let (http, run, rooms) = (&http, &run, &rooms);
            async move {
                let (t, _) = client::register(http, base, "mentee", &format!("m{i}"), run).await?;
                let res = http
                    .post(format!("{base}/api/rooms/{}/join", rooms[i / a.room_size]))
                    .bearer_auth(&t)
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success(), "join room: {}", res.status());
                anyhow::Ok(t)
            }
        }))
        .await;
        for r in batch {
            tokens.push(r?);
        }
        progress.set_message(format!("signed up {}/{}", tokens.len(), a.mentees));
    }

    let shared = Arc::new(Shared {
        base: base.to_owned(),
        epoch: Instant::now(),
        stop: AtomicBool::new(false),
        room_acked: (0..room_count).map(|_| AtomicI64::new(0)).collect(),
    });
    // Senders: the first members of each room in turn.
    let sender_of: HashMap<usize, usize> = (0..a.senders)
        .map(|k| ((k % room_count) * a.room_size + k / room_count, k))
        .filter(|(i, _)| *i < a.mentees)
        .collect();
    let n_senders = sender_of.len().max(1) as u64;
    let per_sender = a.rate * a.duration / n_senders;
    let interval = Duration::from_secs_f64(n_senders as f64 / a.rate as f64);
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut members = Vec::new();
    let mut seen = Vec::new();
    let gap = Duration::from_secs_f64(1.0 / a.ramp as f64);
    progress.set_message("connecting");
    for (i, t) in tokens.into_iter().enumerate() {
        let last = Arc::new(AtomicI64::new(0));
        seen.push((i / a.room_size, last.clone()));
        let sending = sender_of.get(&i).map(|&k| Sending {
            index: k,
            count: per_sender,
            interval,
        });
        let member = member(
            shared.clone(),
            t,
            rooms[i / a.room_size],
            i / a.room_size,
            sending,
            last,
            go_rx.clone(),
        );
        members.push(tokio::spawn(member));
        tokio::time::sleep(gap).await;
        progress.set_message(format!("connecting {}/{}", i + 1, a.mentees));
    }
    // Give the last connections a moment to subscribe.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let probe = tokio::spawn(prober(
        shared.clone(),
        http.clone(),
        owner.clone(),
        rooms[0],
        Duration::from_millis(a.probe_ms),
    ));
    let t0 = shared.epoch.elapsed();
    let _ = go_tx.send(true);
    if let Some(f) = &a.ready_file {
        std::fs::write(f, b"")?;
    }
    progress.set_message("sending (inject faults now)");
    // Sending, then settling: every sender done and every member caught up
    // with its room, or the settle time is over.
    let deadline = Instant::now() + Duration::from_secs(a.duration + a.settle);
    tokio::time::sleep(Duration::from_secs(a.duration)).await;
    let settled = loop {
        let senders_done = SENDERS_LEFT.load(Ordering::Relaxed) == 0;
        let caught_up = seen
            .iter()
            .all(|(r, last)| last.load(Ordering::Relaxed) >= shared.room_acked[*r].load(Ordering::Relaxed));
        if senders_done && caught_up {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        progress.set_message("settling");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let senders_left = SENDERS_LEFT.load(Ordering::Relaxed);
    let send_secs = (shared.epoch.elapsed() - t0).as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    let mut reports = Vec::new();
    for m in members {
        reports.push(m.await?);
    }
    let probes = probe.await?;

    progress.set_message("reading history back");
    let mut acked_by_room: Vec<BTreeMap<i64, String>> = vec![BTreeMap::new(); room_count];
    for (i, r) in reports.iter().enumerate() {
        for (seq, id) in &r.acked {
            acked_by_room[i / a.room_size].insert(*seq, id.clone());
        }
    }
    let (mut stored, mut history_gaps, mut lost, mut wrong, mut duplicates) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_stored = vec![0i64; room_count];
    for (r, room) in rooms.iter().enumerate() {
        let history = read_history(&http, base, &owner, *room).await?;
        stored += history.len() as u64;
        last_stored[r] = history.last().map_or(0, |(s, _)| *s);
        let mut expect = 1;
        let mut ids = HashSet::new();
        for (seq, id) in &history {
            history_gaps += (*seq - expect).max(0) as u64;
            expect = seq + 1;
            if let Some(id) = id {
                if !ids.insert(id.clone()) {
                    duplicates += 1;
                }
            }
        }
        let by_seq: HashMap<i64, &Option<String>> = history.iter().map(|(s, id)| (*s, id)).collect();
        for (seq, id) in &acked_by_room[r] {
            match by_seq.get(seq) {
                None => lost += 1,
                Some(Some(stored_id)) if stored_id == id => {}
                Some(_) => wrong += 1,
            }
        }
    }

    // Members that did not receive their room's last message by the end.
    let behind = seen
        .iter()
        .filter(|(r, last)| last.load(Ordering::Relaxed) < last_stored[*r])
        .count() as u64;
    let sum = |f: &dyn Fn(&MemberReport) -> u64| reports.iter().map(f).sum::<u64>();
    let sent = sum(&|r| r.sent);
    let acked = sum(&|r| r.acked.len() as u64);
    let unacked = sum(&|r| r.unacked);
    let member_gaps = sum(&|r| r.gaps);
    let repeats = sum(&|r| r.repeats);
    let reconnects = sum(&|r| r.reconnects);
    let gave_up = reports.iter().filter(|r| r.gave_up).count();
    let longest_down = reports.iter().map(|r| r.longest_down_ms).fold(0.0, f64::max);
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut closes: HashMap<String, u64> = HashMap::new();
    for r in &reports {
        for (k, v) in &r.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.closes {
            *closes.entry(k.clone()).or_default() += v;
        }
    }
    let p = probes.summary();
    let json = json!({
        "scenario": "faults",
        "mentees": a.mentees, "rooms": room_count, "senders": n_senders,
        "seconds": send_secs,
        "settled": settled, "sendersLeftAtSettle": senders_left,
        "messages": {"sent": sent, "acked": acked, "unacked": unacked, "stored": stored},
        "check": {"lostAcked": lost, "wrongSeq": wrong, "historyGaps": history_gaps,
                  "duplicateClientMsgIds": duplicates, "memberGaps": member_gaps, "memberRepeats": repeats, "membersBehind": behind},
        "connections": {"reconnects": reconnects, "longestDownMs": longest_down, "gaveUp": gave_up, "closes": closes},
        "commandErrors": errors,
        "probes": p,
    });
    let table = report::table(
        "faults",
        &[
            (
                "load".into(),
                format!(
                    "{} mentees in {room_count} rooms, {n_senders} senders, {send_secs:.0} s",
                    a.mentees
                ),
            ),
            (
                "messages".into(),
                format!("{sent} sent, {acked} acked, {unacked} never acked, {stored} stored"),
            ),
            (
                "acked but lost".into(),
                format!("{lost} (and {wrong} under another seq)"),
            ),
            (
                "gaps".into(),
                format!(
                    "history {history_gaps}, members {member_gaps} (repeats {repeats}, {behind} behind at the end); \
                     duplicate clientMsgIds {duplicates}"
                ),
            ),
            (
                "connections".into(),
                format!(
                    "{reconnects} reconnects, longest down {:.0} ms, {gave_up} gave up; closes {closes:?}",
                    longest_down
                ),
            ),
            ("command errors".into(), format!("{errors:?}")),
            ("probes".into(), p["outcomes"].to_string()),
            (
                "probe latency".into(),
                format!(
                    "max {:.0} ms; slowest refusal {:.0} ms; failing windows {}; slowest {}",
                    p["maxMs"].as_f64().unwrap_or(0.0),
                    p["slowestRefusalMs"].as_f64().unwrap_or(0.0),
                    p["windows"],
                    p["slowest"]
                ),
            ),
        ],
    );
    let ok = lost == 0
        && wrong == 0
        && history_gaps == 0
        && duplicates == 0
        && member_gaps == 0
        && behind == 0
        && unacked == 0
        && gave_up == 0
        && sent > 0
        && (a.max_probe_ms == 0
            || (p["slowestRefusalMs"].as_f64().unwrap_or(f64::MAX) <= a.max_probe_ms as f64
                && p["outcomes"].get("timeout").is_none()));
    Ok(report::Outcome {
        json,
        table,
        timeline: Vec::new(),
        ok,
    })
}

/// Senders that still have messages to send or to see acked.
static SENDERS_LEFT: AtomicI64 = AtomicI64::new(0);

/// One member: connects, subscribes, reads; reconnects and resumes after any
/// drop; a sender also sends and re-sends until every message is acked.
async fn member(
    shared: Arc<Shared>,
    token: String,
    room: RoomId,
    room_idx: usize,
    sending: Option<Sending>,
    last_seen: Arc<AtomicI64>,
    go: tokio::sync::watch::Receiver<bool>,
) -> MemberReport {
    let mut rep = MemberReport::default();
    if sending.is_some() {
        SENDERS_LEFT.fetch_add(1, Ordering::Relaxed);
    }
    let mut sender_done = sending.is_none();
    let mut last: i64 = 0;
    // n -> when it may be sent (again); removed when acked.
    let mut pending: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut next_n = 0u64;
    let mut next_send = tokio::time::Instant::now();
    let mut down_since: Option<Instant> = None;
    let mut first = true;
    'connection: while !shared.stop.load(Ordering::Relaxed) {
        let mut ws = match client::connect(&shared.base, &token).await {
            Ok(ws) => ws,
            Err(_) => {
                down_since.get_or_insert_with(Instant::now);
                if down_since.is_some_and(|d| d.elapsed() > Duration::from_secs(120)) {
                    rep.gave_up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        if !first {
            rep.reconnects += 1;
        }
        first = false;
        let subscribe = Command::Subscribe {
            room_id: room,
            after_seq: Some(last),
        };
        if ws
            .send(Message::Text(command_frame(Some(json!("sub")), &subscribe).into()))
            .await
            .is_err()
        {
            continue;
        }
        let mut subscribed = false;
        let mut resubscribe_at: Option<Instant> = None;
        // Senders tick often (their pace); readers only to retry a subscribe.
        let every = if sending.is_some() { 50 } else { 250 };
        let mut tick = tokio::time::interval(Duration::from_millis(every));
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                let _ = ws.close(None).await;
                break 'connection;
            }
            tokio::select! {
                _ = tick.tick() => {
                    if resubscribe_at.is_some_and(|t| t <= Instant::now()) {
                        resubscribe_at = None;
                        if ws.send(Message::Text(command_frame(Some(json!("sub")), &subscribe_after(room, last)).into())).await.is_err() {
                            continue 'connection;
                        }
                    }
                    if !subscribed || !*go.borrow() {
                        continue;
                    }
                    let Some(s) = &sending else { continue };
                    // New messages at the sender's pace, then re-sends of what
                    // was refused or lost in a drop.
                    if next_n < s.count && tokio::time::Instant::now() >= next_send {
                        pending.insert(next_n, Instant::now());
                        next_n += 1;
                        rep.sent += 1;
                        next_send += s.interval;
                    }
                    // At most 32 a tick; the rest stay due for the next.
                    let due: Vec<u64> = pending
                        .iter()
                        .filter(|(_, t)| **t <= Instant::now())
                        .map(|(n, _)| *n)
                        .take(32)
                        .collect();
                    for n in due {
                        // Wait for an answer before sending it again.
                        pending.insert(n, Instant::now() + Duration::from_secs(10));
                        let send = Command::Send {
                            room_id: room,
                            client_msg_id: Some(format!("{}-{n}", s.index)),
                            body: Some(format!("{}-{n}", s.index)),
                            ciphertext: None,
                            attachments: Vec::new(),
                        };
                        if ws.send(Message::Text(command_frame(Some(json!(n)), &send).into())).await.is_err() {
                            continue 'connection;
                        }
                    }
                    if !sender_done && next_n >= s.count && pending.is_empty() {
                        sender_done = true;
                        SENDERS_LEFT.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                m = ws.next() => {
                    match m {
                        Some(Ok(Message::Text(t))) => match ServerFrame::parse(&t) {
                            Ok(ServerFrame::Message(v)) => {
                                if v["roomId"].as_str() != Some(&room.to_string()) {
                                    continue;
                                }
                                let Some(seq) = v["seq"].as_i64() else { continue };
                                if seq <= last {
                                    rep.repeats += 1;
                                } else {
                                    rep.gaps += (seq - last - 1) as u64;
                                    last = seq;
                                    last_seen.store(last, Ordering::Relaxed);
                                }
                            }
                            Ok(ServerFrame::Ack { id: Some(id), data }) => {
                                if id == json!("sub") {
                                    subscribed = true;
                                    if let Some(d) = down_since.take() {
                                        rep.longest_down_ms = rep.longest_down_ms.max(d.elapsed().as_secs_f64() * 1000.0);
                                    }
                                    continue;
                                }
                                let (Some(n), Some(seq)) = (id.as_u64(), data["seq"].as_i64()) else { continue };
                                if pending.remove(&n).is_some() {
                                    let cmid = data["clientMsgId"].as_str().unwrap_or("").to_owned();
                                    rep.acked.push((seq, cmid));
                                    shared.room_acked[room_idx].fetch_max(seq, Ordering::Relaxed);
                                }
                            }
                            Ok(ServerFrame::Error { id, code, .. }) => {
                                *rep.errors.entry(code).or_default() += 1;
                                match id {
                                    Some(i) if i == json!("sub") => {
                                        resubscribe_at = Some(Instant::now() + Duration::from_millis(500));
                                    }
                                    Some(i) => {
                                        if let Some(t) = i.as_u64().and_then(|n| pending.get_mut(&n)) {
                                            *t = Instant::now() + Duration::from_millis(500);
                                        }
                                    }
                                    None => {}
                                }
                            }
                            _ => {}
                        },
                        Some(Ok(Message::Close(frame))) => {
                            let code = frame.map(|f| u16::from(f.code).to_string()).unwrap_or_else(|| "none".into());
                            *rep.closes.entry(format!("closed {code}")).or_default() += 1;
                            break;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => {
                            *rep.closes.entry("dropped (no close frame)".into()).or_default() += 1;
                            break;
                        }
                    }
                }
            }
        }
        // Dropped: whatever was in flight may or may not have been stored;
        // send it again (same clientMsgId) once reconnected.
        down_since = Some(Instant::now());
        for t in pending.values_mut() {
            *t = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rep.unacked = pending.len() as u64 + sending.as_ref().map_or(0, |s| s.count.saturating_sub(next_n));
    if !sender_done {
        SENDERS_LEFT.fetch_sub(1, Ordering::Relaxed);
    }
    rep
}

fn subscribe_after(room: RoomId, last: i64) -> Command {
    Command::Subscribe {
        room_id: room,
        after_seq: Some(last),
    }
}

/// The probes' outcomes: every answer's status and code (or why there was
/// none) and how long it took.
struct Probes {
    /// (seconds since the start, outcome, ms)
    samples: Vec<(f64, String, f64)>,
}

impl Probes {
    fn summary(&self) -> Value {
        let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
        let mut max = 0f64;
        let mut slowest_refusal = 0f64;
        let mut refusal_ms = Vec::new();
        // Windows of consecutive failures: (start s, end s, outcomes).
        let mut windows: Vec<(f64, f64)> = Vec::new();
        let mut open: Option<(f64, f64)> = None;
        for (t, outcome, ms) in &self.samples {
            *outcomes.entry(outcome.as_str()).or_default() += 1;
            max = max.max(*ms);
            if outcome.as_str() == "200" {
                if let Some(w) = open.take() {
                    windows.push(w);
                }
            } else {
                if outcome != "connection refused" {
                    slowest_refusal = slowest_refusal.max(*ms);
                    refusal_ms.push(*ms);
                }
                let end = t + ms / 1000.0;
                open = Some(match open {
                    Some((s, _)) => (s, end),
                    None => (*t, end),
                });
            }
        }
        windows.extend(open);
        let refusals = report::percentiles(&mut refusal_ms);
        let mut slowest: Vec<&(f64, String, f64)> = self.samples.iter().collect();
        slowest.sort_by(|a, b| b.2.total_cmp(&a.2));
        let slowest: Vec<String> = slowest
            .iter()
            .take(5)
            .map(|(t, o, ms)| format!("at {t:.1} s: {o} in {ms:.0} ms"))
            .collect();
        json!({
            "count": self.samples.len(),
            "outcomes": outcomes,
            "maxMs": max,
            "slowestRefusalMs": slowest_refusal,
            "refusalMs": refusals,
            "slowest": slowest,
            "windows": windows.iter().map(|(s, e)| format!("{s:.1}-{e:.1} s ({:.1} s)", e - s)).collect::<Vec<_>>(),
        })
    }
}

async fn prober(shared: Arc<Shared>, http: reqwest::Client, token: String, room: RoomId, every: Duration) -> Probes {
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !shared.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let t = start.elapsed().as_secs_f64();
        let s = Instant::now();
        let req = http
            .get(format!("{}/api/rooms/{room}/messages?limit=1", shared.base))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(30))
            .send();
        let outcome = match req.await {
            Ok(res) => {
                let status = res.status().as_u16();
                if status == 200 {
                    let _ = res.bytes().await;
                    "200".to_owned()
                } else {
                    let v: Value = res.json().await.unwrap_or_default();
                    format!("{status} {}", v["error"].as_str().unwrap_or("?"))
                }
            }
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(e) if e.is_connect() => "connection refused".to_owned(),
            Err(_) => "connection error".to_owned(),
        };
        samples.push((t, outcome, s.elapsed().as_secs_f64() * 1000.0));
    }
    Probes { samples }
}

/// A room's whole history, oldest first: (seq, clientMsgId).
async fn read_history(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    room: RoomId,
) -> anyhow::Result<Vec<(i64, Option<String>)>> {
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let v: Value = http
            .get(format!("{base}/api/rooms/{room}/messages?after={after}&limit=500"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let items = v["items"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("history of {room}: {v}"))?;
        if items.is_empty() {
            return Ok(out);
        }
        for m in items {
            let seq = m["seq"].as_i64().ok_or_else(|| anyhow::anyhow!("no seq in {m}"))?;
            out.push((seq, m["clientMsgId"].as_str().map(str::to_owned)));
            after = after.max(seq);
        }
    }
}
