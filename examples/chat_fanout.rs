#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Chat fan-out benchmark: one group room with N members on a running Lyceum,
//! S senders sending at a fixed total rate for T seconds. Every member is a
//! real WebSocket client; each message carries its send time, so every
//! delivery gives a send-to-delivery latency. Reports deliveries per second,
//! latency percentiles and messages lost (which must be 0).
//!
//!   cargo run --release --example chat_fanout -- URL MEMBERS SENDERS RATE SECS
//!
//! The server needs limits that allow it (see scripts/bench-chat.sh).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn register(http: &reqwest::Client, base: &str, role: &str, i: usize, run: &str) -> (String, String) {
    let email = format!("bench-{run}-{role}-{i}@example.org");
    let res: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": email, "password": "correct horse battery", "displayName": format!("{role} {i}"), "role": role}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let token = res["accessToken"].as_str().unwrap_or_else(|| panic!("register failed: {res}")).to_owned();
    (token, res["user"]["id"].as_str().unwrap_or_default().to_owned())
}

async fn connect(base: &str, token: &str) -> Ws {
    let mut req = format!("{}/ws", base.replace("http", "ws")).into_client_request().expect("url");
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
    tokio_tungstenite::connect_async_with_config(req, None, true).await.expect("ws connect").0
}

async fn next_json(ws: &mut Ws) -> Option<Value> {
    while let Some(m) = ws.next().await {
        if let Ok(Message::Text(t)) = m {
            return serde_json::from_str(&t).ok();
        }
    }
    None
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let members: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let senders: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let rate: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
    let secs: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(20).min(600);
    assert!(senders >= 1 && senders <= members, "1 <= senders <= members");
    let run = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0));
    let http = reqwest::Client::new();

    let (owner, _) = register(&http, &base, "mentor", 0, &run).await;
    let room: Value = http
        .post(format!("{base}/api/rooms"))
        .bearer_auth(&owner)
        .json(&json!({"name": "bench", "visibility": "public"}))
        .send()
        .await
        .expect("create room")
        .json()
        .await
        .expect("json");
    let room = room["id"].as_str().expect("room id").to_owned();
    let mut tokens = Vec::new();
    for i in 0..members {
        let (t, _) = register(&http, &base, "mentee", i, &run).await;
        http.post(format!("{base}/api/rooms/{room}/join")).bearer_auth(&t).send().await.expect("join");
        tokens.push(t);
    }
    eprintln!("{members} members registered and joined; connecting");
    let t0 = Instant::now();
    let mut sockets = Vec::new();
    for t in &tokens {
        let mut ws = connect(&base, t).await;
        ws.send(Message::Text(json!({"id": "s", "type": "subscribe", "roomId": room}).to_string().into())).await.expect("send");
        loop {
            let v = next_json(&mut ws).await.expect("open");
            if v["id"] == "s" {
                assert_eq!(v["type"], "ack", "{v}");
                break;
            }
        }
        sockets.push(ws);
    }
    eprintln!("connected and subscribed in {:.2} s", t0.elapsed().as_secs_f64());

    let epoch = Instant::now();
    let total = rate * secs;
    let stop_at = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Receivers: every member records the latency of every message.
    let mut receivers = Vec::new();
    let mut sender_sockets = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let (sink, mut stream) = ws.split();
        if i < senders {
            sender_sockets.push(sink);
        }
        let done = stop_at.clone();
        receivers.push(tokio::spawn(async move {
            let mut lat_us: Vec<u32> = Vec::new();
            loop {
                let next = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
                match next {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let v: Value = match serde_json::from_str(&t) { Ok(v) => v, Err(_) => continue };
                        if v["type"] == "message" {
                            if let Some(sent) = v["body"].as_str().and_then(|b| b.split(':').nth(1)).and_then(|s| s.parse::<u64>().ok()) {
                                let now = epoch.elapsed().as_micros() as u64;
                                lat_us.push(now.saturating_sub(sent) as u32);
                            }
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(_) => break,
                    Err(_) => {
                        if done.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                    }
                }
            }
            lat_us
        }));
    }
    // Senders: share the rate, each on its own ticker.
    let per_sender_interval = Duration::from_nanos(1_000_000_000 * senders as u64 / rate.max(1));
    let per_sender = total / senders as u64;
    let mut sends = Vec::new();
    for (s, mut sink) in sender_sockets.into_iter().enumerate() {
        let room = room.clone();
        sends.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(per_sender_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for n in 0..per_sender {
                tick.tick().await;
                let body = format!("{s}-{n}:{}", epoch.elapsed().as_micros());
                let frame = json!({"type": "send", "roomId": room, "body": body, "clientMsgId": format!("{s}-{n}")});
                if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                    return n;
                }
            }
            per_sender
        }));
    }
    let mut sent = 0;
    for s in sends {
        sent += s.await.unwrap_or(0);
    }
    let send_time = epoch.elapsed();
    // Let the last deliveries arrive, then stop the receivers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_at.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all: Vec<u32> = Vec::new();
    for r in receivers {
        all.extend(r.await.unwrap_or_default());
    }
    all.sort_unstable();
    let expected = sent * members as u64;
    let got = all.len() as u64;
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1000.0;
    println!("room members:        {members}");
    println!("messages sent:       {sent} by {senders} senders in {:.1} s ({:.0}/s)", send_time.as_secs_f64(), sent as f64 / send_time.as_secs_f64());
    println!("deliveries:          {got} of {expected} ({:.0}/s)", got as f64 / send_time.as_secs_f64());
    println!("lost:                {}", expected.saturating_sub(got));
    println!("send-to-delivery:    p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms", pct(0.50), pct(0.95), pct(0.99), pct(1.0));
    if got < expected {
        std::process::exit(1);
    }
}
