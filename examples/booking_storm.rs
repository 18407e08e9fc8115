//! Booking storm: N mentees race for K seats on one slot while every one of
//! them also watches the mentor's calendar over a WebSocket. Verifies exactly
//! K confirmed and a gapless waitlist; reports booking latency percentiles
//! and how long `slot_updated` takes to reach the watchers (from the
//! change's `updatedAt` to receipt).
//!
//!   cargo run --release --example booking_storm -- URL MENTEES SEATS
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

async fn register(http: &reqwest::Client, base: &str, role: &str, i: usize, run: &str) -> String {
    let res: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": format!("storm-{run}-{role}-{i}@example.org"), "password": "correct horse battery",
                      "displayName": format!("{role} {i}"), "role": role}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["accessToken"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned()
}

fn pct(v: &[f64], p: f64) -> f64 {
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seats: i64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let run = format!("{:x}", Utc::now().timestamp_millis());
    let http = reqwest::Client::builder().pool_max_idle_per_host(n).build().unwrap();

    let mentor = register(&http, &base, "mentor", 0, &run).await;
    let me: Value = http.get(format!("{base}/api/me")).bearer_auth(&mentor).send().await.unwrap().json().await.unwrap();
    let mentor_id = me["id"].as_str().unwrap().to_owned();
    let starts = Utc::now() + chrono::Duration::days(1);
    let slot: Value = http
        .post(format!("{base}/api/slots"))
        .bearer_auth(&mentor)
        .json(&json!({"startsAt": starts, "endsAt": starts + chrono::Duration::hours(1), "maxParticipants": seats}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot_id = slot["id"].as_str().unwrap().to_owned();

    let t = Instant::now();
    let mut tokens = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let batch = futures_util::future::join_all(chunk.iter().map(|i| register(&http, &base, "mentee", *i, &run))).await;
        tokens.extend(batch);
    }
    eprintln!("{n} mentees registered in {:.1} s", t.elapsed().as_secs_f64());

    // Every mentee watches the mentor's calendar.
    let mut watchers = Vec::with_capacity(n);
    for tok in &tokens {
        let mut req = format!("{}/ws", base.replace("http", "ws")).into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {tok}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await.unwrap();
        ws.send(Message::Text(json!({"id": "w", "type": "watch_calendar", "mentorId": mentor_id}).to_string().into())).await.unwrap();
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["id"] == "w" {
                    break;
                }
            }
        }
        watchers.push(ws);
    }
    eprintln!("{n} watchers connected");
    let listeners: Vec<_> = watchers
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut last_remaining = None;
                while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
                    if let Message::Text(t) = m {
                        let v: Value = serde_json::from_str(&t).unwrap_or_default();
                        if v["type"] == "slot_updated" {
                            let at: DateTime<Utc> = v["slot"]["updatedAt"].as_str().unwrap().parse().unwrap();
                            lat.push((Utc::now() - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                            last_remaining = v["slot"]["remainingSeats"].as_i64();
                        }
                    }
                }
                (lat, last_remaining)
            })
        })
        .collect();

    // The storm: every mentee books at once.
    let t0 = Instant::now();
    let results = futures_util::future::join_all(tokens.iter().map(|tok| {
        let (http, base, slot_id) = (http.clone(), base.clone(), slot_id.clone());
        async move {
            let s = Instant::now();
            let res = http.post(format!("{base}/api/slots/book")).bearer_auth(tok).json(&json!({"slotId": slot_id})).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or_default();
            (s.elapsed().as_secs_f64() * 1000.0, status, body)
        }
    }))
    .await;
    let wall = t0.elapsed();
    let mut lat: Vec<f64> = results.iter().map(|r| r.0).collect();
    lat.sort_by(f64::total_cmp);
    let confirmed = results.iter().filter(|r| r.2["booking"]["status"] == "confirmed").count() as i64;
    let mut positions: Vec<i64> = results.iter().filter_map(|r| r.2["booking"]["waitlistPosition"].as_i64()).collect();
    positions.sort_unstable();
    let errors = results.iter().filter(|r| r.1 != 201).count();
    let gapless = positions == (1..=(n as i64 - seats)).collect::<Vec<_>>();

    let mut deliveries = Vec::new();
    let mut final_ok = 0;
    for l in listeners {
        let (lat, last) = l.await.unwrap();
        if last == Some(0) {
            final_ok += 1;
        }
        deliveries.extend(lat);
    }
    deliveries.sort_by(f64::total_cmp);

    println!("booking attempts:     {n} at once for {seats} seats, done in {:.0} ms", wall.as_secs_f64() * 1000.0);
    println!("confirmed:            {confirmed} (must be {seats}); waitlisted {}; errors {errors}; waitlist gapless: {gapless}", positions.len());
    println!("booking latency:      p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms", pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0));
    println!("slot_updated:         {} deliveries to {n} watchers; {final_ok} saw the final 0 seats", deliveries.len());
    println!("  updatedAt→receipt:  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms", pct(&deliveries, 0.5), pct(&deliveries, 0.99), pct(&deliveries, 1.0));
    if confirmed != seats || !gapless || errors > 0 || final_ok != n {
        std::process::exit(1);
    }
}
