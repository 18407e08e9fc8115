//! The `booking` scenario: N mentees race for K seats on one slot while W
//! of them watch the mentor's calendar. Checks exactly K confirmed and a
//! gapless waitlist; reports request latency and `slot_updated` delivery
//! latency (from the change's `updatedAt` to receipt).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lyceum_protocol::frames::{Command, Event, ServerFrame};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::client;
use crate::report::{self, Samples};

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct BookingArgs {
    /// Mentees racing for the seats.
    #[arg(long, default_value_t = 200)]
    pub mentees: usize,
    /// Seats on the slot.
    #[arg(long, default_value_t = 10)]
    pub seats: i64,
    /// How many of the mentees also watch the calendar over a WebSocket.
    #[arg(long, default_value_t = 200)]
    pub watchers: usize,
}

impl Default for BookingArgs {
    fn default() -> Self {
        BookingArgs {
            mentees: 200,
            seats: 10,
            watchers: 200,
        }
    }
}

impl BookingArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=20_000).contains(&self.mentees), "mentees: 1 to 20000");
        anyhow::ensure!((1..=10_000).contains(&self.seats), "seats: 1 to 10000");
        anyhow::ensure!(self.watchers <= self.mentees, "watchers: at most mentees");
        Ok(())
    }
}

pub type BookingReport = report::Outcome;

pub async fn run(base: &str, a: &BookingArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<BookingReport> {
    let run = format!("{:x}", Utc::now().timestamp_millis());
    let http = reqwest::Client::builder().pool_max_idle_per_host(a.mentees).build()?;
    progress.set_message("signing up");
    let (mentor, mentor_id) = client::register(&http, base, "mentor", &format!("host-{run}"), &run).await?;
    let starts = Utc::now() + chrono::Duration::days(1);
    let slot: Value = http
        .post(format!("{base}/api/slots"))
        .bearer_auth(&mentor)
        .json(&json!({"startsAt": starts, "endsAt": starts + chrono::Duration::hours(1), "maxParticipants": a.seats}))
        .send()
        .await?
        .json()
        .await?;
    let slot_id = slot["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("create slot: {slot}"))?
        .to_owned();
    let mut tokens = Vec::new();
    for chunk in (0..a.mentees).collect::<Vec<_>>().chunks(32) {
        for r in futures_util::future::join_all(chunk.iter().map(|i| {
            let (http, run, name) = (&http, &run, format!("b{i}"));
            async move { client::register(http, base, "mentee", &name, run).await }
        }))
        .await
        {
            tokens.push(r?.0);
        }
        progress.set_message(format!("signed up {}/{}", tokens.len(), a.mentees));
    }
    let mut watchers = Vec::new();
    for t in tokens.iter().take(a.watchers) {
        let mut ws = client::connect(base, t).await?;
        client::command(&mut ws, &Command::WatchCalendar { mentor_id }).await?;
        watchers.push(ws);
        progress.set_message(format!("watchers {}/{}", watchers.len(), a.watchers));
    }
    let epoch = Instant::now();
    let listeners: Vec<_> = watchers
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut samples = Samples::default();
                let mut last = None;
                while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
                    if let Message::Text(t) = m {
                        if let Ok(ServerFrame::Event(Event::SlotUpdated { slot, .. })) = ServerFrame::parse(&t) {
                            if let Some(at) = slot["updatedAt"].as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
                                let ms = (Utc::now() - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                                samples.push(epoch.elapsed().as_secs(), ms);
                            }
                            last = slot["remainingSeats"].as_i64();
                        }
                    }
                }
                (samples, last)
            })
        })
        .collect();

    progress.set_message("booking");
    let results = futures_util::future::join_all(tokens.iter().map(|tok| {
        let (http, slot_id) = (http.clone(), slot_id.clone());
        async move {
            let s = Instant::now();
            let res = http
                .post(format!("{base}/api/slots/book"))
                .bearer_auth(tok)
                .json(&json!({"slotId": slot_id}))
                .send()
                .await;
            let ms = s.elapsed().as_secs_f64() * 1000.0;
            match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    (ms, status, r.json::<Value>().await.unwrap_or_default())
                }
                Err(_) => (ms, 0, Value::Null),
            }
        }
    }))
    .await;
    let storm_ms = epoch.elapsed().as_secs_f64() * 1000.0;
    let mut lat: Vec<f64> = results.iter().map(|r| r.0).collect();
    let lat = report::percentiles(&mut lat);
    let confirmed = results
        .iter()
        .filter(|r| r.2["booking"]["status"] == "confirmed")
        .count() as i64;
    let mut positions: Vec<i64> = results
        .iter()
        .filter_map(|r| r.2["booking"]["waitlistPosition"].as_i64())
        .collect();
    positions.sort_unstable();
    let expected_wait = (a.mentees as i64 - a.seats).max(0);
    let gapless = positions == (1..=expected_wait).collect::<Vec<_>>();
    let errors = results.iter().filter(|r| r.1 != 201).count();
    progress.set_message("collecting events");
    let mut events = Samples::default();
    let mut final_seen = 0;
    let final_expected = (a.seats - a.mentees as i64).max(0);
    for l in listeners {
        let (s, last) = l.await?;
        if last == Some(final_expected) {
            final_seen += 1;
        }
        events.extend(s);
    }
    let ev = events.summary();
    let ok = confirmed == a.seats.min(a.mentees as i64) && gapless && errors == 0 && final_seen == a.watchers;
    let json = json!({
        "scenario": "booking",
        "attempts": a.mentees, "seats": a.seats, "confirmed": confirmed, "waitlisted": positions.len(),
        "waitlistGapless": gapless, "errors": errors, "stormMs": storm_ms,
        "bookingLatencyMs": lat,
        "slotUpdated": {"watchers": a.watchers, "sawFinalState": final_seen, "latencyMs": ev},
        "ok": ok,
    });
    let table = report::table(
        "booking",
        &[
            (
                "attempts".into(),
                format!("{} at once for {} seats, storm {:.0} ms", a.mentees, a.seats, storm_ms),
            ),
            (
                "confirmed".into(),
                format!(
                    "{confirmed} (must be {}); waitlisted {}; gapless {gapless}; errors {errors}",
                    a.seats.min(a.mentees as i64),
                    positions.len()
                ),
            ),
            (
                "booking latency".into(),
                format!(
                    "p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                    lat.p50, lat.p95, lat.p99, lat.max
                ),
            ),
            (
                "slot_updated".into(),
                format!(
                    "{} deliveries to {} watchers, {final_seen} saw the final state",
                    ev.count, a.watchers
                ),
            ),
            (
                "  updatedAt→receipt".into(),
                format!("p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms", ev.p50, ev.p99, ev.max),
            ),
        ],
    );
    Ok(BookingReport {
        json,
        table,
        timeline: events.timeline(),
        ok,
    })
}
